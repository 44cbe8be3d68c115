// Gmail API clients per mailbox, for the sender and the inbox: credentials opened from their sealed form,
// clients kept while the credentials stay the same (so access tokens are reused), and every failure sorted
// into what the caller must do about it.
// only the Gmail API: the `googleapis` index loads every Google API (seconds of start-up per process)
import { gmail_v1 } from 'googleapis/build/src/apis/gmail/v1.js';
import type { SecretBox } from '../secrets/secret-box.ts';
import { type GoogleSettings, gmailAuthClient, openGmailCredentials } from './gmail-auth.ts';
import { keepAliveAdapter } from './http-adapter.ts';

export interface MailboxAccess {
  organisationId: string;
  mailboxId: string;
  email: string;
  /** outreach.mailboxes.credentials_encrypted */
  credentialsEncrypted: string;
}

export interface GmailClients {
  /** The mailbox's Gmail client: the same one while its sealed credentials are unchanged. */
  forMailbox(access: MailboxAccess): Promise<gmail_v1.Gmail>;
}

/** Clients kept at most: beyond, the least recently used is dropped (and makes a new access token later). */
const MAX_CLIENTS = 1000;

type GmailOptions = NonNullable<ConstructorParameters<typeof gmail_v1.Gmail>[0]>;

/** Connections kept open to Gmail per process, shared by every mailbox's client. */
const MAX_SOCKETS = 64;

export function createGmailClients(secrets: SecretBox, settings: GoogleSettings): GmailClients {
  // gaxios' own option types are stricter than what the adapter reads from them
  const adapter = keepAliveAdapter(MAX_SOCKETS) as unknown as GmailOptions['adapter'];
  const clients = new Map<string, { sealed: string; gmail: Promise<gmail_v1.Gmail> }>();
  return {
    forMailbox(access) {
      const kept = clients.get(access.mailboxId);
      if (kept && kept.sealed === access.credentialsEncrypted) {
        clients.delete(access.mailboxId);
        clients.set(access.mailboxId, kept);
        return kept.gmail;
      }
      const gmail = (async () => {
        const credentials = openGmailCredentials(
          secrets,
          access.organisationId,
          access.mailboxId,
          access.credentialsEncrypted,
        );
        const auth = await gmailAuthClient(credentials, access.email, settings);
        return new gmail_v1.Gmail({
          auth,
          adapter,
          // a path in rootUrl is dropped by googleapis: GMAIL_API_URL is an origin
          ...(settings.apiUrl ? { rootUrl: `${settings.apiUrl.replace(/\/+$/, '')}/` } : {}),
        });
      })();
      // a client that could not be made is not kept: the next call tries again
      gmail.catch(() => clients.delete(access.mailboxId));
      clients.set(access.mailboxId, { sealed: access.credentialsEncrypted, gmail });
      if (clients.size > MAX_CLIENTS) clients.delete(clients.keys().next().value!);
      return gmail;
    },
  };
}

/**
 * What a failed Gmail call means for the caller:
 * - `auth-revoked`: Google refused the mailbox's credentials (revoked grant, deleted client, lost delegation):
 *   the mailbox needs reconnecting; nothing was sent.
 * - `rate-limited`: Gmail asked to slow down (429, or 403 with a rate/quota reason); nothing was sent; try again
 *   after `retryAfterMs` when Google gave one.
 * - `unavailable`: Gmail could not answer a read (5xx, network): try again later.
 * - `unknown-outcome`: a send whose fate is unknown (5xx, timeout, connection lost after the request left):
 *   Gmail may have accepted it, so look it up by its Message-ID before sending it again.
 * - `refused`: Gmail refused this request for good (other 4xx): `reason` says why.
 */
export type GmailFailureKind =
  | 'auth-revoked'
  | 'rate-limited'
  | 'unavailable'
  | 'unknown-outcome'
  | 'refused';

export class GmailCallError extends Error {
  constructor(
    readonly kind: GmailFailureKind,
    /** Google's reason, e.g. `invalid_grant (Token has been expired or revoked.)`, `userRateLimitExceeded`. */
    readonly reason: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`Gmail: ${kind}: ${reason}`);
    this.name = 'GmailCallError';
  }
}

const RATE_REASONS = new Set([
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'quotaExceeded',
  'dailyLimitExceeded',
]);
const AUTH_ERRORS = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'access_denied']);

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** Retry-After in seconds or as an HTTP date, in milliseconds from `now`. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Sorts a googleapis/gaxios error (or anything thrown by a Gmail call) into a GmailCallError. */
export function gmailFailure(error: unknown, call: 'send' | 'read'): GmailCallError {
  if (error instanceof GmailCallError) return error;
  const response = (error as { response?: { status?: number; data?: unknown; headers?: unknown } })?.response;
  const status = response?.status;
  const data = (typeof response?.data === 'object' && response?.data) || {};
  // the OAuth token endpoint's own errors: { error: 'invalid_grant', error_description }
  const oauthError = (data as { error?: unknown }).error;
  if (typeof oauthError === 'string') {
    const description = (data as { error_description?: unknown }).error_description;
    const reason = typeof description === 'string' ? `${oauthError} (${description})` : oauthError;
    if (AUTH_ERRORS.has(oauthError)) return new GmailCallError('auth-revoked', reason, status, undefined);
  }
  if (status === undefined) {
    const reason = (error as Error)?.message ?? 'no answer';
    return new GmailCallError(
      call === 'send' ? 'unknown-outcome' : 'unavailable',
      reason,
      undefined,
      undefined,
    );
  }
  // Gmail's errors: { error: { code, message, errors: [{ reason, message }] } }
  const apiError = (data as { error?: { message?: unknown; errors?: { reason?: unknown }[] } }).error;
  const apiReason = typeof apiError === 'object' ? apiError?.errors?.[0]?.reason : undefined;
  const message =
    typeof apiError === 'object' && typeof apiError?.message === 'string' ? apiError.message : '';
  const reason =
    [typeof apiReason === 'string' ? apiReason : undefined, message].filter(Boolean).join(': ') ||
    `HTTP ${status}`;
  const wait = retryAfterMs(header(response?.headers, 'retry-after'));
  if (status === 429 || (status === 403 && typeof apiReason === 'string' && RATE_REASONS.has(apiReason)))
    return new GmailCallError('rate-limited', reason, status, wait);
  if (status === 401) return new GmailCallError('auth-revoked', reason, status, undefined);
  if (status >= 500 || status === 408)
    return new GmailCallError(call === 'send' ? 'unknown-outcome' : 'unavailable', reason, status, wait);
  return new GmailCallError('refused', reason, status, undefined);
}
