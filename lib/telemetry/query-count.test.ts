// Per-request query counts: added up per request id, bounded in memory, never served in production.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';
import { createQueryCounts } from './query-count.ts';

async function serve(route: ReturnType<ReturnType<typeof createQueryCounts>['route']>) {
  const server = createServer(async (req, res) => {
    if (!(await route(req, res, 'id'))) {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('query counts', () => {
  it('adds up per request id, forgets the oldest beyond its bound, and feeds the histogram', async () => {
    const metrics = createMetrics('test');
    const counts = createQueryCounts(metrics, { exposed: true, remember: 2 });
    counts.record('a', 2);
    counts.record('a', 3);
    counts.record('b', 1);
    counts.record('c', 7);
    expect([counts.countOf('a'), counts.countOf('b'), counts.countOf('c')]).toEqual([undefined, 1, 7]);
    expect(await metrics.registry.getSingleMetricAsString('db_queries_per_request')).toMatch(
      /db_queries_per_request_count\{service="test"\} 4/,
    );

    const { origin, close } = await serve(counts.route());
    try {
      expect(await (await fetch(`${origin}/debug/queries/c`)).json()).toEqual({ requestId: 'c', queries: 7 });
      expect(await (await fetch(`${origin}/debug/queries/zz`)).json()).toEqual({
        requestId: 'zz',
        queries: null,
      });
    } finally {
      await close();
    }
  });

  it('is not served in production', async () => {
    const counts = createQueryCounts(createMetrics('test'), { exposed: false });
    counts.record('a', 1);
    const { origin, close } = await serve(counts.route());
    try {
      expect((await fetch(`${origin}/debug/queries/a`)).status).toBe(404);
    } finally {
      await close();
    }
  });
});
