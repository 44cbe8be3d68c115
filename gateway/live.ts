// graphql-ws on the gateway's own port and /graphql URL: the socket is authenticated from the
// `connection_init` payload, each subscription is checked (one live root field, depth, cost, the caller's
// campaign) and joins the live hub, which feeds it from the bus.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Supergraph } from '@apollo/federation-internals';
import {
  type DocumentNode,
  type ExecutionResult,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  parse,
  specifiedRules,
  validate,
} from 'graphql';
import type { Context } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { decodeJwt } from 'jose';
import { type WebSocket, WebSocketServer } from 'ws';
import { requireAccess } from '../lib/auth/identity.ts';
import { parseApiKey } from '../lib/auth/tokens.ts';
import type { Bus } from '../lib/bus/index.ts';
import { AppError, ErrorCode } from '../lib/errors.ts';
import type { GatewayContext, GatewayCore } from './gateway.ts';
import { assertCost, depthLimitRule, rootFields } from './limits.ts';
import { LiveHub, type Outlet } from './live-hub.ts';
import type { LiveField, LiveOperation } from './live-payload.ts';

export interface LiveLimits {
  maxSubscriptionsPerSocket: number;
  maxSocketsPerIdentity: number;
  maxSocketsPerIp: number;
  /** Largest message a client may send (the subscribe message with its query). */
  maxMessageBytes: number;
  /** At most one campaignStats push per campaign in this interval. */
  statsIntervalMs: number;
  /** How often every socket's credentials are checked again (a removed membership ends it). */
  recheckMs: number;
}

export const DEFAULT_LIVE_LIMITS: LiveLimits = {
  maxSubscriptionsPerSocket: 20,
  maxSocketsPerIdentity: 100,
  maxSocketsPerIp: 1000,
  maxMessageBytes: 64 * 1024,
  statsIntervalMs: 1000,
  recheckMs: 5000,
};

/** graphql-ws close codes: the client reconnects with a fresh token after 4401. */
export const CLOSE = {
  unauthorized: 4401,
  forbidden: 4403,
  tooManyConnections: 4429,
} as const;

export interface LiveServer {
  hub: LiveHub;
  close(): Promise<void>;
}

const LIVE_FIELDS: readonly string[] = ['campaignActivity', 'campaignStats'];
const MAX_TIMER_MS = 2 ** 31 - 1;

interface SocketState {
  authorization: string;
  context: GatewayContext;
  identityKey: string;
  expiry: NodeJS.Timeout | undefined;
  subscriptions: number;
}

type Extra = { socket: WebSocket; request: IncomingMessage; state?: SocketState };

const CAMPAIGN_QUERY = parse('query LiveCampaign($id: ID!) { campaign(id: $id) { id } }');

function liveError(code: ErrorCode, message: string, details?: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...details } });
}

