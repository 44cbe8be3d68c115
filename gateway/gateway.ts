// The public entry point: Apollo Gateway over the committed supergraph, with auth, limits, health and metrics,
// served over HTTP and graphql-ws.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer, type ApolloServerPlugin, HeaderMap } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { type DocumentNode, type FragmentDefinitionNode, GraphQLError, Kind } from 'graphql';
import { Redis } from 'ioredis';
import { Counter } from 'prom-client';
import {
  type Authenticator,
  authenticateForGraphQL,
  createAuthenticator,
  type HeaderBag,
} from '../lib/auth/authenticate.ts';
import type { Identity } from '../lib/auth/identity.ts';
import { loadOrCreateKeys } from '../lib/auth/keys.ts';
import { createTokenService } from '../lib/auth/tokens.ts';
import { type Bus, createBus } from '../lib/bus/index.ts';
import {
  ACCOUNT_OPERATIONS,
  type Config,
  ONCE_PER_REQUEST,
  SUBGRAPHS,
  type SubgraphName,
} from '../lib/config.ts';
import { createAppPool, poolRunner } from '../lib/db/pool.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { formatError } from '../lib/errors.ts';
import { createServiceServer, listen, type Route } from '../lib/http/service-server.ts';
import { createLogger, type Logger } from '../lib/telemetry/logger.ts';
import {
  createMetrics,
  type Metrics,
  operationMetricsPlugin,
  recordOperation,
  requestIdPlugin,
} from '../lib/telemetry/metrics.ts';
import { ingestFastPath } from './ingest-fast-path.ts';
import { type KnownPlans, knownPlans, type LimitsCheck } from './known-plans.ts';
import {
  assertCost,
  assertOncePerRequest,
  clientIpResolver,
  costCache,
  depthLimitRule,
  memoryRateLimiter,
  type RateLimiter,
  rateHits,
  rateLimited,
  redisRateLimiter,
  responseTooLarge,
  rootFieldsCache,
} from './limits.ts';
import { type LiveLimits, type LiveServer, serveLive } from './live.ts';
import { LIVE_SUBGRAPH, liveDataSource, livePayloadSupergraph } from './live-schema.ts';
import { SubgraphSource, subgraphAgent } from './subgraph-source.ts';

export interface GatewayContext {
  requestId: string;
  identity: Identity | undefined;
  clientIp: string;
  forward: Record<string, string>;
  /**
   * Set when a short path checked this request's limits before handing it to Apollo. The known-plans path
   * (known-plans.ts) checked them all ('all'), and refused it when `refusal` is set; the ingest fast path
   * counted its rate limits only ('rates'), leaving cost and root fields to be checked here.
   */
  limits?: { counted: 'all' | 'rates'; refusal?: unknown };
  /** Subgraph answers the short path read, for Apollo to read again if the request is handed back. */
  answers?: Map<string, unknown>;
}

export interface GatewayRuntime {
  config: Readonly<Config>;
  log: Logger;
  limiter: RateLimiter;
  authenticate: (req: IncomingMessage) => Promise<Identity | undefined>;
  clientIp: (req: IncomingMessage) => string;
  /** Marks a request handed back to the normal path after its rate limits were counted. */
  ratesCounted: (req: IncomingMessage) => void;
}

export interface RunningGateway {
  port: number;
  url: string;
  server: Server;
  live: LiveServer;
  stop(): Promise<void>;
}

const SUPERGRAPH = new URL('../schema/supergraph.graphql', import.meta.url);
const FORWARDED = ['authorization', 'x-api-key'];

/**
 * Cost (with the variables), root fields counted as they will run, rate limits, and the response-size
 * ceiling. Cost is checked here rather than as a validation rule because validation cannot see variables.
 */
