// POST /webhooks/pharow on the CRM subgraph: Pharow's raw body, an INGEST API key, the same ingest as the mutation.

import { requireIngestKey } from '../../../lib/auth/identity.ts';
import { withTenant } from '../../../lib/db/orm.ts';
import { AppError, ErrorCode } from '../../../lib/errors.ts';
import type { SubgraphRuntime } from '../../../lib/graphql/subgraph.ts';
import { readBody } from '../../../lib/http/body.ts';
import { type Route, sendError, sendJson } from '../../../lib/http/service-server.ts';
import type { CrmDeps } from '../deps.ts';
import { ingestPharowItems } from '../services/ingest.service.ts';

export const PHAROW_WEBHOOK_PATH = '/webhooks/pharow';

export function parsePharowBody(raw: Buffer): unknown[] {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AppError(ErrorCode.BadUserInput, 'Body is not valid JSON');
  }
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data))
    throw new AppError(ErrorCode.BadUserInput, 'Body must be {"data": [ ... ]}', { field: 'data' });
  return data;
}

export function pharowWebhookRoute(runtime: SubgraphRuntime<CrmDeps>): Route {
  return async (req, res, requestId) => {
    if (!req.url?.startsWith(PHAROW_WEBHOOK_PATH)) return false;
    if (req.method !== 'POST') {
      sendError(res, new AppError(ErrorCode.MethodNotAllowed, 'Use POST'), requestId, { allow: 'POST' });
      return true;
    }
    const identity = requireIngestKey(await runtime.authenticator.authenticate(req.headers));
    const data = parsePharowBody(await readBody(req, runtime.config.limits.webhookBodyBytes));
    const result = await withTenant(runtime.orm, identity.organisationId, (em) =>
      ingestPharowItems(em, identity.organisationId, data, runtime.deps.ingestMaxItems),
    );
    runtime.log.info(
      { requestId, apiKeyId: identity.apiKeyId, received: result.received, rejected: result.rejected.length },
      'pharow webhook ingested',
    );
    sendJson(res, 200, result, { 'x-request-id': requestId });
    return true;
  };
}
