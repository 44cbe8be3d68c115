// The subgraphs' short path for the queries they answer all day: a POSTed query whose document was already
// parsed and validated is executed straight with graphql-js, skipping Apollo Server's per-request pipeline
// (content negotiation, hashing the query for its document store, plugin dispatch). Everything Apollo
// would answer differently goes to Apollo: documents that do not parse or validate, introspection,
// mutations and subscriptions, variables that do not coerce (found before any resolver runs), persisted
// queries, other media types, and a context that fails (bad credentials). What the subgraph's plugins do
// is done here too, through the same functions: the request's transaction ends by the same rule, errors
// are formatted and carry the request id, the operation is counted.
// A subgraph may also declare direct answers: query shapes it answers with one statement whose result is the
// JSON of `data`, built by PostgreSQL, with no execution at all (each planner proves its shape equal).
import type { HTTPGraphQLResponse } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import {
  type DocumentNode,
  execute,
  type GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
  parse,
  validate,
} from 'graphql';
import { type Metrics, recordOperation, withRequestIds } from '../telemetry/metrics.ts';
import { type RequestContext, transactionSucceeded } from './context.ts';

/**
 * A query whose whole `data` one statement can build: given the request's variables and context, the JSON
 * text of `data`, or undefined when this request must be executed as usual (unusual variables, a caller
 * the field's rule refuses): execution then gives the same answer, or words the refusal.
 */
export type DirectAnswer = (
  variables: Record<string, unknown> | undefined,
  context: RequestContext<any>,
) => Promise<string | undefined>;

/**
 * Recognises, once per validated document, a query a subgraph answers straight from PostgreSQL; undefined
 * for any other. Only what the planner can prove equal to execution's answer belongs here.
 */
export type DirectPlanner = (
  document: DocumentNode,
  operation: OperationDefinitionNode,
) => DirectAnswer | undefined;

/** A parsed and validated query, or null for a text Apollo must answer. */
type Prepared = {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  direct: DirectAnswer | undefined;
  /** Variables declared non-null: a request missing one is execution's to refuse. */
  required: string[];
} | null;

export interface LeanExecutorOptions {
  schema: GraphQLSchema;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  metrics: Metrics;
  /** Query texts remembered (the gateway sends a bounded set of shapes); the oldest go first. */
  maxDocuments?: number;
  /** Longer query texts are left to Apollo, which bounds its own cache by size. */
  maxQueryLength?: number;
  /** Queries answered in one statement whose result is the `data` itself (tried in order). */
  direct?: readonly DirectPlanner[];
}

