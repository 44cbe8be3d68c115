// Hit batches on the bus: checked on the way in and on the way out, sent to both tracking queues at once.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ENGAGEMENT_QUEUE, HITS_QUEUE } from '../bus/catalog.ts';
import { consumeBatch, sendBatch } from '../bus/descriptors.ts';
import { MemoryBus } from '../bus/memory-bus.ts';
import type { HitBatch, TrackingHit } from './hits.ts';

const silent = { warn: () => {}, error: () => {} };

function click(): TrackingHit {
  return {
    id: randomUUID(),
    kind: 'CLICK',
    organisationId: randomUUID(),
    messageId: randomUUID(),
    url: 'https://example.com/pricing',
    at: '2026-11-29T17:00:00.123Z',
    machine: 'scanner-ua',
    userAgent: 'curl/8.5.0',
    ipHash: 'ab'.repeat(16),
  };
}

describe('tracking hit batches', () => {
  it('go to the raw-store and the counters queues, and arrive as they were sent', async () => {
    const bus = new MemoryBus({ logger: silent });
    const got: Record<string, HitBatch[]> = { hits: [], engagement: [] };
    await consumeBatch(bus, HITS_QUEUE, async (batch) => void got.hits!.push(batch));
    await consumeBatch(bus, ENGAGEMENT_QUEUE, async (batch) => void got.engagement!.push(batch));
    const batch = { hits: [click(), { ...click(), kind: 'OPEN' as const, url: null, machine: null }] };
    await sendBatch(bus, [HITS_QUEUE, ENGAGEMENT_QUEUE], batch, { messageId: 'batch-1' });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await bus.close();
    expect(got.hits).toEqual([batch]);
    expect(got.engagement).toEqual([batch]);
  });

  it('are refused when a hit is malformed, before sending and on delivery', async () => {
    const bus = new MemoryBus({ logger: silent });
    const cases: Array<[string, unknown]> = [
      ['an empty batch', { hits: [] }],
      ['an organisation that is not a UUID', { hits: [{ ...click(), organisationId: 'acme' }] }],
      ['an unknown kind', { hits: [{ ...click(), kind: 'UNSUBSCRIBE' }] }],
      ['an open with a URL', { hits: [{ ...click(), kind: 'OPEN' }] }],
      ['a local time', { hits: [{ ...click(), at: '2026-11-29 17:00:00' }] }],
      ['an unknown machine reason', { hits: [{ ...click(), machine: 'robot' }] }],
      ['an overlong user agent', { hits: [{ ...click(), userAgent: 'x'.repeat(513) }] }],
    ];
    for (const [what, body] of cases) {
      await expect(sendBatch(bus, HITS_QUEUE, body as HitBatch, { messageId: 'bad' }), what).rejects.toThrow(
        /hit/,
      );
    }
    const received: unknown[] = [];
    await consumeBatch(bus, HITS_QUEUE, async (batch) => void received.push(batch));
    // sent around the descriptor: the consumer sends it to the dead letters untouched
    await bus.send(HITS_QUEUE.name, { hits: [{ ...click(), id: 'not-a-uuid' }] });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await bus.close();
    expect(received).toEqual([]);
    expect(await bus.deadLetters(HITS_QUEUE.name)).toHaveLength(1);
  });
});
