// The unsubscribe route on its own (an in-process bus, no database): key rotation, what is handed to the
// workers, and a broker that cannot take the unsubscribe; and the tracking service refusing to start alone
// without a broker.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { UNSUBSCRIBE_QUEUE } from '../lib/bus/catalog.ts';
import { type Bus, type Consumer, createBus } from '../lib/bus/index.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import { createTokenSigner, type TokenSigner } from '../lib/tracking/tokens.ts';
import { unsubscribeRoute } from '../subgraphs/tracking/routes/unsubscribe.route.ts';
import { eventually } from './helpers/wait.ts';

const silent = createLogger('test', 'silent');
const OLD_KEY = randomBytes(32).toString('base64url');
const NEW_KEY = randomBytes(32).toString('base64url');
const ONE_CLICK = 'List-Unsubscribe=One-Click';

interface Handed {
  body: Record<string, string>;
  messageId: string;
}

let bus: Bus;
let consumer: Consumer | undefined;
let handed: Handed[];
let server: Server;
let base: string;

/** The route as the tracking service runs it during a rotation: the new key signs, both verify. */
async function serve(keys: string[]) {
  bus = await createBus({ logger: silent });
  handed = [];
  consumer = await bus.consume<Record<string, string>>(UNSUBSCRIBE_QUEUE.name, async (body, info) => {
    handed.push({ body, messageId: info.messageId });
  });
  const route = unsubscribeRoute({ deps: { tokens: createTokenSigner(keys), bus }, log: silent });
  server = createServer(async (req, res) => {
    if (!(await route(req, res, 'request-1'))) {
      res.statusCode = 418;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

afterEach(async () => {
  await consumer?.close();
  consumer = undefined;
  await new Promise((resolve) => server?.close(resolve));
  await bus?.close().catch(() => {});
});

function unsubscribeToken(signer: TokenSigner) {
  const token = {
    kind: 'unsubscribe' as const,
    organisationId: randomUUID(),
    messageId: randomUUID(),
    positionId: randomUUID(),
  };
  return { token, path: `/t/u/${signer.sign(token)}` };
}

const post = (path: string) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: ONE_CLICK,
  });

async function handedOnce(messageId: string) {
  // the in-process bus delivers on a later turn of the event loop
  await eventually(async () => handed.some((h) => h.body.messageId === messageId), 5000);
  return handed.filter((h) => h.body.messageId === messageId);
}

describe('the unsubscribe route', () => {
  it('accepts links signed with the previous key during a rotation, and with the new one', async () => {
    await serve([NEW_KEY, OLD_KEY]);
    for (const key of [OLD_KEY, NEW_KEY]) {
      const { token, path } = unsubscribeToken(createTokenSigner([key]));
      const res = await post(path);
      expect(res.status).toBe(200);
      expect(await handedOnce(token.messageId)).toEqual([
        {
          body: {
            organisationId: token.organisationId,
            messageId: token.messageId,
            positionId: token.positionId,
          },
          messageId: `unsubscribe:${token.messageId}`,
        },
      ]);
    }
  });

  it('refuses links of a key no longer configured, and tokens of another kind', async () => {
    await serve([NEW_KEY]);
    const retired = unsubscribeToken(createTokenSigner([OLD_KEY]));
    expect((await post(retired.path)).status).toBe(404);
    const open = createTokenSigner([NEW_KEY]).sign({
      kind: 'open',
      organisationId: randomUUID(),
      messageId: randomUUID(),
    });
    expect((await post(`/t/u/${open}`)).status).toBe(404);
    expect(handed).toEqual([]);
    // not its path: left to the next route
    expect((await fetch(`${base}/t/o/${open}.gif`)).status).toBe(418);
  });

  it('answers 503 "try again" when the broker cannot take the unsubscribe, never 200', async () => {
    await serve([NEW_KEY]);
    await consumer?.close();
    consumer = undefined;
    await bus.close();
    const res = await post(unsubscribeToken(createTokenSigner([NEW_KEY])).path);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('60');
    expect(await res.text()).toContain('try again');
  });
});

describe('the tracking service alone', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'prospectflow-tracking-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses to start without AMQP_URL, in one line saying why', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'subgraphs/main.ts', 'tracking'], {
      cwd: path.resolve(import.meta.dirname, '..'),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: tmpdir(),
        LOG_LEVEL: 'warn',
        DATABASE_URL: inject('databaseUrl'),
        DATA_DIR: dataDir,
        TRACKING_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^prospectflow: AMQP_URL is required to run the tracking service alone/),
    ]);
  });
});
