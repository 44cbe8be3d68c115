// Group commit of tracking hits: the hits that arrive within one turn of the event loop (at most `maxBatch`) go
// out as ONE message, and each waiting request is answered once that message is confirmed. A confirm per
// request would cap the endpoint at the broker's round trips; answering before the confirm would lose answered
// hits in a crash. While `maxInFlight` batches await their confirms, new hits wait and form the next batch.
// One batch in flight is the default: the broker confirms a persistent message once its queue has synced it to
// disk, and a queue syncs at once when nothing else waits in it but defers the sync while messages keep coming,
// so several small batches in flight each wait longer than one large batch does.
// The events worker groups its writes the same way (one write in flight, the next gathering meanwhile).
import type { HitBatch, TrackingHit } from './hits.ts';

export interface HitBatcher {
  /** Resolves once the hit's batch is confirmed; rejects when it could not be published (or too many wait). */
  add(hit: TrackingHit): Promise<void>;
  /** Publishes what waits and resolves when every batch has settled. */
  close(): Promise<void>;
}

export interface HitBatcherOptions {
  /** Publishes or writes one batch; resolves once it is durable (confirmed, written). */
  commit(batch: HitBatch): Promise<void>;
  maxBatch?: number;
  maxInFlight?: number;
  /** Hits waiting for a batch beyond this are refused at once: the broker is not keeping up. */
  maxWaiting?: number;
}

export class HitsNotStored extends Error {
  override name = 'HitsNotStored';
}

interface Waiting {
  hit: TrackingHit;
  resolve(): void;
  reject(error: Error): void;
}

export const DEFAULT_MAX_BATCH = 500;
export const DEFAULT_MAX_IN_FLIGHT = 1;
export const DEFAULT_MAX_WAITING = 20_000;

export function createHitBatcher(options: HitBatcherOptions): HitBatcher {
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
  let waiting: Waiting[] = [];
  let scheduled = false;
  let inFlight = 0;
  let closed = false;
  const settled = new Set<Promise<void>>();

  const flush = () => {
    scheduled = false;
    while (waiting.length > 0 && inFlight < maxInFlight) {
      const batch = waiting.length <= maxBatch ? waiting : waiting.slice(0, maxBatch);
      waiting = batch === waiting ? [] : waiting.slice(maxBatch);
      inFlight += 1;
      const done = options
        .commit({ hits: batch.map((w) => w.hit) })
        .then(
          () => {
            for (const w of batch) w.resolve();
          },
          (error: unknown) => {
            const failure = new HitsNotStored(`hits not stored: ${(error as Error)?.message ?? error}`);
            for (const w of batch) w.reject(failure);
          },
        )
        .finally(() => {
          inFlight -= 1;
          settled.delete(done);
          // what gathered meanwhile goes at once
          if (waiting.length > 0) schedule();
        });
      settled.add(done);
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  return {
    add(hit) {
      if (closed) return Promise.reject(new HitsNotStored('hits not stored: closing'));
      if (waiting.length >= maxWaiting)
        return Promise.reject(new HitsNotStored('hits not stored: too many waiting'));
      return new Promise<void>((resolve, reject) => {
        waiting.push({ hit, resolve, reject });
        schedule();
      });
    },
    async close() {
      closed = true;
      while (waiting.length > 0 || settled.size > 0) {
        flush();
        await Promise.allSettled([...settled]);
      }
    },
  };
}