export async function serveLive(options: {
  core: GatewayCore;
  server: Server;
  bus: Bus;
  clientIp: (req: IncomingMessage) => string;
  limits?: Partial<LiveLimits>;
}): Promise<LiveServer> {
  const { core, server } = options;
  const { config, log } = core;
  const limits = { ...DEFAULT_LIVE_LIMITS, ...options.limits };
  // payloads are shaped on a copy of the API schema: Apollo Server wraps the resolvers of its own
  const schema: GraphQLSchema = Supergraph.build(core.supergraphSdl).apiSchema().toGraphQLJSSchema();
  const rules = [...specifiedRules, depthLimitRule(config.limits.maxDepth)];

  const runQuery = async (
    document: DocumentNode,
    variables: Record<string, unknown>,
    ctx: GatewayContext,
  ) => {
    // a context of its own per query: the response-size budget is counted per context
    const response = await core.payloads.executeOperation(
      { query: document, variables },
      { contextValue: { ...ctx, requestId: randomUUID(), forward: { ...ctx.forward } } },
    );
    if (response.body.kind !== 'single') throw new Error('incremental delivery is not used here');
    return response.body.singleResult as ExecutionResult;
  };
  const hub = new LiveHub({
    bus: options.bus,
    schema,
    runQuery,
    log,
    statsIntervalMs: limits.statsIntervalMs,
  });
  await hub.start();

  const perIp = new Map<string, number>();
  const perIdentity = new Map<string, number>();
  const states = new Set<{ socket: WebSocket; state: SocketState }>();
  const count = (map: Map<string, number>, key: string, delta: number) => {
    const n = (map.get(key) ?? 0) + delta;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/graphql') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    const ip = options.clientIp(req);
    if ((perIp.get(ip) ?? 0) >= limits.maxSocketsPerIp) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\n\r\n');
      return;
    }
    count(perIp, ip, 1);
    socket.once('close', () => count(perIp, ip, -1));
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  server.on('upgrade', onUpgrade);

  const closeSocket = (socket: WebSocket, code: number, reason: string) => {
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)
      socket.close(code, reason);
  };

  const forget = (extra: Extra) => {
    const state = extra.state;
    if (!state) return;
    extra.state = undefined;
    clearTimeout(state.expiry);
    count(perIdentity, state.identityKey, -1);
    for (const entry of states) if (entry.state === state) states.delete(entry);
  };

  const graphqlWs = useServer<Record<string, unknown> | undefined, Extra>(
    {
      async onConnect(ctx: Context<Record<string, unknown> | undefined, Extra>) {
        const { socket, request } = ctx.extra;
        // graphql-ws clients send `authorization`; Apollo Sandbox sends its headers as they were typed
        const authorization = authorizationParam(ctx.connectionParams);
        if (typeof authorization !== 'string' || !authorization) {
          closeSocket(socket, CLOSE.unauthorized, 'Authorization required');
          return false;
        }
        let context: GatewayContext;
        try {
          context = await core.contextFor({ authorization }, options.clientIp(request), randomUUID());
          requireAccess(context.identity, 'read');
        } catch (error) {
          const forbidden = error instanceof AppError && error.code === ErrorCode.Forbidden;
          closeSocket(
            socket,
            forbidden ? CLOSE.forbidden : CLOSE.unauthorized,
            forbidden ? 'Forbidden: READ access needed' : 'Unauthorized',
          );
          return false;
        }
        const identity = context.identity!;
        const identityKey =
          identity.kind === 'user' ? `user:${identity.userId}` : `apiKey:${identity.apiKeyId}`;
        if ((perIdentity.get(identityKey) ?? 0) >= limits.maxSocketsPerIdentity) {
          closeSocket(socket, CLOSE.tooManyConnections, 'Too many connections');
          return false;
        }
        count(perIdentity, identityKey, 1);
        const state: SocketState = {
          authorization,
          context,
          identityKey,
          expiry: undefined,
          subscriptions: 0,
        };
        // an access token ends the socket when it expires, so the client comes back with a fresh one
        const credential = authorization.replace(/^Bearer\s+/i, '');
        if (!parseApiKey(credential)) {
          const exp = decodeJwt(credential).exp;
          if (exp) {
            const ms = Math.min(MAX_TIMER_MS, exp * 1000 - Date.now());
            state.expiry = setTimeout(() => closeSocket(socket, CLOSE.unauthorized, 'Token expired'), ms);
          }
        }
        ctx.extra.state = state;
        states.add({ socket, state });
        if (socket.readyState !== socket.OPEN) {
          forget(ctx.extra);
          return false;
        }
        return true;
      },
      onClose(ctx) {
        forget(ctx.extra);
      },
      async onSubscribe(ctx, id, payload) {
        const state = ctx.extra.state;
        if (!state) return [liveError(ErrorCode.Unauthenticated, 'Not authenticated')];
        if (state.subscriptions >= limits.maxSubscriptionsPerSocket) {
          return [
            liveError(
              ErrorCode.RateLimited,
              `At most ${limits.maxSubscriptionsPerSocket} subscriptions per connection`,
              {
                maxSubscriptions: limits.maxSubscriptionsPerSocket,
              },
            ),
          ];
        }
        let op: LiveOperation;
        let campaignId: string;
        try {
          ({ op, campaignId } = checkOperation(schema, rules, config.limits.maxCost, payload));
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          if (Array.isArray(error)) return error as GraphQLError[];
          throw error;
        }
        // the slot is taken before the campaign check, so concurrent subscribes count too
        state.subscriptions++;
        let campaign: { id: string } | null | undefined;
        try {
          const found = await runQuery(CAMPAIGN_QUERY, { id: campaignId }, state.context);
          campaign = (found.data as { campaign?: { id: string } | null } | undefined)?.campaign;
        } finally {
          if (!campaign) state.subscriptions--;
        }
        if (!campaign) return [liveError(ErrorCode.NotFound, 'Campaign not found', { campaignId })];
        // payloads are written as this subscription's `next` frames, the payload's JSON made once per group
        const { socket } = ctx.extra;
        const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
        const outlet: Outlet = (json, written) => {
          if (socket.readyState !== socket.OPEN) return written();
          socket.send(`${head}${json}}`, written);
        };
        const stream = hub.join(op, campaignId, state.context, outlet);
        const release = stream.return.bind(stream);
        stream.return = (value) => {
          state.subscriptions--;
          stream.return = release;
          return release(value);
        };
        return {
          schema,
          document: op.document,
          operationName: op.operation.name?.value,
          variableValues: op.variables,
          contextValue: { stream },
        };
      },
      // the stream made at subscribe time is the subscription
      subscribe: (args) => (args.contextValue as { stream: AsyncGenerator<ExecutionResult> }).stream,
    },
    wss,
  );

  // memberships and sessions can end while a socket is open: check every socket's credentials again, each
  // distinct credential once per interval (an API key is read from the database at every check, and
  // thousands of sockets may share one)
  const recheck = setInterval(async () => {
    const byCredential = new Map<string, WebSocket[]>();
    for (const { socket, state } of states) {
      const sockets = byCredential.get(state.authorization) ?? [];
      byCredential.set(state.authorization, sockets);
      sockets.push(socket);
    }
    for (const [authorization, sockets] of byCredential) {
      try {
        const identity = await core.authenticator.authenticate({ authorization });
        requireAccess(identity, 'read');
      } catch (error) {
        const forbidden = error instanceof AppError && error.code === ErrorCode.Forbidden;
        for (const socket of sockets) {
          closeSocket(
            socket,
            forbidden ? CLOSE.forbidden : CLOSE.unauthorized,
            'Credentials no longer valid',
          );
        }
      }
    }
  }, limits.recheckMs);
  recheck.unref();

  return {
    hub,
    async close() {
      clearInterval(recheck);
      server.off('upgrade', onUpgrade);
      await graphqlWs.dispose();
      await hub.close();
    },
  };
}

