// POST /webhooks/pharow on the gateway: authenticates and rate-limits, then streams the raw body to the CRM subgraph,
// which verifies the key again and runs the same ingest as the ingestPharow mutation.

import type { ServerResponse } from 'node:http';
import { requireIngestKey } from '../../lib/auth/identity.ts';
import type { RateLimitRule } from '../../lib/config.ts';
import { AppError, ErrorCode } from '../../lib/errors.ts';
import { type Route, sendError } from '../../lib/http/service-server.ts';
import { bulkHeaders, streamBody } from '../forward-body.ts';
import type { GatewayRuntime } from '../gateway.ts';
import { rateLimited } from '../limits.ts';

const PATH = '/webhooks/pharow';

export function pharowWebhook(runtime: GatewayRuntime): Route {
  const rule = runtime.config.limits.rates.ingestPharow ?? runtime.config.limits.rates.write;
  const target = new URL(PATH, runtime.config.subgraphUrls.crm);
  // false when over the limit, after answering 429
  const hit = async (
    res: ServerResponse,
    requestId: string,
    key: string,
    name: string,
    limit: RateLimitRule,
  ) => {
    const decision = await runtime.limiter.hit(key, limit);
    if (decision.allowed) return true;
    sendError(res, rateLimited(name, limit, decision.retryAfterSeconds), requestId, {
      'retry-after': String(decision.retryAfterSeconds),
    });
    return false;
  };
  return async (req, res, requestId) => {
    if (!req.url?.startsWith(PATH)) return false;
    if (req.method !== 'POST') {
      sendError(res, new AppError(ErrorCode.MethodNotAllowed, 'Use POST'), requestId, { allow: 'POST' });
      return true;
    }
    let identity: ReturnType<typeof requireIngestKey>;
    try {
      identity = requireIngestKey(await runtime.authenticate(req));
    } catch (error) {
      // refused keys count per client address, so guessing keys here costs like any anonymous write
      const write = runtime.config.limits.rates.write;
      if (write && !(await hit(res, requestId, `ip:${runtime.clientIp(req)}:write`, 'write', write)))
        return true;
      throw error;
    }
    if (!(await hit(res, requestId, `org:${identity.organisationId}:ingestPharow`, 'ingestPharow', rule)))
      return true;
    // the CRM subgraph reads the 13 MB while they are still arriving here
    const upstream = await streamBody(
      req,
      target,
      bulkHeaders(req, requestId),
      runtime.config.limits.webhookBodyBytes,
    );
    res.writeHead(upstream.status, {
      'content-type': upstream.contentType ?? 'application/json',
      'x-request-id': requestId,
    });
    res.end(upstream.text);
    return true;
  };
}
