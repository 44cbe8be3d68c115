// The unsubscribe worker: consumes UNSUBSCRIBE_QUEUE (published by the tracking service once a one-click link's
// signature checked out) and stops the recipient (handler.ts).
import { UNSUBSCRIBE_QUEUE } from '../../lib/bus/catalog.ts';
import { consumeWork } from '../../lib/bus/index.ts';
import type { RunningWorker, WorkerDefinition, WorkerRuntime } from '../runtime.ts';
import { unsubscribe } from './handler.ts';

export async function startUnsubscribe(runtime: WorkerRuntime): Promise<RunningWorker> {
  const consumer = await consumeWork(runtime.bus, UNSUBSCRIBE_QUEUE, async (message) => {
    const result = await unsubscribe(runtime.orm, message);
    // ids and counts only: never the address
    runtime.log.info(
      {
        organisationId: message.organisationId,
        messageId: message.messageId,
        stopped: result.stopped.length,
        suppressed: result.suppressed,
      },
      'unsubscribed',
    );
  });
  return { name: 'unsubscribe', stop: () => consumer.close() };
}

export const unsubscribeWorker: WorkerDefinition = { name: 'unsubscribe', start: startUnsubscribe };
