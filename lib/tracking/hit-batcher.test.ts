import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHitBatcher, HitsNotStored } from './hit-batcher.ts';
import type { HitBatch, TrackingHit } from './hits.ts';

function hit(): TrackingHit {
  return {
    id: randomUUID(),
    kind: 'OPEN',
    organisationId: randomUUID(),
    messageId: randomUUID(),
    url: null,
    at: new Date().toISOString(),
    machine: null,
    userAgent: 'Thunderbird/115.0',
    ipHash: null,
  };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('hit batcher (group commit)', () => {
  it('sends the hits of one turn as one batch and answers them only once it is confirmed', async () => {
    const batches: HitBatch[] = [];
    const confirm = deferred();
    const batcher = createHitBatcher({
      commit: (batch) => {
        batches.push(batch);
        return confirm.promise;
      },
    });
    const hits = Array.from({ length: 300 }, hit);
    let answered = 0;
    const waiting = hits.map((h) => batcher.add(h).then(() => answered++));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches.map((b) => b.hits.length)).toEqual([300]);
    expect(batches[0]!.hits.map((h) => h.id)).toEqual(hits.map((h) => h.id));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answered).toBe(0);
    confirm.resolve();
    await Promise.all(waiting);
    expect(answered).toBe(300);
  });

  it('splits at maxBatch, keeps at most maxInFlight batches unconfirmed, and sends what waited next', async () => {
    const batches: HitBatch[] = [];
    const confirms: Array<ReturnType<typeof deferred>> = [];
    const batcher = createHitBatcher({
      commit: (batch) => {
        batches.push(batch);
        const d = deferred();
        confirms.push(d);
        return d.promise;
      },
      maxBatch: 100,
      maxInFlight: 2,
    });
    const all = Array.from({ length: 450 }, () => batcher.add(hit()));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches.map((b) => b.hits.length)).toEqual([100, 100]);
    confirms[0]!.resolve();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(batches.map((b) => b.hits.length)).toEqual([100, 100, 100]);
    for (let i = 1; i < 5; i++) {
      confirms[i]!.resolve();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(all);
    expect(batches.map((b) => b.hits.length)).toEqual([100, 100, 100, 100, 50]);
  });

  it('a batch that is not confirmed fails each of its hits, and the next batch is unaffected', async () => {
    let calls = 0;
    const batcher = createHitBatcher({
      commit: async () => {
        calls++;
        if (calls === 1) throw new Error('channel closed');
      },
    });
    const first = [batcher.add(hit()), batcher.add(hit())];
    for (const p of first) await expect(p).rejects.toBeInstanceOf(HitsNotStored);
    await expect(batcher.add(hit())).resolves.toBeUndefined();
  });

  it('refuses at once beyond maxWaiting, and after close', async () => {
    const stuck = deferred();
    const batcher = createHitBatcher({
      commit: () => stuck.promise,
      maxWaiting: 2,
      maxInFlight: 1,
      maxBatch: 1,
    });
    const a = batcher.add(hit());
    await new Promise((resolve) => setImmediate(resolve));
    const b = batcher.add(hit());
    const c = batcher.add(hit());
    await expect(batcher.add(hit())).rejects.toThrow(/too many waiting/);
    stuck.resolve();
    const closing = batcher.close();
    await expect(batcher.add(hit())).rejects.toThrow(/closing/);
    await closing;
    await expect(Promise.all([a, b, c])).resolves.toBeDefined();
  });
});
