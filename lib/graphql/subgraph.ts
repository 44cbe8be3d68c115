// Starts one subgraph: its ORM, its federated schema, Apollo Server and the shared HTTP shell.
import type { Server } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { NonEmptyArray } from 'type-graphql';
import { type Authenticator, authenticateForGraphQL, createAuthenticator } from '../auth/authenticate.ts';
import { loadOrCreateKeys } from '../auth/keys.ts';
import { createTokenService, type TokenService } from '../auth/tokens.ts';
import type { Bus } from '../bus/index.ts';
import type { Config, SubgraphName } from '../config.ts';
import { createOrm } from '../db/orm.ts';
import { serviceDatabaseUrl } from '../db/roles.ts';
import { formatError } from '../errors.ts';
import { createServiceServer, listen, type Route } from '../http/service-server.ts';
import { createLogger, type Logger } from '../telemetry/logger.ts';
import { createMetrics, operationMetricsPlugin, requestIdPlugin } from '../telemetry/metrics.ts';
import { createQueryCounts } from '../telemetry/query-count.ts';
import { RequestContext, transactionSucceeded } from './context.ts';
import { buildFederatedSchema, type ReferenceResolvers } from './federation.ts';
import { createLeanExecutor, type DirectPlanner } from './lean-executor.ts';

export interface SubgraphDefinition<Deps> {
  name: SubgraphName;
  entities: Function[];
  tenantEntities: string[];
  resolvers: NonEmptyArray<Function>;
  orphanedTypes?: Function[];
  references?: ReferenceResolvers;
  overrides?: Record<string, Record<string, (root: any, args: any, context: any) => unknown>>;
  /** Queries answered in one statement by the short path (lean-executor.ts), when their shape allows. */
  direct?: DirectPlanner[];
  /** HTTP routes served beside /graphql (they authenticate the caller themselves). */
  routes?: (runtime: SubgraphRuntime<Deps>) => Route[];
  /** Builds what this subgraph's resolvers need beyond the ORM (token signer, limits...). */
  deps?: (runtime: {
    config: Readonly<Config>;
    orm: MikroORM;
    tokens: TokenService;
    log: Logger;
    /** The process's bus, for subgraphs that publish work (absent when the caller gave none). */
    bus: Bus | undefined;
  }) => Deps | Promise<Deps>;
}

export interface SubgraphRuntime<Deps> {
  config: Readonly<Config>;
  orm: MikroORM;
  deps: Deps;
  log: Logger;
  authenticator: Authenticator;
  bus: Bus | undefined;
}

export interface RunningSubgraph {
  name: SubgraphName;
  port: number;
  url: string;
  server: Server;
  orm: MikroORM;
  stop(): Promise<void>;
}

export async function buildSubgraphSchemaOnly(definition: SubgraphDefinition<unknown>) {
  return buildFederatedSchema({
    resolvers: definition.resolvers,
    orphanedTypes: definition.orphanedTypes,
    references: definition.references,
    overrides: definition.overrides,
  });
}

/** One transaction per request, ended by transactionSucceeded's rule. */
function transactionPlugin(): ApolloServerPlugin<RequestContext<any>> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          await contextValue.finish(transactionSucceeded(errors));
        },
      };
    },
  };
}

export async function startSubgraph<Deps>(
  definition: SubgraphDefinition<Deps>,
  config: Readonly<Config>,
  options: { port?: number; host?: string; bus?: Bus } = {},
): Promise<RunningSubgraph> {
  const log = createLogger(definition.name, config.logLevel);
  const metrics = createMetrics(definition.name);
  if (!config.databaseUrl) throw new Error('databaseUrl must be resolved before starting a subgraph');
  const orm = await createOrm({
    databaseUrl: serviceDatabaseUrl(
      config.databaseUrl,
      definition.name,
      config.databasePasswords[definition.name],
    ),
    schema: definition.name,
    entities: definition.entities,
    tenantEntities: definition.tenantEntities,
  });
  orm.em
    .getConnection()
    .getKnex()
    .on('query', () => metrics.dbQueries.inc());
  const keys = await loadOrCreateKeys({
    privateKey: config.jwtPrivateKey,
    publicKey: config.jwtPublicKey,
    dataDir: config.dataDir,
  });
  // Only IAM signs tokens; the others only need the public key.
  const tokens = await createTokenService({
    privateKey: definition.name === 'iam' ? keys.privateKey : undefined,
    publicKey: keys.publicKey,
    ttlSeconds: config.auth.accessTokenSeconds,
  });
  const authenticator: Authenticator = createAuthenticator(
    tokens,
    (sql, params) => orm.em.getConnection().execute(sql, params as any[], 'all'),
    { cacheSeconds: config.auth.cacheSeconds },
  );
  // per-request counts are readable by request id outside production (tests, finding N+1 queries)
  const queryCounts = createQueryCounts(metrics, { exposed: config.env !== 'production' });
  const deps = (await definition.deps?.({ config, orm, tokens, log, bus: options.bus })) as Deps;
  const schema = await buildSubgraphSchemaOnly(definition as SubgraphDefinition<unknown>);
  const formatErrorForClient = formatError((error) => log.error({ err: error }, 'unexpected error'), {
    production: config.env === 'production',
  });
  const apollo = new ApolloServer<RequestContext<Deps>>({
    schema,
    formatError: formatErrorForClient,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: config.env === 'production',
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      // no cache hints are set anywhere: without this, every field of every response pays for a hook
      ApolloServerPluginCacheControlDisabled(),
      transactionPlugin(),
      operationMetricsPlugin(metrics),
      requestIdPlugin(),
    ],
  });
  await apollo.start();
  const server = createServiceServer<RequestContext<Deps>>({
    apollo,
    lean: createLeanExecutor({
      schema,
      formatError: formatErrorForClient,
      metrics,
      direct: definition.direct,
    }),
    log,
    metrics,
    bodyLimitBytes: config.limits.webhookBodyBytes,
    metricsAccess: config.metrics,
    routes: [
      ...(definition.routes?.({ config, orm, deps, log, authenticator, bus: options.bus }) ?? []),
      queryCounts.route(),
    ],
    context: async (req, requestId) => {
      const identity = await authenticateForGraphQL(authenticator, req.headers);
      return new RequestContext(orm, deps, requestId, identity, log, queryCounts);
    },
    health: async () => {
      try {
        await orm.em.getConnection().execute('SELECT 1');
        return { ok: true, checks: { database: 'ok' } };
      } catch {
        return { ok: false, checks: { database: 'unreachable' } };
      }
    },
  });
  const port = await listen(
    server,
    options.port ?? config.subgraphPorts[definition.name],
    options.host ?? '127.0.0.1',
  );
  log.info({ port }, `${definition.name} subgraph listening`);
  return {
    name: definition.name,
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    server,
    orm,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await apollo.stop();
      await orm.close();
    },
  };
}
