// POST /graphql/ingest-pharow on the CRM subgraph: a lone ingestPharow mutation, as the gateway's fast path
// forwards it (the client's own bytes). The gateway has already checked the variables against the input
// types; coercing 10,000 items again here would copy every value for nothing, so the operation runs
// against a schema where the input is opaque. Credentials and scope are verified here as on /graphql.

import { readFileSync } from 'node:fs';
import {
  buildSchema,
  type DocumentNode,
  execute,
  type GraphQLError,
  Kind,
  parse,
  print,
  validate,
} from 'graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { withTenant } from '../../../lib/db/orm.ts';
import { AppError, ErrorCode, formatError, httpStatusOf } from '../../../lib/errors.ts';
import type { SubgraphRuntime } from '../../../lib/graphql/subgraph.ts';
import { readBody } from '../../../lib/http/body.ts';
import { type Route, sendJson } from '../../../lib/http/service-server.ts';
import type { CrmDeps } from '../deps.ts';
import { ingestPharowItems } from '../services/ingest.service.ts';

export const INGEST_GRAPHQL_PATH = '/graphql/ingest-pharow';
const CRM_SCHEMA = new URL('../../../schema/crm.graphql', import.meta.url);
const RESULT_TYPES = new Set(['IngestResult', 'UpsertCounts', 'IngestRejection']);

/** The mutation's own result types (from the subgraph's SDL), with its input as an opaque scalar. */
function ingestSchema() {
  const results = parse(readFileSync(CRM_SCHEMA, 'utf8')).definitions.filter(
    (d) => d.kind === Kind.OBJECT_TYPE_DEFINITION && RESULT_TYPES.has(d.name.value),
  );
  if (results.length !== RESULT_TYPES.size)
    throw new Error('schema/crm.graphql lacks the ingest result types');
  return buildSchema(`
    type Query { ingestOnly: Boolean }
    type Mutation { ingestPharow(input: PharowIngestInput!): IngestResult! }
    scalar PharowIngestInput
    ${results.map((d) => print(d)).join('\n')}
  `);
}

function graphqlError(error: AppError, requestId: string) {
  return { errors: [{ message: error.message, extensions: { code: error.code, requestId } }] };
}

export function ingestGraphqlRoute(runtime: SubgraphRuntime<CrmDeps>): Route {
  const schema = ingestSchema();
  const format = formatError((error) => runtime.log.error({ err: error }, 'unexpected error'), {
    production: runtime.config.env === 'production',
  });
  return async (req, res, requestId) => {
    if ((req.url ?? '').split('?')[0] !== INGEST_GRAPHQL_PATH) return false;
    if (req.method !== 'POST') {
      const error = new AppError(ErrorCode.MethodNotAllowed, 'Use POST');
      sendJson(res, httpStatusOf(error.code), graphqlError(error, requestId), { allow: 'POST' });
      return true;
    }
    let identity: ReturnType<typeof requireAccess>;
    try {
      identity = requireAccess(await runtime.authenticator.authenticate(req.headers), 'ingest');
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      sendJson(res, httpStatusOf(error.code), graphqlError(error, requestId), { 'x-request-id': requestId });
      return true;
    }
    const raw = await readBody(req, runtime.config.limits.bodyBytes);
    let request: { query?: unknown; variables?: unknown; operationName?: unknown };
    let document: DocumentNode;
    try {
      request = JSON.parse(raw.toString('utf8'));
      if (typeof request?.query !== 'string') throw new Error('no query');
      document = parse(request.query);
    } catch {
      const error = new AppError(ErrorCode.BadUserInput, 'Body must be a GraphQL request');
      sendJson(res, 400, graphqlError(error, requestId), { 'x-request-id': requestId });
      return true;
    }
    const invalid = validate(schema, document);
    if (invalid.length > 0) {
      const error = new AppError(ErrorCode.BadUserInput, invalid[0].message);
      sendJson(res, 400, graphqlError(error, requestId), { 'x-request-id': requestId });
      return true;
    }
    const result = await execute({
      schema,
      document,
      operationName: typeof request.operationName === 'string' ? request.operationName : undefined,
      variableValues: (request.variables ?? {}) as Record<string, unknown>,
      rootValue: {
        ingestPharow: ({ input }: { input: { data?: unknown } | null }) =>
          withTenant(runtime.orm, identity.organisationId, (em) =>
            ingestPharowItems(em, identity.organisationId, input?.data, runtime.deps.ingestMaxItems),
          ),
      },
    });
    const body: Record<string, unknown> = {};
    if (result.errors?.length) {
      body.errors = result.errors.map((e: GraphQLError) => {
        const formatted = format(e.toJSON(), e);
        return { ...formatted, extensions: { ...formatted.extensions, requestId } };
      });
    }
    body.data = result.data ?? null;
    runtime.log.info({ requestId, errors: result.errors?.length ?? 0 }, 'pharow mutation ingested');
    sendJson(res, 200, body, { 'x-request-id': requestId });
    return true;
  };
}