function operationLimits(limiter: RateLimiter, config: Readonly<Config>): LimitsCheck<GatewayContext> {
  const costs = costCache();
  const roots = rootFieldsCache();
  // Apollo hands every request of one query text the same parsed document
  const fragmentsOf = new WeakMap<DocumentNode, Record<string, FragmentDefinitionNode>>();
  return async ({ operation, document, schema, variables, context }) => {
    let fragments = fragmentsOf.get(document);
    if (!fragments) {
      fragments = {};
      for (const def of document.definitions) {
        if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
      }
      fragmentsOf.set(document, fragments);
    }
    const input = { schema, operation, fragments, variables };
    assertCost(input, config.limits.maxCost, { cache: costs, document });
    const fields = roots.fields(input);
    assertOncePerRequest(fields, ONCE_PER_REQUEST);
    const hits = rateHits({
      operation: operation.operation,
      fields,
      organisationId: context.identity?.organisationId,
      clientIp: context.clientIp,
      rules: config.limits.rates,
      accountOperations: ACCOUNT_OPERATIONS,
    });
    for (const { name, key, rule } of context.limits?.counted === 'rates' ? [] : hits) {
      const decision = await limiter.hit(key, rule);
      if (!decision.allowed) {
        const refusal = rateLimited(name, rule, decision.retryAfterSeconds);
        throw new GraphQLError(refusal.message, {
          extensions: {
            code: refusal.code,
            ...refusal.details,
            http: {
              status: 429,
              headers: new HeaderMap([['retry-after', String(decision.retryAfterSeconds)]]),
            },
          },
        });
      }
    }
  };
}

/** A request the short path already checked and counted before handing it back is not counted twice. */
function limitsPlugin(
  limits: LimitsCheck<GatewayContext>,
  config: Readonly<Config>,
): ApolloServerPlugin<GatewayContext> {
  const maxResponseBytes = config.limits.maxResponseBytes;
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, schema, request, contextValue }) {
          if (!operation) return;
          const checked = contextValue.limits;
          if (checked?.refusal !== undefined) throw checked.refusal;
          if (checked?.counted === 'all') return;
          await limits({ operation, document, schema, variables: request.variables, context: contextValue });
        },
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          // a subgraph answer was cut off: nothing of the rest is sent, as partial data would look
          // complete (an answer too large as a whole is refused once encoded, by the HTTP layer)
          const cutOff = result.errors?.some((e) => e.extensions?.maxResponseBytes !== undefined);
          if (!cutOff) return;
          const error = responseTooLarge(maxResponseBytes);
          response.body.singleResult = {
            errors: [{ message: error.message, extensions: { code: error.code, ...error.details } }],
          };
          response.http.status = 400;
        },
      };
    },
  };
}

/**
 * The gateway as both transports use it: the API schema and query-plan executor, the payload executor
 * live subscriptions resolve through, and the request context made from headers (an HTTP request's, or a
 * graphql-ws connection's parameters).
 */
