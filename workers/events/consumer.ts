// The events worker: consumes HITS_QUEUE (tracking hits, published by the tracking endpoint before it answered)
// and writes them as raw events. The hits of the messages delivered together are written together, one write
// at a time; a message is acknowledged once its hits are written, and redelivered (then deduped by hit id) if
// the write fails or the worker dies first.
import { HITS_QUEUE } from '../../lib/bus/catalog.ts';
import { consumeBatch } from '../../lib/bus/index.ts';
import { createHitBatcher } from '../../lib/tracking/hit-batcher.ts';
import type { RunningWorker, WorkerDefinition, WorkerRuntime } from '../runtime.ts';
import { openEventStore } from './store.ts';

/** Hits per write: ClickHouse wants few, large inserts; PostgreSQL takes these in one statement per organisation. */
const WRITE_BATCH = 10_000;

export async function startEvents(runtime: WorkerRuntime): Promise<RunningWorker> {
  const store = await openEventStore(runtime.config, runtime.orm, (message) => runtime.log.info(message));
  const writer = createHitBatcher({
    commit: ({ hits }) => store.write(hits),
    maxBatch: WRITE_BATCH,
    maxInFlight: 1,
    maxWaiting: WRITE_BATCH * 4,
  });
  const consumer = await consumeBatch(runtime.bus, HITS_QUEUE, async ({ hits }, info) => {
    await Promise.all(hits.map((hit) => writer.add(hit)));
    runtime.log.debug({ messageId: info.messageId, hits: hits.length, store: store.name }, 'hits stored');
  });
  runtime.log.info({ store: store.name }, 'events worker storing raw tracking events');
  return {
    name: 'events',
    async stop() {
      await consumer.close();
      await writer.close();
      await store.close();
    },
  };
}

export const eventsWorker: WorkerDefinition = { name: 'events', start: startEvents };
