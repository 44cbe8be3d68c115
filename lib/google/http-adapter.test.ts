import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { OAuth2Client } from 'google-auth-library';
import { gmail_v1 } from 'googleapis/build/src/apis/gmail/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gmailFailure } from './gmail-client.ts';
import { keepAliveAdapter } from './http-adapter.ts';

let server: Server;
let origin: string;
let connections = 0;
const bodies: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      if (req.url?.includes('/messages/send')) {
        const raw = JSON.parse(bodies.at(-1)!).raw as string;
        if (raw === 'refuse') {
          res.writeHead(400, { 'content-type': 'application/json; charset=UTF-8' });
          res.end(
            JSON.stringify({
              error: { code: 400, message: 'Invalid To header', errors: [{ reason: 'invalidArgument' }] },
            }),
          );
          return;
        }
        // gzip, as Google answers a client that asks for it
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-encoding': 'gzip' });
        res.end(gzipSync(JSON.stringify({ id: `id-${raw}`, threadId: 't1' })));
        return;
      }
      res.writeHead(404).end();
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function gmail() {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: 'token', expiry_date: Date.now() + 3_600_000 });
  const adapter = keepAliveAdapter(4) as unknown as NonNullable<
    ConstructorParameters<typeof gmail_v1.Gmail>[0]
  >['adapter'];
  return new gmail_v1.Gmail({ auth, adapter, rootUrl: `${origin}/` });
}

describe('the Gmail HTTP adapter', () => {
  it('sends the JSON body, reads a gzip answer, and keeps the connection for the next call', async () => {
    const client = gmail();
    const before = connections;
    for (const raw of ['a', 'b', 'c']) {
      const { data } = await client.users.messages.send({ userId: 'me', requestBody: { raw } });
      expect(data).toEqual({ id: `id-${raw}`, threadId: 't1' });
    }
    expect(JSON.parse(bodies.at(-1)!)).toEqual({ raw: 'c' });
    expect(connections - before).toBe(1);
  });

  it("keeps Google's error body, so the failure is sorted with Google's reason", async () => {
    const error = await gmail()
      .users.messages.send({ userId: 'me', requestBody: { raw: 'refuse' } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(gmailFailure(error, 'send')).toMatchObject({
      kind: 'refused',
      status: 400,
      reason: 'invalidArgument: Invalid To header',
    });
  });
});
