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
import { readPooledBody } from '../../../lib/http/body-pool.ts';
import { type Route, sendJson } from '../../../lib/http/service-server.ts';
import { BODY_BYTES_HEADER, BodyWithdrawn, readVerdictBody } from '../../../lib/http/verdict-body.ts';
import type { CrmDeps } from '../deps.ts';
import { ingestPharowItems } from '../services/ingest.service.ts';
import { InvalidItemJson, RawItems, splitItemList } from '../services/raw-items.ts';
import { afterIngest } from '../services/statistics.ts';

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
    // from the gateway's fast path: the body, then its verdict once the gateway has checked it
    const { body, release, verdict } =
      req.headers[BODY_BYTES_HEADER] === undefined
        ? { ...(await readPooledBody(req, runtime.config.limits.bodyBytes)), verdict: undefined }
        : await readVerdictBody(req, runtime.config.limits.bodyBytes);
    try {
      return await answer(body, identity, res, requestId, verdict);
    } finally {
      // the items are read from the body's buffer until the ingest has ended
      release();
    }
  };

  async function answer(
    raw: Buffer,
    identity: ReturnType<typeof requireAccess>,
    res: Parameters<Route>[1],
    requestId: string,
    verdict: Promise<void> | undefined,
  ): Promise<boolean> {
    const maxItems = runtime.deps.ingestMaxItems;
    const notRequest = () => {
      const error = new AppError(ErrorCode.BadUserInput, 'Body must be a GraphQL request');
      sendJson(res, 400, graphqlError(error, requestId), { 'x-request-id': requestId });
      return true;
    };
    // the items of a variable's `data` list stay bytes until the ingest needs them (raw-items.ts)
    const split = splitItemList(raw, ['variables', '*', 'data']);
    let request: { query?: unknown; variables?: unknown; operationName?: unknown };
    let document: DocumentNode;
    try {
      request = (split?.envelope ?? JSON.parse(raw.toString('utf8'))) as typeof request;
      if (typeof request?.query !== 'string') throw new Error('no query');
      document = parse(request.query);
    } catch {
      return notRequest();
    }
    // items not parsed yet may not be JSON: such a body is refused as a whole parse would refuse it
    const wholeIsJson = () => {
      if (!split) return true;
      try {
        JSON.parse(raw.toString('utf8'));
        return true;
      } catch {
        return false;
      }
    };
    const invalid = validate(schema, document);
    if (invalid.length > 0) {
      if (!wholeIsJson()) return notRequest();
      const error = new AppError(ErrorCode.BadUserInput, invalid[0].message);
      sendJson(res, 400, graphqlError(error, requestId), { 'x-request-id': requestId });
      return true;
    }
    let variables = (request.variables ?? {}) as Record<string, unknown>;
    if (split) {
      // only a lone mutation that declares the variable is sure to hand every item to the ingest
      const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
      const name = split.path[1];
      const declared =
        operations.length === 1 &&
        operations[0].operation === 'mutation' &&
        operations[0].variableDefinitions?.some((v) => v.variable.name.value === name);
      if (!declared || split.bounds.length / 2 > maxItems) {
        try {
          variables = (JSON.parse(raw.toString('utf8')).variables ?? {}) as Record<string, unknown>;
        } catch {
          return notRequest();
        }
      } else {
        const input = variables[name] as Record<string, unknown>;
        variables = { ...variables, [name]: { ...input, data: RawItems.ofBytes(raw, split.bounds) } };
      }
    }
    let ingested = false;
    const result = await execute({
      schema,
      document,
      operationName: typeof request.operationName === 'string' ? request.operationName : undefined,
      variableValues: variables,
      rootValue: {
        ingestPharow: ({ input }: { input: { data?: unknown } | null }) => {
          ingested = true;
          return withTenant(runtime.orm, identity.organisationId, (em) =>
            ingestPharowItems(em, identity.organisationId, input?.data, maxItems, verdict),
          ).then((result) => {
            afterIngest(runtime.deps, identity.organisationId, result);
            return result;
          });
        },
      },
    });
    if (result.errors?.some((e) => e.originalError instanceof BodyWithdrawn)) {
      // the gateway answers the client another way; this request wrote nothing
      sendJson(res, 409, { withdrawn: true }, { 'x-request-id': requestId });
      return true;
    }
    if (result.errors?.some((e) => e.originalError instanceof InvalidItemJson)) return notRequest();
    // a mutation skipped by a directive read no item: the body must still have been JSON
    if (!ingested && !wholeIsJson()) return notRequest();
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
  }
}
