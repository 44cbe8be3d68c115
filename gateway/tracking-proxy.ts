// Everything under /t/ on the public port (PUBLIC_URL) belongs to the tracking service, which is internal: the
// gateway forwards each request as it came (method, path, a bounded body, the few headers the service reads)
// with the client's address, and streams the answer back. Tracking links are anonymous, so each client
// address has a (generous) rate limit.
import { Agent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { RateLimitRule } from '../lib/config.ts';
import { AppError, ErrorCode } from '../lib/errors.ts';
import { readBody } from '../lib/http/body.ts';
import { type Route, sendError } from '../lib/http/service-server.ts';
import type { GatewayRuntime } from './gateway.ts';
import { rateLimited } from './limits.ts';

export const TRACKING_PREFIX = '/t/';
/** A tracking request's body (a one-click unsubscribe is 26 bytes): anything larger is refused here. */
export const TRACKING_PROXY_BODY_BYTES = 4096;
/**
 * Per client address when RATE_LIMITS sets no `tracking` rule. Generous: mail providers fetch links and
 * images for many recipients from a few shared addresses.
 */
export const DEFAULT_TRACKING_RATE: RateLimitRule = { limit: 1200, windowSeconds: 60 };
const UPSTREAM_TIMEOUT_MS = 15_000;
/** Answers up to this size (announced by content-length) are read whole and written in one go. */
const BUFFERED_ANSWER_BYTES = 64 * 1024;
const FORWARDED_HEADERS = ['user-agent', 'content-type'];
// meaningful for one connection only (RFC 9110 §7.6.1), never passed on
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Reads an answer of known, small length; rejects if it ends short or breaks off. */
function readAnswer(upstream: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    upstream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    });
    upstream.once('end', () =>
      received === length ? resolve(Buffer.concat(chunks, received)) : reject(new Error('answer cut short')),
    );
    upstream.once('error', reject);
    upstream.once('aborted', () => reject(new Error('answer aborted')));
  });
}

function forwardedResponseHeaders(upstream: IncomingMessage, requestId: string): OutgoingHttpHeaders {
  const named = new Set(
    String(upstream.headers.connection ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase()),
  );
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) headers[name] = value;
  }
  headers['x-request-id'] = requestId;
  return headers;
}

export function trackingProxy(runtime: GatewayRuntime): Route {
  const origin = new URL(runtime.config.subgraphUrls.tracking);
  const secure = origin.protocol === 'https:';
  const request = secure ? httpsRequest : httpRequest;
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new Agent({ keepAlive: true });
  const hostname = origin.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = origin.port || (secure ? 443 : 80);
  const rule = runtime.config.limits.rates.tracking ?? DEFAULT_TRACKING_RATE;

  return async (req, res, requestId) => {
    const path = req.url ?? '';
    if (!path.startsWith(TRACKING_PREFIX)) return false;
    const clientIp = runtime.clientIp(req);
    const decision = await runtime.limiter.hit(`ip:${clientIp}:tracking`, rule);
    if (!decision.allowed) {
      req.resume();
      sendError(res, rateLimited('tracking', rule, decision.retryAfterSeconds), requestId, {
        'retry-after': String(decision.retryAfterSeconds),
      });
      return true;
    }
    const method = req.method ?? 'GET';
    const body = await readBody(req, TRACKING_PROXY_BODY_BYTES);
    const headers: OutgoingHttpHeaders = { 'x-request-id': requestId, 'x-forwarded-for': clientIp };
    for (const name of FORWARDED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (body.length > 0 || (method !== 'GET' && method !== 'HEAD')) headers['content-length'] = body.length;

    const send = () =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const outgoing = request(
          { hostname, port, path, method, headers, agent, timeout: UPSTREAM_TIMEOUT_MS },
          resolve,
        );
        outgoing.on('timeout', () =>
          outgoing.destroy(new Error('the tracking service did not answer in time')),
        );
        outgoing.on('error', (error: NodeJS.ErrnoException) => {
          // a kept-alive connection the service closed as we reused it: try once more on a fresh one (tracking
          // hits are idempotent, so even one that did arrive is harmless twice)
          reject(
            Object.assign(error, { staleConnection: outgoing.reusedSocket && error.code === 'ECONNRESET' }),
          );
        });
        outgoing.end(body.length > 0 ? body : undefined);
      });
    let upstream: IncomingMessage;
    try {
      upstream = await send().catch((error) => {
        if (error.staleConnection) return send();
        throw error;
      });
    } catch (error) {
      runtime.log.warn({ err: (error as Error).message, requestId }, 'tracking service unreachable');
      sendError(
        res,
        new AppError(ErrorCode.Unavailable, 'Tracking is unavailable, try again later'),
        requestId,
        {
          'retry-after': '30',
        },
      );
      return true;
    }
    res.writeHead(upstream.statusCode ?? 502, forwardedResponseHeaders(upstream, requestId));
    const length = Number(upstream.headers['content-length']);
    if (Number.isInteger(length) && length <= BUFFERED_ANSWER_BYTES) {
      // the usual answers (a 43-byte pixel, a redirect, a small page) go out in one write, without a stream
      // pipeline per request
      // a HEAD answer announces the length of the GET's body but carries none
      const answer = await readAnswer(upstream, method === 'HEAD' ? 0 : length).catch(() => undefined);
      if (answer) res.end(answer.length > 0 ? answer : undefined);
      else res.destroy();
      return true;
    }
    // a client that leaves mid-answer ends the stream: nothing left to tell it
    await pipeline(upstream, res).catch(() => upstream.destroy());
    return true;
  };
}
