// POST /webhooks/pharow on the CRM subgraph: Pharow's raw body, an INGEST API key, the same ingest as the mutation.

import { requireIngestKey } from '../../../lib/auth/identity.ts';
import { withTenant } from '../../../lib/db/orm.ts';
import { AppError, ErrorCode } from '../../../lib/errors.ts';
import type { SubgraphRuntime } from '../../../lib/graphql/subgraph.ts';
import { readPooledBody } from '../../../lib/http/body-pool.ts';
import { type Route, sendError, sendJson } from '../../../lib/http/service-server.ts';
import type { CrmDeps } from '../deps.ts';
import { ingestPharowItems } from '../services/ingest.service.ts';
import { InvalidItemJson, RawItems, splitItemList } from '../services/raw-items.ts';
import { afterIngest } from '../services/statistics.ts';

export const PHAROW_WEBHOOK_PATH = '/webhooks/pharow';

const NOT_JSON = 'Body is not valid JSON';

/**
 * The body's `data` list, split in place when the body is plainly `{"data": [ ... ]}` (its items are parsed
 * only if the ingest needs them), else parsed whole, with the errors a whole parse gives.
 */
export function parsePharowBody(raw: Buffer, maxItems: number): RawItems {
  const split = splitItemList(raw, ['data']);
  // over the limit, a body that is not JSON is still worded as such, not as too many items
  if (split && split.bounds.length / 2 <= maxItems) return RawItems.ofBytes(raw, split.bounds);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new AppError(ErrorCode.BadUserInput, NOT_JSON);
  }
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data))
    throw new AppError(ErrorCode.BadUserInput, 'Body must be {"data": [ ... ]}', { field: 'data' });
  return RawItems.ofValues(data);
}

export function pharowWebhookRoute(runtime: SubgraphRuntime<CrmDeps>): Route {
  return async (req, res, requestId) => {
    if (!req.url?.startsWith(PHAROW_WEBHOOK_PATH)) return false;
    if (req.method !== 'POST') {
      sendError(res, new AppError(ErrorCode.MethodNotAllowed, 'Use POST'), requestId, { allow: 'POST' });
      return true;
    }
    const identity = requireIngestKey(await runtime.authenticator.authenticate(req.headers));
    const maxItems = runtime.deps.ingestMaxItems;
    const { body, release } = await readPooledBody(req, runtime.config.limits.webhookBodyBytes);
    let result: Awaited<ReturnType<typeof ingestPharowItems>>;
    try {
      const data = parsePharowBody(body, maxItems);
      result = await withTenant(runtime.orm, identity.organisationId, (em) =>
        ingestPharowItems(em, identity.organisationId, data, maxItems),
      ).catch((error) => {
        // an item that is not JSON is found before anything is written
        throw error instanceof InvalidItemJson ? new AppError(ErrorCode.BadUserInput, NOT_JSON) : error;
      });
    } finally {
      // the items are read from the body's buffer until the ingest has ended
      release();
    }
    afterIngest(runtime.deps, identity.organisationId, result);
    runtime.log.info(
      { requestId, apiKeyId: identity.apiKeyId, received: result.received, rejected: result.rejected.length },
      'pharow webhook ingested',
    );
    sendJson(res, 200, result, { 'x-request-id': requestId });
    return true;
  };
}
