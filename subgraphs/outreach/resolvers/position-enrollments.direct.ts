// The gateway's follow-up fetch of every prospects page, `_entities(representations) { ... on Position {
// enrollments { id status } } }`, answered in one statement whose result is the answer's JSON, built by
// PostgreSQL: no per-representation execution. Same rows, order and limit as Position.enrollments.
import type { DocumentNode, OperationDefinitionNode } from 'graphql';
import { checkRequirement, type Requirement, requireIdentity } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import {
  argumentValue,
  jsonObjectSql,
  leafColumns,
  plainFields,
} from '../../../lib/graphql/direct-selection.ts';
import type { DirectAnswer, DirectPlanner } from '../../../lib/graphql/lean-executor.ts';
import { ENROLLMENTS_TABLE, MAX_POSITION_ENROLLMENTS } from './enrollment.resolver.ts';

// Enrollment fields whose JSON from PostgreSQL is what execution prints (timestamps are not: the DateTime
// scalar prints milliseconds and `Z`).
const ENROLLMENT_COLUMNS: Record<string, string> = {
  __typename: `'Enrollment'`,
  id: 'e.id',
  status: 'e.status',
  currentStepIndex: 'e.current_step_index',
};

// the gateway batches one page's positions; longer lists are executed as usual
const MAX_REPRESENTATIONS = 1000;

/** Position.enrollments over `_entities`, for callers that `access` lets read Position references. */
export function positionEnrollmentsDirect(access: Requirement): DirectPlanner {
  return (document: DocumentNode, operation: OperationDefinitionNode): DirectAnswer | undefined => {
    if (document.definitions.length !== 1 || operation.operation !== 'query') return undefined;
    const roots = plainFields(operation.selectionSet);
    if (roots?.length !== 1 || roots[0]!.name !== '_entities') return undefined;
    const entities = roots[0]!;
    if (entities.arguments.length !== 1 || entities.arguments[0]!.name.value !== 'representations')
      return undefined;
    const positionFields = plainFields(entities.selectionSet, 'Position');
    if (!positionFields?.length) return undefined;
    const item: { key: string; sql: string }[] = [];
    for (const field of positionFields) {
      if (field.name === '__typename' && !field.selectionSet) {
        item.push({ key: field.key, sql: `'Position'` });
        continue;
      }
      // PostgreSQL prints a uuid in lower case, as every id given here is (positionIds)
      if (field.name === 'id' && !field.selectionSet && !field.arguments.length) {
        item.push({ key: field.key, sql: 'r.id' });
        continue;
      }
      if (field.name !== 'enrollments' || field.arguments.length) return undefined;
      const columns = leafColumns(plainFields(field.selectionSet), ENROLLMENT_COLUMNS);
      if (!columns?.length) return undefined;
      item.push({
        key: field.key,
        sql: `coalesce((SELECT json_agg(${jsonObjectSql(columns)} ORDER BY e.created_at, e.id)
          FROM (SELECT * FROM ${ENROLLMENTS_TABLE} e
            WHERE e.organisation_id = $2 AND e.position_id = r.id
            ORDER BY e.created_at, e.id LIMIT ${MAX_POSITION_ENROLLMENTS}) e), '[]'::json)`,
      });
    }
    const sql = `SELECT coalesce(json_agg(${jsonObjectSql(item)} ORDER BY r.ord), '[]'::json)::text AS list
      FROM unnest($1::uuid[]) WITH ORDINALITY AS r(id, ord)`;
    const key = JSON.stringify(entities.key);

    return async (variables, context) => {
      const ids = positionIds(argumentValue(entities.arguments, 'representations', variables)?.value);
      if (!ids) return undefined;
      try {
        checkRequirement(context.identity, access);
      } catch {
        // refused: execution answers each representation with the error
        return undefined;
      }
      const [row] = await context.sql<{ list: string }>(sql, [
        ids,
        requireIdentity(context.identity).organisationId,
      ]);
      return `{${key}:${row!.list}}`;
    };
  };
}

/**
 * The ids of representations that are all `{ __typename: "Position", id: <uuid in lower case> }` (as ids are
 * printed), else undefined.
 */
function positionIds(representations: unknown): string[] | undefined {
  if (!Array.isArray(representations) || representations.length > MAX_REPRESENTATIONS) return undefined;
  const ids: string[] = [];
  for (const r of representations) {
    if (!r || typeof r !== 'object') return undefined;
    const keys = Object.keys(r);
    const { __typename, id } = r as { __typename?: unknown; id?: unknown };
    if (
      keys.length !== 2 ||
      __typename !== 'Position' ||
      typeof id !== 'string' ||
      !isUuid(id) ||
      id !== id.toLowerCase()
    )
      return undefined;
    ids.push(id);
  }
  return ids;
}
