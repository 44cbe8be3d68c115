// `me { email id firstName lastName __typename }`, the question every client asks first, answered in one
// statement whose result is the answer's JSON: no execution. Same row and rules as OrganisationResolver.me
// (a user's own row, through an active membership of the token's organisation); a caller that is not a
// user, or no row, is executed as usual, which words the refusal. `createdAt` (a timestamp, printed with
// milliseconds and `Z` by its scalar) and `organisations` are executed as usual too.
import type { DocumentNode, OperationDefinitionNode } from 'graphql';
import type { Identity } from '../../../lib/auth/identity.ts';
import { jsonObjectSql, leafColumns, plainFields } from '../../../lib/graphql/direct-selection.ts';
import type { DirectAnswer, DirectPlanner } from '../../../lib/graphql/lean-executor.ts';
import { ME_SQL } from './organisation.resolver.ts';

const USER: Readonly<Record<string, string>> = {
  __typename: `'User'`,
  id: 'u.id',
  email: 'u.email',
  firstName: 'u."firstName"',
  lastName: 'u."lastName"',
};

/** `Query.me` for users (its declared requirement, `user`). */
export const meDirect: DirectPlanner = (
  document: DocumentNode,
  operation: OperationDefinitionNode,
): DirectAnswer | undefined => {
  if (document.definitions.length !== 1 || operation.operation !== 'query') return undefined;
  if (operation.variableDefinitions?.length) return undefined;
  const roots = plainFields(operation.selectionSet);
  if (roots?.length !== 1 || roots[0]!.name !== 'me' || roots[0]!.arguments.length) return undefined;
  const me = roots[0]!;
  const columns = leafColumns(plainFields(me.selectionSet), USER);
  if (!columns?.length) return undefined;
  const sql = `SELECT ${jsonObjectSql(columns)}::text AS me FROM (${ME_SQL}) u`;
  const key = JSON.stringify(me.key);
  return async (_variables, context) => {
    const identity = context.identity as Identity | undefined;
    if (identity?.kind !== 'user') return undefined;
    const [row] = await context.sql<{ me: string }>(sql, [identity.organisationId, identity.userId]);
    // no active membership: execution words the error
    if (!row) return undefined;
    return `{${key}:${row.me}}`;
  };
};
