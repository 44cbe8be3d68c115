// /t/u/<token>: one-click unsubscribe (RFC 8058). POST with `List-Unsubscribe=One-Click` hands the unsubscribe to
// the workers and answers 200 once the broker has confirmed it, so an answered unsubscribe is never lost; GET
// shows a page whose button makes that POST (mail scanners follow links: a GET changes nothing). The token's
// signature is the only check here (no database read); a forged or altered token gets 404.
import { UNSUBSCRIBE_QUEUE } from '../../../lib/bus/catalog.ts';
import { sendWork } from '../../../lib/bus/index.ts';
import { AppError, ErrorCode } from '../../../lib/errors.ts';
import type { SubgraphRuntime } from '../../../lib/graphql/subgraph.ts';
import { readBody } from '../../../lib/http/body.ts';
import type { Route } from '../../../lib/http/service-server.ts';
import type { TrackingDeps } from '../deps.ts';
import { isOneClickBody } from './one-click-body.ts';
import { confirmationPage, PAGES, sendPage } from './unsubscribe-pages.ts';

export const UNSUBSCRIBE_PREFIX = '/t/u/';
/** `List-Unsubscribe=One-Click`, even in multipart form, is far below this. */
export const ONE_CLICK_BODY_BYTES = 1024;
const ALLOWED = 'GET, HEAD, POST';

export function unsubscribeRoute(runtime: Pick<SubgraphRuntime<TrackingDeps>, 'deps' | 'log'>): Route {
  const { tokens, bus } = runtime.deps;
  return async (req, res, requestId) => {
    const target = req.url ?? '';
    if (!target.startsWith(UNSUBSCRIBE_PREFIX)) return false;
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    if (method !== 'GET' && !head && method !== 'POST') {
      req.resume();
      sendPage(res, 405, PAGES.notAllowed, { requestId, headers: { allow: ALLOWED } });
      return true;
    }
    const query = target.indexOf('?');
    const token = target.slice(UNSUBSCRIBE_PREFIX.length, query === -1 ? undefined : query);
    const verified = tokens.verify(token);
    if (verified?.kind !== 'unsubscribe') {
      req.resume();
      sendPage(res, 404, PAGES.invalid, { requestId, head });
      return true;
    }
    if (method !== 'POST') {
      sendPage(res, 200, confirmationPage(token), { requestId, head });
      return true;
    }
    let body: Buffer;
    try {
      body = await readBody(req, ONE_CLICK_BODY_BYTES);
    } catch (error) {
      if (!(error instanceof AppError && error.code === ErrorCode.PayloadTooLarge)) throw error;
      sendPage(res, 413, PAGES.tooLarge, { requestId, headers: { connection: 'close' } });
      return true;
    }
    if (!isOneClickBody(body)) {
      sendPage(res, 400, PAGES.notOneClick, { requestId });
      return true;
    }
    const { organisationId, messageId, positionId } = verified;
    try {
      // the message id names the unsubscribe: the same link used twice is the same work
      await sendWork(
        bus,
        UNSUBSCRIBE_QUEUE,
        { organisationId, messageId, positionId },
        { messageId: `unsubscribe:${messageId}` },
      );
    } catch (error) {
      runtime.log.error({ err: error, requestId, organisationId, messageId }, 'unsubscribe not handed on');
      sendPage(res, 503, PAGES.unavailable, { requestId, headers: { 'retry-after': '60' } });
      return true;
    }
    runtime.log.info({ requestId, organisationId, messageId }, 'unsubscribe accepted');
    sendPage(res, 200, PAGES.unsubscribed, { requestId });
    return true;
  };
}
