// Gmail credentials of a mailbox: a user's OAuth refresh token, or domain-wide delegation through the
// service account. Both get their access tokens from one token URL (GOOGLE_TOKEN_URL), so a local server
// can stand in for Google.
import { readFile } from 'node:fs/promises';
import { JWT, OAuth2Client } from 'google-auth-library';
import type { Config } from '../config.ts';
import type { SecretBox } from '../secrets/secret-box.ts';

export type GmailCredentials =
  | { kind: 'OAUTH'; clientId: string; clientSecret: string; refreshToken: string }
  | { kind: 'DELEGATED' };

export type GoogleSettings = Config['gmail'];

/** Sending, and reading what comes back (replies, bounces). */
export const GMAIL_SCOPES = [
  'https://www.googleapis.com/auth/gmail.send',
  'https://www.googleapis.com/auth/gmail.readonly',
];

const GOOGLE_TOKEN_ORIGIN = 'https://oauth2.googleapis.com';

type AuthClient = OAuth2Client | JWT;

/** Why Google refused, from its OAuth error body (`invalid_grant: Token has been expired or revoked.`). */
export class GoogleAuthRefused extends Error {
  constructor(readonly reason: string) {
    super(`Google refused the credentials: ${reason}`);
    this.name = 'GoogleAuthRefused';
  }
}

/** Google could not be asked (network, 5xx): nothing is known about the credentials. */
export class GoogleUnreachable extends Error {
  constructor(readonly status: number | undefined) {
    super(`Google's token endpoint did not answer${status ? ` (HTTP ${status})` : ''}`);
    this.name = 'GoogleUnreachable';
  }
}

/** The server cannot do domain-wide delegation: no readable service-account key is configured. */
export class DelegationUnavailable extends Error {
  constructor(why: string) {
    super(`Delegated Gmail mailboxes need a service account: ${why}`);
    this.name = 'DelegationUnavailable';
  }
}

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
}

async function readServiceAccount(file: string): Promise<ServiceAccountKey> {
  let parsed: Partial<ServiceAccountKey>;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new DelegationUnavailable('GOOGLE_SERVICE_ACCOUNT_KEY does not name a readable JSON file');
  }
  if (typeof parsed.client_email !== 'string' || typeof parsed.private_key !== 'string') {
    throw new DelegationUnavailable('the GOOGLE_SERVICE_ACCOUNT_KEY file has no client_email or private_key');
  }
  return parsed as ServiceAccountKey;
}

/** An auth client for the mailbox, refreshing its access token as needed. */
export async function gmailAuthClient(
  credentials: GmailCredentials,
  mailboxEmail: string,
  settings: GoogleSettings,
): Promise<AuthClient> {
  if (credentials.kind === 'OAUTH') {
    const client = new OAuth2Client({
      clientId: credentials.clientId,
      clientSecret: credentials.clientSecret,
      ...(settings.tokenUrl ? { endpoints: { oauth2TokenUrl: settings.tokenUrl } } : {}),
      forceRefreshOnFailure: true,
    });
    client.setCredentials({ refresh_token: credentials.refreshToken });
    return client;
  }
  if (!settings.serviceAccountKey) {
    throw new DelegationUnavailable('GOOGLE_SERVICE_ACCOUNT_KEY is not configured on the server');
  }
  const account = await readServiceAccount(settings.serviceAccountKey);
  const client = new JWT({
    email: account.client_email,
    key: account.private_key,
    scopes: GMAIL_SCOPES,
    subject: mailboxEmail,
  });
  const tokenUrl = settings.tokenUrl;
  if (tokenUrl) {
    // the JWT flow has no token URL option: send its token requests (and only those) to the configured one
    client.transporter.interceptors.request.add({
      resolved: async (options) => {
        const url = options.url instanceof URL ? options.url : new URL(String(options.url));
        if (url.origin === GOOGLE_TOKEN_ORIGIN && url.pathname === '/token') options.url = new URL(tokenUrl);
        return options;
      },
    });
  }
  return client;
}

/**
 * Asks Google for an access token: resolves when the credentials work, else GoogleAuthRefused,
 * GoogleUnreachable or DelegationUnavailable (none of which carries the request, so no secret reaches a log).
 */
export async function verifyGmailCredentials(
  credentials: GmailCredentials,
  mailboxEmail: string,
  settings: GoogleSettings,
): Promise<void> {
  const client = await gmailAuthClient(credentials, mailboxEmail, settings);
  try {
    const { token } = await client.getAccessToken();
    if (!token) throw new GoogleAuthRefused('no access token was issued');
  } catch (error) {
    throw googleAuthError(error);
  }
}

/** A token request's failure as GoogleAuthRefused (4xx: the credentials) or GoogleUnreachable. */
export function googleAuthError(error: unknown): Error {
  if (error instanceof GoogleAuthRefused) return error;
  const response = (error as { response?: { status?: number; data?: unknown } }).response;
  const status = response?.status;
  if (status === undefined || status >= 500) return new GoogleUnreachable(status);
  const data = (typeof response?.data === 'object' && response?.data) || {};
  const { error: code, error_description: description } = data as {
    error?: unknown;
    error_description?: unknown;
  };
  const reason = typeof code === 'string' ? code : `HTTP ${status}`;
  return new GoogleAuthRefused(typeof description === 'string' ? `${reason} (${description})` : reason);
}

/** The AAD of a mailbox's sealed credentials: they open only on the row they were sealed for. */
function credentialsContext(organisationId: string, mailboxId: string): string {
  return `outreach.mailboxes:${organisationId}:${mailboxId}`;
}

export function sealGmailCredentials(
  box: SecretBox,
  organisationId: string,
  mailboxId: string,
  credentials: GmailCredentials,
): string {
  return box.seal(JSON.stringify(credentials), credentialsContext(organisationId, mailboxId));
}

export function openGmailCredentials(
  box: SecretBox,
  organisationId: string,
  mailboxId: string,
  sealed: string,
): GmailCredentials {
  return JSON.parse(box.open(sealed, credentialsContext(organisationId, mailboxId))) as GmailCredentials;
}
