// A local stand-in for Google's OAuth token endpoint, spoken to by the real googleapis clients through
// GOOGLE_TOKEN_URL. Refresh tokens starting with "revoked" are refused (invalid_grant), as is a client secret
// "wrong" (invalid_client); service-account assertions must carry a valid signature of the service account
// it wrote, and are refused (unauthorized_client) for subjects outside its delegated domains.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { importSPKI, jwtVerify } from 'jose';

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

function accessToken() {
  return {
    access_token: `ya29.fake-${randomBytes(12).toString('hex')}`,
    expires_in: 3599,
    token_type: 'Bearer',
  };
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

  async function token(form: URLSearchParams, res: ServerResponse): Promise<void> {
    const grantType = form.get('grant_type') ?? '';
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
      return send(res, 200, { ...accessToken(), scope: 'https://www.googleapis.com/auth/gmail.send' });
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
      return send(res, 200, accessToken());
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
    send(res, 404, { error: { code: 404, message: 'Not found' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    tokenUrl: `${url}/token`,
    serviceAccountFile,
    tokenRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
