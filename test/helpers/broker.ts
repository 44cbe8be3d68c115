// Leaves the broker as a test found it: a bus opened with a prefix of the test's own declares durable queues
// (work, dead and one per retry delay) that outlive the test unless deleted.
import { Connection } from 'rabbitmq-client';
import {
  DEFAULT_RETRY_DELAYS_MS,
  eventsExchangeName,
  queueNames,
  RETRY_DELAYS,
} from '../../lib/bus/index.ts';

/** Deletes every queue a bus with `prefix` may have made for these logical queues, and its events exchange. */
export async function deleteBrokerQueues(
  amqpUrl: string,
  prefix: string,
  queues: readonly string[],
): Promise<void> {
  const delays = new Set([...DEFAULT_RETRY_DELAYS_MS, ...Object.values(RETRY_DELAYS)]);
  const conn = new Connection(amqpUrl);
  try {
    for (const queue of queues) {
      const names = queueNames(prefix, queue);
      for (const name of [names.work, names.dead, ...[...delays].map(names.retry)])
        await conn.queueDelete({ queue: name });
    }
    await conn.exchangeDelete({ exchange: eventsExchangeName(prefix) });
  } finally {
    await conn.close();
  }
}