export interface GatewayCore {
  config: Readonly<Config>;
  log: Logger;
  metrics: Metrics;
  limiter: RateLimiter;
  authenticator: Authenticator;
  apollo: ApolloServer<GatewayContext>;
  /** Known query texts answered without Apollo's pipeline (known-plans.ts); the rest go to Apollo. */
  known: KnownPlans<GatewayContext>;
  /** Internal queries of live subscriptions (their entity lookups); never reachable by clients. */
  payloads: ApolloServer<GatewayContext>;
  /** The composed supergraph the gateway serves. */
  supergraphSdl: string;
  contextFor(headers: HeaderBag, clientIp: string, requestId: string): Promise<GatewayContext>;
  health(): Promise<{ ok: boolean; checks: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function buildGateway(config: Readonly<Config>): Promise<GatewayCore> {
  const log = createLogger('gateway', config.logLevel);
  const metrics = createMetrics('gateway');
  if (!config.databaseUrl) throw new Error('databaseUrl must be resolved before starting the gateway');
  const databaseUrl = serviceDatabaseUrl(config.databaseUrl, 'gateway', config.databasePasswords.gateway);
  const pool = createAppPool(databaseUrl, (err) =>
    log.warn({ err: err.message }, 'idle database connection lost'),
  );
  const keys = await loadOrCreateKeys({
    privateKey: config.jwtPrivateKey,
    publicKey: config.jwtPublicKey,
    dataDir: config.dataDir,
  });
  const tokens = await createTokenService({
    publicKey: keys.publicKey,
    ttlSeconds: config.auth.accessTokenSeconds,
  });
  const authenticator = createAuthenticator(tokens, poolRunner(pool), {
    cacheSeconds: config.auth.cacheSeconds,
  });
  const limiter = config.redisUrl
    ? redisRateLimiter(
        new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 }),
        config.redisKeyPrefix,
      )
    : memoryRateLimiter();
  const agent = subgraphAgent(config.gateway.subgraphConnections);
  const subgraphRequests = new Counter({
    name: 'gateway_subgraph_requests_total',
    help: 'Subgraph requests by outcome: sent, or shared with an identical one of the same caller in flight',
    labelNames: ['subgraph', 'outcome'] as const,
    registers: [metrics.registry],
  });
  const spent = new WeakMap<object, number>();
  const live = liveDataSource();
  const buildService = ({ name }: { name: string }) =>
    name === LIVE_SUBGRAPH
      ? live
      : new SubgraphSource({
          name,
          url: config.subgraphUrls[name as SubgraphName],
          agent,
          maxResponseBytes: config.limits.maxResponseBytes,
          spent,
          dedupe: config.gateway.dedupeSubgraphRequests,
          requests: subgraphRequests,
        });
  const supergraphSdl = await readFile(SUPERGRAPH, 'utf8');

  const limits = operationLimits(limiter, config);
  // the data sources of the client-facing gateway, which the short path calls as Apollo Gateway would
  const sources = new Map<string, SubgraphSource>();
  const known = knownPlans<GatewayContext>({
    sources,
    limits,
    answered: (plan) => {
      recordOperation(metrics, plan.operationName, 'query', false);
      metrics.graphqlShortPath.inc();
    },
    // the answers read here are read again by Apollo if the request is handed back, not asked twice
    began: (context) => {
      context.answers = new Map();
    },
    // Apollo Server runs on a copy of the context, which keeps the mark (and starts a fresh size budget)
    handedBack: (context, refusal) => {
      context.limits = refusal === undefined ? { counted: 'all' } : { counted: 'all', refusal };
    },
  });

  const production = config.env === 'production';
  const formatErrors = formatError((error) => log.error({ err: error }, 'unexpected gateway error'), {
    production,
  });
  const apollo = new ApolloServer<GatewayContext>({
    gateway: new ApolloGateway({
      supergraphSdl,
      buildService: (definition) => {
        const source = buildService(definition);
        if (source instanceof SubgraphSource) sources.set(definition.name, source);
        return source;
      },
      experimental_didResolveQueryPlan: known.learn,
    }),
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: production,
    validationRules: [depthLimitRule(config.limits.maxDepth)],
    formatError: formatErrors,
    plugins: [
      // production serves no page at all: clients there are programs
      production
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
      limitsPlugin(limits, config),
      operationMetricsPlugin(metrics),
      requestIdPlugin(),
    ],
  });
  // the same subgraphs planned over a supergraph whose live lookups are reachable; it has no HTTP
  // route, and the documents it runs are built by the gateway from already checked subscriptions
  const payloads = new ApolloServer<GatewayContext>({
    gateway: new ApolloGateway({ supergraphSdl: livePayloadSupergraph(supergraphSdl), buildService }),
    includeStacktraceInErrorResponses: false,
    formatError: formatErrors,
    plugins: [ApolloServerPluginLandingPageDisabled()],
  });
  await apollo.start();
  await payloads.start();

  const contextFor = async (
    headers: HeaderBag,
    clientIp: string,
    requestId: string,
  ): Promise<GatewayContext> => {
    const identity = await authenticateForGraphQL(authenticator, headers);
    const forward: Record<string, string> = { 'x-request-id': requestId };
    for (const name of FORWARDED) {
      const value = headerOf(headers, name);
      if (value !== undefined) forward[name] = value;
    }
    return { requestId, identity, clientIp, forward };
  };