/** Parses and checks one subscribe message; throws GraphQLError(s) with a code when it is refused. */
function checkOperation(
  schema: GraphQLSchema,
  rules: typeof specifiedRules,
  maxCost: number,
  payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
): { op: LiveOperation; campaignId: string } {
  let document: DocumentNode;
  try {
    document = parse(payload.query);
  } catch (error) {
    throw liveError(ErrorCode.BadUserInput, (error as Error).message);
  }
  const errors = validate(schema, document, rules);
  if (errors.length) {
    // coded as the HTTP path codes them
    throw errors.map(
      (e) =>
        new GraphQLError(e.message, {
          nodes: e.nodes,
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...e.extensions },
        }),
    );
  }
  const operation = getOperationAST(document, payload.operationName ?? undefined);
  if (!operation) throw liveError(ErrorCode.BadUserInput, 'Unable to identify the operation');
  if (operation.operation !== 'subscription') {
    throw liveError(
      ErrorCode.BadUserInput,
      'Only subscriptions are served over graphql-ws; send queries over HTTP',
    );
  }
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  }
  const variables = { ...(payload.variables ?? {}) };
  const input = { schema, operation, fragments, variables };
  try {
    assertCost(input, maxCost);
  } catch (error) {
    if (error instanceof AppError) throw liveError(error.code, error.message, error.details);
    throw error;
  }
  const fields = rootFields(input);
  const [root] = fields;
  if (fields.length !== 1 || !root || !LIVE_FIELDS.includes(root.name)) {
    throw liveError(ErrorCode.BadUserInput, 'A subscription selects exactly one live field');
  }
  const campaignId = root.args.campaignId;
  if (typeof campaignId !== 'string' || !/^[0-9a-f-]{36}$/i.test(campaignId)) {
    throw liveError(ErrorCode.BadUserInput, 'campaignId must be a campaign id', { campaignId });
  }
  const field = operation.selectionSet.selections.find(
    (s) => s.kind === Kind.FIELD && (s.alias?.value ?? s.name.value) === root.responseKey,
  );
  if (!field || field.kind !== Kind.FIELD) {
    throw liveError(ErrorCode.BadUserInput, 'The live field must be selected at the top of the subscription');
  }
  return {
    op: {
      document,
      operation,
      field,
      fieldName: root.name as LiveField,
      responseKey: root.responseKey,
      variables,
      fragments,
    },
    campaignId,
  };
}

/** The connection_init payload's `authorization`, whatever the case of its name. */
function authorizationParam(params: Record<string, unknown> | undefined): unknown {
  if (!params) return undefined;
  if ('authorization' in params) return params.authorization;
  const key = Object.keys(params).find((name) => name.toLowerCase() === 'authorization');
  return key === undefined ? undefined : params[key];
}
