// The gateway's /t/ paths: what reaches the tracking service (method, path, bounded body, the client's address as
// the gateway's TRUST_PROXY rules see it, no credentials), what comes back (status, headers, body; hop-by-hop
// headers dropped), and the per-address rate limit of anonymous tracking hits.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningGateway, startGateway } from '../gateway/gateway.ts';
import { gatewayRoutes } from '../gateway/routes.ts';
import { loadConfig } from '../lib/config.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let upstream: Server;
let seen: Seen[] = [];
const gateways: RunningGateway[] = [];

beforeAll(async () => {
  // stands in for the tracking service: records the request, answers with a few telling headers
  upstream = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    seen.push({
      method: req.method!,
      url: req.url!,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    res.writeHead(req.url!.includes('missing') ? 404 : 200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-tracking': 'yes',
      'keep-alive': 'timeout=5',
      connection: 'keep-alive, x-private',
      'x-private': 'only for the gateway',
    });
    // streamed in two writes: chunked on the way out of the tracking service
    res.write('<p>first</p>');
    res.end('<p>second</p>');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const gateway of gateways) await gateway.stop();
  await new Promise((resolve) => upstream.close(resolve));
});

/** A gateway with these settings whose tracking service is at `trackingOrigin` (default: the stand-in). */
async function gateway(env: Record<string, string> = {}, trackingOrigin?: string): Promise<string> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'fatal',
    DATABASE_URL: inject('databaseUrl'),
    DATA_DIR: inject('dataDir'),
    ...env,
  });
  const origin = trackingOrigin ?? `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  const running = await startGateway(
    { ...config, subgraphUrls: { ...(inject('subgraphUrls') as any), tracking: `${origin}/graphql` } },
    { port: 0, host: '127.0.0.1', routes: gatewayRoutes },
  );
  gateways.push(running);
  return `http://127.0.0.1:${running.port}`;
}

describe('the gateway forwards /t/ to the tracking service', () => {
  it('passes method, path, body and the client address on, and streams the answer back without hop-by-hop headers', async () => {
    const base = await gateway();
    seen = [];
    const res = await fetch(`${base}/t/u/abc_DEF-123?x=1`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': 'Mail provider',
        'x-forwarded-for': '198.51.100.9', // not trusted: the gateway trusts no proxy by default
        authorization: 'Bearer not-for-tracking',
        cookie: 'session=1',
        'x-request-id': 'unsubscribe-req-1',
      },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<p>first</p><p>second</p>');
    expect(res.headers.get('x-tracking')).toBe('yes');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('x-private')).toBeNull();
    // the gateway's own connection settings, not the tracking service's
    expect(res.headers.get('keep-alive')).not.toBe('timeout=5');
    expect(res.headers.get('x-request-id')).toBe('unsubscribe-req-1');

    expect(seen).toHaveLength(1);
    const [request] = seen as [Seen];
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/t/u/abc_DEF-123?x=1');
    expect(request.body).toBe('List-Unsubscribe=One-Click');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.headers['user-agent']).toBe('Mail provider');
    expect(request.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(request.headers['x-request-id']).toBe('unsubscribe-req-1');
    expect(request.headers.authorization).toBeUndefined();
    expect(request.headers.cookie).toBeUndefined();
  });

  it('keeps the tracking service’s status, and HEAD and GET carry no body upstream', async () => {
    const base = await gateway();
    seen = [];
    const res = await fetch(`${base}/t/u/missing`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('<p>first</p><p>second</p>');
    expect((await fetch(`${base}/t/o/token.gif`, { method: 'HEAD' })).status).toBe(200);
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ['GET', '/t/u/missing', ''],
      ['HEAD', '/t/o/token.gif', ''],
    ]);
  });

  it('uses the forwarded address of a trusted proxy, as for every other limit', async () => {
    const base = await gateway({ TRUST_PROXY: '1' });
    seen = [];
    await fetch(`${base}/t/u/x`, { headers: { 'x-forwarded-for': '203.0.113.50' } });
    expect(seen[0]!.headers['x-forwarded-for']).toBe('203.0.113.50');
  });

  it('refuses bodies past its bound before the tracking service sees them', async () => {
    const base = await gateway();
    seen = [];
    const res = await fetch(`${base}/t/u/x`, { method: 'POST', body: 'x'.repeat(10_000) });
    expect(res.status).toBe(413);
    expect(seen).toEqual([]);
  });

  it('rate-limits tracking hits per client address with the `tracking` rule', async () => {
    const base = await gateway({ RATE_LIMITS: 'tracking=3/60' });
    seen = [];
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/t/u/x${i}`)).status).toBe(200);
    // another claimed address buys nothing: no proxy is trusted
    const refused = await fetch(`${base}/t/u/x3`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as any).errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(seen).toHaveLength(3);
  });

  it('answers 503 when the tracking service cannot be reached', async () => {
    // a port nothing listens on any more
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const base = await gateway({}, `http://127.0.0.1:${deadPort}`);
    const res = await fetch(`${base}/t/u/x`, { method: 'POST', body: 'List-Unsubscribe=One-Click' });
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
  });
});