  return {
    config,
    log,
    metrics,
    limiter,
    authenticator,
    apollo,
    known,
    payloads,
    supergraphSdl,
    contextFor,
    async health() {
      const checks: Record<string, unknown> = {};
      let ok = true;
      try {
        await pool.query('SELECT 1');
        checks.database = 'ok';
      } catch {
        checks.database = 'unreachable';
        ok = false;
      }
      await Promise.all(
        SUBGRAPHS.map(async (name) => {
          try {
            const res = await fetch(new URL('/health', config.subgraphUrls[name]), {
              signal: AbortSignal.timeout(2000),
            });
            checks[name] = res.ok ? 'ok' : `status ${res.status}`;
            ok &&= res.ok;
          } catch {
            checks[name] = 'unreachable';
            ok = false;
          }
        }),
      );
      return { ok, checks };
    },
    async close() {
      await apollo.stop();
      await payloads.stop();
      await agent.close();
      await limiter.close();
      await pool.end();
    },
  };
}

function headerOf(headers: HeaderBag, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  if (headers instanceof Map) return headers.get(name);
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

export interface StartGatewayOptions {
  port?: number;
  host?: string;
  routes?: (runtime: GatewayRuntime) => Route[];
  /** Where live subscriptions read domain events; without one the gateway connects its own (AMQP_URL). */
  bus?: Bus;
  live?: Partial<LiveLimits>;
}

/** Serves the gateway over HTTP and graphql-ws on one port and one /graphql URL. */
export async function startGateway(
  config: Readonly<Config>,
  options: StartGatewayOptions = {},
): Promise<RunningGateway> {
  const core = await buildGateway(config);
  const { log } = core;
  const resolveClientIp = clientIpResolver(config.trustProxy);
  const clientIp = (req: IncomingMessage) =>
    resolveClientIp(req.socket.remoteAddress, req.headers['x-forwarded-for']);
  const ratesCounted = new WeakSet<IncomingMessage>();
  const runtime: GatewayRuntime = {
    config,
    log,
    limiter: core.limiter,
    authenticate: (req) => core.authenticator.authenticate(req.headers),
    clientIp,
    ratesCounted: (req) => ratesCounted.add(req),
  };

  const contexts = new WeakMap<IncomingMessage, Promise<GatewayContext>>();
  const server = createServiceServer<GatewayContext>({
    apollo: core.apollo,
    log,
    metrics: core.metrics,
    bodyLimitBytes: config.limits.bodyBytes,
    metricsAccess: config.metrics,
    routes: [ingestFastPath(runtime), ...(options.routes?.(runtime) ?? [])],
    responseLimit: {
      bytes: config.limits.maxResponseBytes,
      error: () => responseTooLarge(config.limits.maxResponseBytes),
    },
    lean: core.known,
    // one context per request: a request the short path hands back to Apollo keeps its verified identity
    context: (req, requestId) => {
      let context = contexts.get(req);
      if (!context) {
        context = core.contextFor(req.headers, clientIp(req), requestId);
        if (ratesCounted.has(req))
          context = context.then((fresh): GatewayContext => ({ ...fresh, limits: { counted: 'rates' } }));
        contexts.set(req, context);
      }
      return context;
    },
    health: core.health,
  });

  // a process without a bus of its own (the gateway alone) connects one for its subscriptions
  const ownBus = options.bus
    ? undefined
    : await createBus({ amqpUrl: config.amqpUrl, prefix: config.amqpPrefix, logger: log });
  if (ownBus?.kind === 'memory') {
    log.warn('AMQP_URL is not set: live subscriptions receive no events from other processes');
  }
  const live = await serveLive({
    core,
    server,
    bus: options.bus ?? ownBus!,
    clientIp,
    limits: options.live,
  });

  const port = await listen(server, options.port ?? config.port, options.host ?? '0.0.0.0');
  log.info({ port }, 'gateway listening');
  return {
    port,
    url: `http://localhost:${port}/graphql`,
    server,
    live,
    async stop() {
      await live.close();
      await ownBus?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await core.close();
    },
  };
}
