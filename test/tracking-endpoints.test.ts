// The open pixel and click links on the public port: the gateway forwards /t/o/ and /t/c/ to the tracking
// service, which checks the token alone, answers once the hit is handed on, and the events worker stores it
// (tracking.events here: the test stack has no ClickHouse). Forged and altered links store nothing.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBus } from '../lib/bus/index.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import { type TokenSigner, trackingSigner, trackingUrl } from '../lib/tracking/tokens.ts';
import { hitRoute, PIXEL_GIF } from '../subgraphs/tracking/routes/hit.route.ts';
import { seedAwaitingMessages, seedDraftCampaign } from './helpers/drafts.ts';
import { gatewayWith } from './helpers/gateway.ts';

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';

let owner: pg.Pool;
let signer: TokenSigner;
let gateway: string;
let organisationId: string;
let messageIds: string[];

interface EventRow {
  kind: string;
  url: string | null;
  machine: string | null;
  user_agent: string | null;
  ip_hash: string | null;
  occurred_at: Date;
}

/** Polls until `read` gives a value (the events worker stores hits a moment after they are answered). */
async function waitFor<T>(read: () => Promise<T | undefined>, withinMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() - started > withinMs) throw new Error(`nothing after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function eventsOf(messageId: string): Promise<EventRow[]> {
  const { rows } = await owner.query<EventRow>(
    `SELECT kind, url, machine, user_agent, ip_hash, occurred_at FROM tracking.events
     WHERE organisation_id = $1 AND message_id = $2 ORDER BY occurred_at, kind`,
    [organisationId, messageId],
  );
  return rows;
}

function openUrl(messageId: string, base = gateway): string {
  const token = { kind: 'open' as const, organisationId, messageId };
  return trackingUrl(base, token, signer.sign(token));
}

function clickUrl(messageId: string, url: string, base = gateway): string {
  const token = { kind: 'click' as const, organisationId, messageId, url };
  return trackingUrl(base, token, signer.sign(token));
}

beforeAll(async () => {
  owner = new pg.Pool({ connectionString: inject('databaseUrl'), max: 2 });
  // the stack's tracking key: generated once under DATA_DIR, as every process of a deployment reads it
  signer = await trackingSigner({
    trackingSecret: undefined,
    trackingSecretPrevious: undefined,
    dataDir: inject('dataDir'),
  });
  gateway = inject('gatewayUrl').replace(/\/graphql$/, '');
  const seed = await seedDraftCampaign(owner, {
    steps: [{ subject: 'Hello', body: 'Hi' }],
    people: [{ firstName: 'Ann' }, { firstName: 'Bob' }, { firstName: 'Cy' }],
    requireApproval: true,
  });
  organisationId = seed.organisationId;
  messageIds = await seedAwaitingMessages(owner, seed, 0);
});
afterAll(async () => {
  await owner?.end();
});

describe('the open pixel through the gateway', () => {
  it('answers a 43-byte GIF nobody caches, and the open is stored with a hashed address', async () => {
    const messageId = messageIds[0]!;
    const res = await fetch(openUrl(messageId), { headers: { 'user-agent': CHROME } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('cache-control')).toContain('no-store');
    expect(res.headers.get('cache-control')).toContain('private');
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(43);
    expect(body.equals(PIXEL_GIF)).toBe(true);
    expect(body.subarray(0, 6).toString()).toBe('GIF89a');

    const head = await fetch(openUrl(messageId), { method: 'HEAD', headers: { 'user-agent': CHROME } });
    expect(head.status).toBe(200);
    expect((await head.arrayBuffer()).byteLength).toBe(0);

    const events = await waitFor(async () => {
      const rows = await eventsOf(messageId);
      return rows.length === 2 ? rows : undefined;
    });
    expect(events.map((e) => [e.kind, e.url, e.machine, e.user_agent])).toEqual([
      ['OPEN', null, null, CHROME],
      ['OPEN', null, 'head', CHROME],
    ]);
    for (const e of events) {
      // a keyed hash: neither the address nor its plain digest
      expect(e.ip_hash).toMatch(/^[0-9a-f]{32}$/);
      for (const address of ['127.0.0.1', '::ffff:127.0.0.1', '::1'])
        expect(e.ip_hash).not.toBe(createHash('md5').update(address).digest('hex'));
    }
    // same client, same key: the same hash
    expect(events[0]!.ip_hash).toBe(events[1]!.ip_hash);
  });

  it('marks scanners and HTTP libraries as machines', async () => {
    const messageId = messageIds[1]!;
    for (const ua of ['curl/8.5.0', 'Mozilla/5.0 (compatible; Barracuda Sentinel)'])
      expect((await fetch(openUrl(messageId), { headers: { 'user-agent': ua } })).status).toBe(200);
    const events = await waitFor(async () => {
      const rows = await eventsOf(messageId);
      return rows.length === 2 ? rows : undefined;
    });
    expect(events.map((e) => e.machine)).toEqual(['scanner-ua', 'scanner-ua']);
  });
});

describe('click links through the gateway', () => {
  it('redirect to exactly the URL the token signs, and the click is stored with it', async () => {
    const messageId = messageIds[2]!;
    const target = 'https://example.com/prix?offre=été&x=1#plans';
    const res = await fetch(clickUrl(messageId, target), {
      redirect: 'manual',
      headers: { 'user-agent': CHROME },
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(target);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toContain('no-store');
    const events = await waitFor(async () => {
      const rows = (await eventsOf(messageId)).filter((e) => e.kind === 'CLICK');
      return rows.length === 1 ? rows : undefined;
    });
    expect(events[0]).toMatchObject({ kind: 'CLICK', url: target, machine: null });
  });

  it('answer 404 to forged, altered and misplaced tokens, 405 to other methods, and store nothing', async () => {
    const messageId = messageIds[0]!;
    const before = (await eventsOf(messageId)).length;
    const click = clickUrl(messageId, 'https://example.com/a');
    const token = click.slice(click.lastIndexOf('/') + 1);
    // the URL inside the token changed: the MAC no longer matches
    const bytes = Buffer.from(token, 'base64url');
    bytes[40] = bytes[40]! ^ 0x01;
    const altered = `${gateway}/t/c/${bytes.toString('base64url')}`;
    const open = openUrl(messageId);
    const openToken = open.slice(open.lastIndexOf('/') + 1, -'.gif'.length);
    const cases: Array<[string, string]> = [
      ['altered click', altered],
      ['forged click', `${gateway}/t/c/AQBjAAAAAAAAAAAAAAAAAAAAAAA`],
      ['open token on the click path', `${gateway}/t/c/${openToken}`],
      ['click token on the pixel path', `${gateway}/t/o/${token}.gif`],
      ['pixel without .gif', `${gateway}/t/o/${openToken}`],
      ['empty token', `${gateway}/t/o/.gif`],
    ];
    for (const [what, url] of cases) {
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status, what).toBe(404);
      expect(res.headers.get('location'), what).toBeNull();
    }
    const post = await fetch(open, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    // a valid hit afterwards is stored: nothing of the refused ones was
    await fetch(open, { headers: { 'user-agent': CHROME } });
    const rows = await waitFor(async () => {
      const r = await eventsOf(messageId);
      return r.length > before ? r : undefined;
    });
    expect(rows.length).toBe(before + 1);
  });

  it("count against the gateway's tracking rate rule per client address", async () => {
    const limited = await gatewayWith({ RATE_LIMITS: 'tracking=2/60' });
    const base = `http://127.0.0.1:${limited.port}`;
    const statuses: number[] = [];
    for (const url of [
      openUrl(messageIds[1]!, base),
      clickUrl(messageIds[1]!, 'https://example.com/b', base),
      openUrl(messageIds[1]!, base),
    ])
      statuses.push((await fetch(url, { redirect: 'manual', headers: { 'user-agent': CHROME } })).status);
    expect(statuses).toEqual([200, 302, 429]);
  });
});

describe('when a hit cannot be handed on', () => {
  let server: Server | undefined;
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it('the pixel answers 503 with Retry-After, and a click still takes the person to the link', async () => {
    const silent = createLogger('test', 'silent');
    // a bus that is gone: every publish fails
    const bus = await createBus({ logger: silent });
    await bus.close();
    const route = hitRoute({ deps: { tokens: signer, bus }, log: silent });
    server = createServer(async (req, res) => {
      if (!(await route(req, res, 'request-1'))) res.writeHead(418).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

    const pixel = await fetch(openUrl(messageIds[0]!, base));
    expect(pixel.status).toBe(503);
    expect(pixel.headers.get('retry-after')).toBe('30');
    expect(pixel.headers.get('content-type')).not.toBe('image/gif');
    const click = await fetch(clickUrl(messageIds[0]!, 'https://example.com/still', base), {
      redirect: 'manual',
    });
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe('https://example.com/still');
  });
});
