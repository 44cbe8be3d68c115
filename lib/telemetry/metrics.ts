// Prometheus metrics per process: default Node metrics plus HTTP and GraphQL counters.
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'route' | 'status'>;
  graphqlOperations: Counter<'operation' | 'type' | 'outcome'>;
  graphqlShortPath: Counter<never>;
  /** Of those, the ones answered in one statement whose result was the answer (lean-executor's direct answers) */
  graphqlDirectAnswers: Counter<never>;
  dbQueries: Counter<never>;
  dbQueriesPerRequest: Histogram<never>;
}

export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    graphqlOperations: new Counter({
      name: 'graphql_operations_total',
      help: 'GraphQL operations by name, type and outcome',
      labelNames: ['operation', 'type', 'outcome'],
      registers: [registry],
    }),
    graphqlShortPath: new Counter({
      name: 'graphql_short_path_total',
      help: "GraphQL queries answered by a subgraph's short path, without Apollo Server's pipeline",
      registers: [registry],
    }),
    graphqlDirectAnswers: new Counter({
      name: 'graphql_direct_answers_total',
      help: 'Short-path queries answered in one statement whose result, built by PostgreSQL, is the answer',
      registers: [registry],
    }),
    dbQueries: new Counter({
      name: 'db_queries_total',
      help: 'SQL statements sent to PostgreSQL',
      registers: [registry],
    }),
    dbQueriesPerRequest: new Histogram({
      name: 'db_queries_per_request',
      help: "SQL statements sent on one GraphQL request's transaction",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
  };
}

/** Counts every GraphQL operation by name, type and outcome. */
/** Counts one GraphQL operation by name, type and outcome. */
export function recordOperation(
  metrics: Metrics,
  operationName: string | null | undefined,
  type: string | undefined,
  failed: boolean,
): void {
  metrics.graphqlOperations.inc({
    operation: operationName ?? 'anonymous',
    type: type ?? 'unknown',
    outcome: failed ? 'error' : 'ok',
  });
}

/** The errors with the request id in their extensions, unless a subgraph's id is there already. */
export function withRequestIds(
  errors: readonly GraphQLFormattedError[],
  requestId: string,
): GraphQLFormattedError[] {
  return errors.map((error) => ({
    ...error,
    extensions: { ...error.extensions, requestId: error.extensions?.requestId ?? requestId },
  }));
}

export function operationMetricsPlugin<T extends BaseContext>(metrics: Metrics): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ operationName, operation, response }) {
          const failed = response.body.kind === 'single' && !!response.body.singleResult.errors?.length;
          recordOperation(metrics, operationName, operation?.operation, failed);
        },
      };
    },
  };
}

/**
 * Puts the request id on every error a client sees, so a user can quote it and an operator can find the
 * logs. An id already set by a subgraph is kept: it shows the id travelled there.
 */
export function requestIdPlugin<T extends BaseContext & { requestId: string }>(): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          if (response.body.kind !== 'single' || !response.body.singleResult.errors) return;
          response.body.singleResult.errors = withRequestIds(
            response.body.singleResult.errors,
            contextValue.requestId,
          );
        },
      };
    },
  };
}