export interface LeanRequest {
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

// introspection is Apollo's to allow or refuse; `__typename` is neither
const INTROSPECTION = /\b__(schema|type)\b/;

/**
 * The media type Apollo's negotiation picks for the `accept` headers gateways send (none, Node's fetch,
 * Apollo Gateway, Hive Gateway); any other header goes to Apollo to negotiate.
 */
export const RESPONSE_CONTENT_TYPES: ReadonlyMap<string | undefined, string> = new Map<
  string | undefined,
  string
>([
  [undefined, 'application/json; charset=utf-8'],
  ['*/*', 'application/json; charset=utf-8'],
  ['application/json', 'application/json; charset=utf-8'],
  [
    'application/graphql-response+json, application/json, multipart/mixed',
    'application/graphql-response+json; charset=utf-8',
  ],
]);

/** A JSON request body with a query text. */
export type PlainBody = Record<string, unknown> & { query: string };

/**
 * A GraphQL POST a fast path may answer: a JSON object body with a query text, a well-formed operation name and
 * variables, and an answer type it knows (a JSON body is never a "simple" request: CSRF prevention lets it
 * through). The query itself and the extensions are for the caller to judge.
 */
export function isPlainJsonPost(
  body: unknown,
  contentType: string | string[] | undefined,
  accept: string | string[] | undefined,
): body is PlainBody {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const fields = body as Record<string, unknown>;
  return (
    typeof fields.query === 'string' &&
    (fields.operationName === undefined ||
      fields.operationName === null ||
      typeof fields.operationName === 'string') &&
    (fields.variables === undefined ||
      fields.variables === null ||
      (typeof fields.variables === 'object' && !Array.isArray(fields.variables))) &&
    typeof contentType === 'string' &&
    contentType.startsWith('application/json') &&
    typeof accept !== 'object' &&
    RESPONSE_CONTENT_TYPES.has(accept)
  );
}

export interface LeanExecutor {
  /** The answer to a request it serves, or undefined to hand the request to Apollo. */
  run(
    request: LeanRequest,
    context: () => Promise<RequestContext<any>>,
  ): Promise<HTTPGraphQLResponse | undefined>;
}

export function createLeanExecutor(options: LeanExecutorOptions): LeanExecutor {
  const { schema, formatError, metrics } = options;
  const maxDocuments = options.maxDocuments ?? 1000;
  const maxQueryLength = options.maxQueryLength ?? 20_000;
  const documents = new Map<string, Prepared>();

  function prepare(query: string, operationName: string | undefined): Prepared {
    const key = operationName === undefined ? query : `${operationName}\n${query}`;
    const known = documents.get(key);
    if (known !== undefined) return known;
    let prepared: Prepared = null;
    try {
      const document = parse(query);
      const operation = getOperationAST(document, operationName);
      if (
        operation?.operation === 'query' &&
        !INTROSPECTION.test(query) &&
        validate(schema, document).length === 0
      ) {
        let direct: DirectAnswer | undefined;
        // planners read variables as sent: defaults and operation directives are execution's to apply
        const plain =
          !operation.directives?.length && !operation.variableDefinitions?.some((v) => v.defaultValue);
        for (const planner of plain ? (options.direct ?? []) : []) {
          direct = planner(document, operation);
          if (direct) break;
        }
        const required = (operation.variableDefinitions ?? [])
          .filter((v) => v.type.kind === Kind.NON_NULL_TYPE)
          .map((v) => v.variable.name.value);
        prepared = { document, operation, direct, required };
      }
    } catch {
      // a syntax error: Apollo words it
    }
    documents.set(key, prepared);
    if (documents.size > maxDocuments) documents.delete(documents.keys().next().value as string);
    return prepared;
  }

  /** Apollo's error normalisation: a code on every error, `extensions.http` lifted onto the response. */
  function formatErrors(errors: readonly GraphQLError[], http: { status?: number }): GraphQLFormattedError[] {
    return errors.map((error) => {
      const extensions: Record<string, unknown> = {
        ...error.extensions,
        code: error.extensions.code ?? 'INTERNAL_SERVER_ERROR',
      };
      const head = extensions.http as { status?: number } | undefined;
      if (head && typeof head === 'object') {
        if (head.status) http.status = head.status;
        delete extensions.http;
      }
      try {
        return formatError({ ...error.toJSON(), extensions }, error);
      } catch {
        return { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
      }
    });
  }

  return {
    async run(request, contextOf) {
      const body = request.body;
      if (
        !isPlainJsonPost(body, request.headers['content-type'], request.headers.accept) ||
        body.query.length > maxQueryLength ||
        // persisted queries are Apollo's; other extensions mean nothing to a subgraph
        (body.extensions !== undefined &&
          body.extensions !== null &&
          (typeof body.extensions !== 'object' || 'persistedQuery' in body.extensions))
      ) {
        return undefined;
      }
      const operationName = (body.operationName as string | null | undefined) ?? undefined;
      const prepared = prepare(body.query, operationName);
      if (!prepared) return undefined;
      let context: RequestContext<any>;
      try {
        context = await contextOf();
      } catch {
        return undefined;
      }
      let ok = false;
      let errors: readonly GraphQLError[] | undefined;
      let data: unknown;
      let dataText: string | undefined;
      try {
        const variables = body.variables as Record<string, unknown> | null | undefined;
        if (prepared.direct && prepared.required.every((name) => variables?.[name] != null)) {
          // a failed statement is left to execution, which words the error as for any other request
          dataText = await prepared.direct(variables ?? undefined, context).catch(() => undefined);
        }
        if (dataText !== undefined) {
          ok = true;
          recordOperation(metrics, prepared.operation.name?.value, 'query', false);
          metrics.graphqlShortPath.inc();
          metrics.graphqlDirectAnswers.inc();
          return {
            status: 200,
            headers: new HeaderMap([
              ['content-type', RESPONSE_CONTENT_TYPES.get(request.headers.accept as string | undefined)!],
            ]),
            body: { kind: 'complete', string: `{"data":${dataText}}\n` },
          };
        }
        const result = await execute({
          schema,
          document: prepared.document,
          contextValue: context,
          variableValues: body.variables as Record<string, unknown> | null | undefined,
          operationName,
        });
        // no data at all: the variables did not coerce and nothing ran; Apollo words that (with a 400)
        if (result.data === undefined) return undefined;
        errors = result.errors;
        data = result.data;
        ok = transactionSucceeded(errors ?? []);
      } finally {
        await context.finish(ok);
      }
      const http: { status?: number } = {};
      const formatted = errors?.length
        ? withRequestIds(formatErrors(errors, http), context.requestId)
        : undefined;
      recordOperation(metrics, prepared.operation.name?.value, 'query', !!formatted);
      metrics.graphqlShortPath.inc();
      return {
        status: http.status ?? 200,
        headers: new HeaderMap([
          ['content-type', RESPONSE_CONTENT_TYPES.get(request.headers.accept as string | undefined)!],
        ]),
        body: { kind: 'complete', string: `${JSON.stringify({ errors: formatted, data })}\n` },
      };
    },
  };
}
