// /t/o/<token>.gif (open pixel) and /t/c/<token> (click): the token's signature is the only check (no database
// read). Each hit is answered only once it is stored: group-committed to RabbitMQ (lib/tracking/hit-batcher.ts)
// and confirmed there. A pixel whose hit cannot be stored answers 503, so the mail client may fetch it again;
// a click still takes the person where they meant to go (losing the count is better than losing the visit).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ENGAGEMENT_QUEUE, HITS_QUEUE } from '../../../lib/bus/catalog.ts';
import { sendBatch } from '../../../lib/bus/index.ts';
import type { SubgraphRuntime } from '../../../lib/graphql/subgraph.ts';
import type { Route } from '../../../lib/http/service-server.ts';
import { createHitBatcher, type HitBatcher } from '../../../lib/tracking/hit-batcher.ts';
import { type HitKind, MAX_USER_AGENT_CHARS, type TrackingHit } from '../../../lib/tracking/hits.ts';
import { machineReason } from '../../../lib/tracking/machine.ts';
import type { TokenSigner, TrackingToken } from '../../../lib/tracking/tokens.ts';
import type { TrackingDeps } from '../deps.ts';
import { PAGES, sendPage } from './unsubscribe-pages.ts';

export const OPEN_PREFIX = '/t/o/';
export const CLICK_PREFIX = '/t/c/';
/** A transparent 1×1 GIF. */
export const PIXEL_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==',
  'base64',
);
// mail proxies and browsers must fetch the pixel at every open, and never share it
const NO_CACHE = {
  'cache-control': 'no-store, no-cache, must-revalidate, private, max-age=0',
  pragma: 'no-cache',
  expires: '0',
};
const PIXEL_HEADERS = {
  'content-type': 'image/gif',
  'content-length': String(PIXEL_GIF.length),
  ...NO_CACHE,
};
const ALLOWED = 'GET, HEAD';

/** The client: the gateway forwards its address in X-Forwarded-For; a direct caller is the socket's peer. */
function clientAddress(req: IncomingMessage): string | undefined {
  const forwarded = req.headers['x-forwarded-for'];
  if (typeof forwarded === 'string' && forwarded) return forwarded.split(',', 1)[0]!.trim();
  return req.socket.remoteAddress;
}

type HitToken = Extract<TrackingToken, { kind: 'open' | 'click' }>;

export function hitOf(req: IncomingMessage, tokens: TokenSigner, token: HitToken): TrackingHit {
  const method = req.method ?? 'GET';
  const userAgent = req.headers['user-agent'];
  const ip = clientAddress(req);
  const kind: HitKind = token.kind === 'open' ? 'OPEN' : 'CLICK';
  return {
    id: randomUUID(),
    kind,
    organisationId: token.organisationId,
    messageId: token.messageId,
    url: token.kind === 'click' ? token.url : null,
    at: new Date().toISOString(),
    machine: machineReason({ method, userAgent, ip }),
    userAgent: userAgent ? userAgent.slice(0, MAX_USER_AGENT_CHARS) : null,
    ipHash: ip ? tokens.hashAddress(ip) : null,
  };
}

/** Publishes each batch to the raw store's queue and the counters' queue, both confirmed. */
export function trackingHitBatcher(bus: TrackingDeps['bus']): HitBatcher {
  return createHitBatcher({
    commit: (batch) => sendBatch(bus, [HITS_QUEUE, ENGAGEMENT_QUEUE], batch, { messageId: randomUUID() }),
  });
}

export function hitRoute(
  runtime: Pick<SubgraphRuntime<TrackingDeps>, 'deps' | 'log'>,
  batcher: HitBatcher = trackingHitBatcher(runtime.deps.bus),
): Route {
  const { tokens } = runtime.deps;
  return async (req, res, requestId) => {
    const target = req.url ?? '';
    const open = target.startsWith(OPEN_PREFIX);
    if (!open && !target.startsWith(CLICK_PREFIX)) return false;
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    req.resume();
    if (method !== 'GET' && !head) {
      sendPage(res, 405, PAGES.invalid, { requestId, headers: { allow: ALLOWED } });
      return true;
    }
    const query = target.indexOf('?');
    const path = target.slice(OPEN_PREFIX.length, query === -1 ? undefined : query);
    const token = open ? (path.endsWith('.gif') ? path.slice(0, -4) : '') : path;
    const verified = token ? tokens.verify(token) : null;
    // an open token only on the pixel's path, a click token only on the link's
    if (verified?.kind !== (open ? 'open' : 'click')) {
      sendPage(res, 404, PAGES.invalid, { requestId, head });
      return true;
    }
    const hit = hitOf(req, tokens, verified as HitToken);
    let stored = true;
    try {
      await batcher.add(hit);
    } catch (error) {
      stored = false;
      runtime.log.error(
        { err: (error as Error).message, requestId, organisationId: hit.organisationId, kind: hit.kind },
        'tracking hit not stored',
      );
    }
    if (open) {
      if (!stored) {
        sendPage(res, 503, PAGES.unavailable, { requestId, head, headers: { 'retry-after': '30' } });
        return true;
      }
      res.writeHead(200, PIXEL_HEADERS);
      res.end(head ? undefined : PIXEL_GIF);
      return true;
    }
    // the token (in the URL) stays here: the site the person goes to learns nothing of it
    res.writeHead(302, { location: hit.url!, 'referrer-policy': 'no-referrer', ...NO_CACHE });
    res.end();
    return true;
  };
}
