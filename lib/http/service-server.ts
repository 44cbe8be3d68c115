// The HTTP shell every service shares: /graphql through Apollo Server, /health, /metrics, request ids, body limits.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type ApolloServer, type BaseContext, HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import { AppError, ErrorCode, httpStatusOf } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { bodyGivenBack } from './body.ts';

export type Route = (
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
) => Promise<boolean> | boolean;

export interface ServiceServerOptions<TContext extends BaseContext> {
  apollo: ApolloServer<TContext>;
  /** Answers the queries it can without Apollo's pipeline; the rest go to Apollo. */
  lean?: {
    run(
      request: { headers: IncomingMessage['headers']; body: unknown },
      context: () => Promise<TContext>,
    ): Promise<HTTPGraphQLResponse | undefined>;
  };
  context: (req: IncomingMessage, requestId: string) => Promise<TContext>;
  health: () => Promise<{ ok: boolean; checks: Record<string, unknown> }>;
  metrics: Metrics;
  log: Logger;
  bodyLimitBytes: number;
  /** /metrics is served only when enabled, and only to `Authorization: Bearer <token>` when a token is set. */
  metricsAccess: { enabled: boolean; token: string | undefined };
  /** Tried before /graphql; returns true when it answered. */
  routes?: Route[];
  /**
   * A GraphQL answer longer than `bytes` once encoded is replaced by `error()`: nothing of it is sent,
   * since a partial answer would look complete. Measured on the encoded text, which costs no extra pass.
   */
  responseLimit?: { bytes: number; error: () => AppError };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** An error answered outside GraphQL execution, shaped like a GraphQL error and carrying the request id. */
export function sendError(
  res: ServerResponse,
  error: AppError,
  requestId: string,
  headers: Record<string, string> = {},
): void {
  sendJson(
    res,
    httpStatusOf(error.code),
    {
      errors: [
        { message: error.message, extensions: { code: error.code, ...(error.details ?? {}), requestId } },
      ],
    },
    { 'x-request-id': requestId, ...headers },
  );
}

/**
 * Apollo answers some errors before any plugin runs (bad credentials in the context, CSRF, malformed
 * requests): give those the request id too. Only error statuses are parsed, and they are small.
 */
function withRequestId(body: string, requestId: string): string {
  let parsed: { errors?: { extensions?: Record<string, unknown> }[] };
  try {
    parsed = JSON.parse(body);
  } catch {
    return body;
  }
  if (!Array.isArray(parsed?.errors)) return body;
  parsed.errors = parsed.errors.map((error) => ({
    ...error,
    extensions: { ...error.extensions, requestId: error.extensions?.requestId ?? requestId },
  }));
  return JSON.stringify(parsed);
}

/** The request's path and query; the usual bare `/graphql` skips URL parsing, which every request paid. */
function urlOf(target: string | undefined): { pathname: string; search: string } {
  if (target === '/graphql' || target === '/') return { pathname: target, search: '' };
  return new URL(target ?? '/', 'http://localhost');
}

/** `/t/u/<token>` → `/t/u`, `/webhooks/pharow` as it is. */
function routeLabel(pathname: string): string {
  return pathname.split('/', 3).join('/');
}

/**
 * readBody's limits, for the body of every GraphQL request: the declared length is checked before
 * reading, the running size while reading, and the chunks are gathered from events, which costs less
 * per request than an async iterator.
 */
function readGraphQLBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const tooLarge = () => new AppError(ErrorCode.PayloadTooLarge, `Request body exceeds ${limitBytes} bytes`);
  const given = bodyGivenBack(req);
  if (given) return Promise.resolve(given);
  if (Number(req.headers['content-length'] ?? 0) > limitBytes) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    // the client went away before the whole body came: nothing to answer
    const onClose = () => {
      if (!req.complete) onError(new Error('request closed before its body was complete'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function headerMapOf(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

function bearerMatches(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  // compare digests: equal lengths, and the time taken says nothing about the token
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(m[1]), digest(token));
}

export function createServiceServer<TContext extends BaseContext>(
  options: ServiceServerOptions<TContext>,
): Server {
  const { apollo, log, metrics } = options;
  // one histogram child per route and status, looked up once rather than by labels on every request
  const durations = new Map<string, { observe(seconds: number): void }>();
  const durationOf = (route: string, status: number) => {
    const key = `${route} ${status}`;
    let child = durations.get(key);
    if (!child) {
      child = metrics.httpDuration.labels({ route, status: String(status) });
      if (durations.size < 1000) durations.set(key, child);
    }
    return child;
  };

  async function graphql(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    search: string,
  ): Promise<void> {
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readGraphQLBody(req, options.bodyLimitBytes);
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
      } catch {
        throw new AppError(ErrorCode.BadUserInput, 'Request body is not valid JSON');
      }
    }
    const context = () => options.context(req, requestId);
    const result =
      (req.method === 'POST' && !search
        ? await options.lean?.run({ headers: req.headers, body }, context)
        : undefined) ??
      (await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? 'GET', headers: headerMapOf(req), search, body },
        context,
      }));
    const limit = options.responseLimit;
    if (
      limit &&
      result.body.kind === 'complete' &&
      // UTF-8 takes at most 3 bytes per UTF-16 unit: most answers need no exact count
      result.body.string.length * 3 > limit.bytes &&
      Buffer.byteLength(result.body.string) > limit.bytes
    ) {
      sendError(res, limit.error(), requestId);
      return;
    }
    const responseHeaders: Record<string, string> = { 'x-request-id': requestId };
    for (const [key, value] of result.headers) responseHeaders[key] = value;
    const status = result.status ?? 200;
    res.writeHead(status, responseHeaders);
    if (result.body.kind === 'complete') {
      res.end(status >= 400 ? withRequestId(result.body.string, requestId) : result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  const server = createServer(async (req, res) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req);
    const url = urlOf(req.url);
    let route = url.pathname;
    try {
      if (url.pathname === '/health') {
        const health = await options.health();
        sendJson(res, health.ok ? 200 : 503, { status: health.ok ? 'ok' : 'degraded', ...health.checks });
      } else if (url.pathname === '/metrics' && options.metricsAccess.enabled) {
        const { token } = options.metricsAccess;
        if (token !== undefined && !bearerMatches(req, token)) {
          sendError(
            res,
            new AppError(ErrorCode.Unauthenticated, 'Metrics need the metrics token'),
            requestId,
            {
              'www-authenticate': 'Bearer',
            },
          );
          return;
        }
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
      } else {
        // a route's paths may carry a token or an id (/t/u/<token>): label and log by their first two segments
        route = routeLabel(url.pathname);
        let handled = false;
        for (const r of options.routes ?? []) {
          if (await r(req, res, requestId)) {
            handled = true;
            break;
          }
        }
        if (!handled) {
          if (url.pathname === '/graphql' || url.pathname === '/') {
            route = '/graphql';
            await graphql(req, res, requestId, url.search);
          } else {
            route = 'other';
            sendError(res, new AppError(ErrorCode.NotFound, 'Not found'), requestId);
          }
        }
      }
    } catch (error) {
      if (error instanceof AppError) {
        if (!res.headersSent) sendError(res, error, requestId);
      } else {
        log.error({ err: error, requestId }, 'request failed');
        if (!res.headersSent)
          sendError(res, new AppError(ErrorCode.Internal, 'Internal server error'), requestId);
        else res.end();
      }
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      durationOf(route, res.statusCode).observe(seconds);
      // one access line per request (probes excluded); never the body or credentials
      if (route !== '/health' && route !== '/metrics') {
        log.info(
          { requestId, method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) },
          'request',
        );
      }
    }
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

export function listen(server: Server, port: number, host = '0.0.0.0'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
