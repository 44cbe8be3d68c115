// The HTTP shell every service shares: /graphql through Apollo Server, /health, /metrics, request ids, body limits.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import { AppError, ErrorCode, httpStatusOf } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { readBody } from './body.ts';

export type Route = (
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
) => Promise<boolean> | boolean;

export interface ServiceServerOptions<TContext extends BaseContext> {
  apollo: ApolloServer<TContext>;
  context: (req: IncomingMessage, requestId: string) => Promise<TContext>;
  health: () => Promise<{ ok: boolean; checks: Record<string, unknown> }>;
  metrics: Metrics;
  log: Logger;
  bodyLimitBytes: number;
  /** Tried before /graphql; returns true when it answered. */
  routes?: Route[];
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

export function sendError(res: ServerResponse, error: AppError, headers: Record<string, string> = {}): void {
  sendJson(
    res,
    httpStatusOf(error.code),
    { errors: [{ message: error.message, extensions: { code: error.code, ...(error.details ?? {}) } }] },
    headers,
  );
}

export function createServiceServer<TContext extends BaseContext>(
  options: ServiceServerOptions<TContext>,
): Server {
  const { apollo, log, metrics } = options;

  async function graphql(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    url: URL,
  ): Promise<void> {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, options.bodyLimitBytes);
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
      } catch {
        throw new AppError(ErrorCode.BadUserInput, 'Request body is not valid JSON');
      }
    }
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: () => options.context(req, requestId),
    });
    const responseHeaders: Record<string, string> = { 'x-request-id': requestId };
    for (const [key, value] of result.headers) responseHeaders[key] = value;
    res.writeHead(result.status ?? 200, responseHeaders);
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  const server = createServer(async (req, res) => {
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    let route = url.pathname;
    try {
      if (url.pathname === '/health') {
        const health = await options.health();
        sendJson(res, health.ok ? 200 : 503, { status: health.ok ? 'ok' : 'degraded', ...health.checks });
      } else if (url.pathname === '/metrics') {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
      } else {
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
            await graphql(req, res, requestId, url);
          } else {
            route = 'other';
            sendJson(res, 404, { error: 'not found' });
          }
        }
      }
    } catch (error) {
      if (error instanceof AppError) {
        if (!res.headersSent) sendError(res, error, { 'x-request-id': requestId });
      } else {
        log.error({ err: error, requestId }, 'request failed');
        if (!res.headersSent)
          sendJson(res, 500, {
            errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.Internal } }],
          });
        else res.end();
      }
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpDuration.observe({ route, status: String(res.statusCode) }, seconds);
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
