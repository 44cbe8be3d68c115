// A local stand-in for Google's OAuth token endpoint and the Gmail API, spoken to by the real googleapis clients
// through GOOGLE_TOKEN_URL and GMAIL_API_URL (both this fake's origin). Refresh tokens starting with "revoked"
// are refused (invalid_grant), as is a client secret "wrong" (invalid_client); service-account assertions
// must carry a valid signature of the service account it wrote, and are refused (unauthorized_client) for
// subjects outside its delegated domains. Each access token belongs to one mailbox: the delegated subject, or
// the address a refresh token was registered for (`mailboxForRefreshToken`, or a token `refresh:<address>`).
// The Gmail side is in ./gmail-store.ts.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { importSPKI, jwtVerify } from 'jose';
import { createGmailStore, type GmailStore } from './gmail-store.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
// what gtoken puts in `aud`, wherever the request is sent
const GOOGLE_TOKEN_AUDIENCE = 'https://oauth2.googleapis.com/token';

export interface TokenRequest {
  grantType: string;
  clientId?: string;
  /** The delegated mailbox, for service-account grants. */
  subject?: string;
}

export interface GoogleFake {
  /** Origin of the fake (the Gmail API fake can grow under it). */
  url: string;
  tokenUrl: string;
  /** A service-account JSON whose key the fake trusts: GOOGLE_SERVICE_ACCOUNT_KEY. */
  serviceAccountFile: string;
  /** Token requests answered, oldest first (refresh tokens and secrets are not kept). */
  tokenRequests: TokenRequest[];
  /** GMAIL_API_URL: the Gmail API's root URL. */
  gmailUrl: string;
  /** The fake mailboxes: what was sent, delivering inbound mail, injecting failures. */
  gmail: GmailStore;
  /** The mailbox a refresh token gives access to. */
  mailboxForRefreshToken(refreshToken: string, mailbox: string): void;
  /** The next `times` token requests fail with this OAuth error (e.g. invalid_grant: a revoked grant). */
  failTokens(error: { status: number; error: string; description?: string }, times?: number): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function formOf(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export async function startGoogleFake(options: {
  dir: string;
  delegatedDomains: string[];
}): Promise<GoogleFake> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const clientEmail = 'prospectflow@fake-project.iam.gserviceaccount.com';
  const serviceAccountFile = path.join(options.dir, 'google-service-account.json');
  await writeFile(
    serviceAccountFile,
    JSON.stringify({
      type: 'service_account',
      client_email: clientEmail,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    }),
    { mode: 0o600 },
  );
  const verifyKey = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }) as string, 'RS256');
  const tokenRequests: TokenRequest[] = [];
  const gmail = createGmailStore();
  const refreshMailboxes = new Map<string, string>();
  const tokenFailures: { status: number; error: string; description?: string }[] = [];
  // access token -> the mailbox it opens
  const accessTokens = new Map<string, string>();
  const accessToken = (mailbox: string | undefined) => {
    const token = `ya29.fake-${randomBytes(12).toString('hex')}`;
    if (mailbox) accessTokens.set(token, mailbox.toLowerCase());
    return { access_token: token, expires_in: 3599, token_type: 'Bearer' };
  };

  async function token(form: URLSearchParams, res: ServerResponse): Promise<void> {
    const grantType = form.get('grant_type') ?? '';
    const failure = tokenFailures.shift();
    if (failure) {
      tokenRequests.push({ grantType });
      return send(res, failure.status, { error: failure.error, error_description: failure.description });
    }
    if (grantType === 'refresh_token') {
      const clientId = form.get('client_id') ?? undefined;
      tokenRequests.push({ grantType, clientId });
      if (form.get('client_secret') === 'wrong') {
        return send(res, 401, { error: 'invalid_client', error_description: 'Unauthorized' });
      }
      if ((form.get('refresh_token') ?? '').startsWith('revoked')) {
        return send(res, 400, {
          error: 'invalid_grant',
          error_description: 'Token has been expired or revoked.',
        });
      }
      const refreshToken = form.get('refresh_token') ?? '';
      const mailbox =
        refreshMailboxes.get(refreshToken) ??
        (refreshToken.startsWith('refresh:') ? refreshToken.slice('refresh:'.length) : undefined);
      return send(res, 200, { ...accessToken(mailbox), scope: 'https://www.googleapis.com/auth/gmail.send' });
    }
    if (grantType === JWT_BEARER) {
      let claims: { iss?: unknown; sub?: unknown };
      try {
        ({ payload: claims } = await jwtVerify(form.get('assertion') ?? '', verifyKey, {
          audience: GOOGLE_TOKEN_AUDIENCE,
        }));
      } catch {
        tokenRequests.push({ grantType });
        return send(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
      }
      const subject = typeof claims.sub === 'string' ? claims.sub : '';
      tokenRequests.push({ grantType, subject });
      const domain = subject.slice(subject.lastIndexOf('@') + 1);
      if (claims.iss !== clientEmail || !options.delegatedDomains.includes(domain)) {
        return send(res, 401, {
          error: 'unauthorized_client',
          error_description: 'Client is unauthorized to retrieve access tokens using this method.',
        });
      }
      return send(res, 200, accessToken(subject));
    }
    tokenRequests.push({ grantType });
    return send(res, 400, {
      error: 'unsupported_grant_type',
      error_description: `Invalid grant_type: ${grantType}`,
    });
  }

  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/token') {
      formOf(req)
        .then((form) => token(form, res))
        .catch(() => send(res, 500, { error: 'internal' }));
      return;
    }
    if (req.url?.startsWith('/gmail/v1/users/')) {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const mailbox = bearer ? accessTokens.get(bearer) : undefined;
      if (!mailbox) {
        return send(res, 401, {
          error: {
            code: 401,
            message: 'Request had invalid authentication credentials.',
            status: 'UNAUTHENTICATED',
          },
        });
      }
      gmail.handle(mailbox, req, res).catch(() => send(res, 500, { error: { code: 500, message: 'fake' } }));
      return;
    }
    send(res, 404, { error: { code: 404, message: 'Not found' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    tokenUrl: `${url}/token`,
    serviceAccountFile,
    tokenRequests,
    gmailUrl: url,
    gmail,
    mailboxForRefreshToken: (refreshToken, mailbox) =>
      refreshMailboxes.set(refreshToken, mailbox.toLowerCase()),
    failTokens: (error, times = 1) => {
      for (let i = 0; i < times; i++) tokenFailures.push(error);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
