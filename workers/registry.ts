// Every worker by name: `npm run start:worker -- <name>` runs one, `npm start` runs them all in-process.
import { drafterWorker } from './drafter/consumer.ts';
import { engagementWorker } from './engagement/consumer.ts';
import { eventsWorker } from './events/consumer.ts';
import { inboxWorker } from './inbox/index.ts';
import { relayWorker } from './relay/index.ts';
import type { WorkerDefinition } from './runtime.ts';
import { schedulerWorker } from './scheduler/index.ts';
import { senderWorker } from './sender/consumer.ts';
import { unsubscribeWorker } from './unsubscribe/consumer.ts';

export const WORKERS: Readonly<Record<string, WorkerDefinition>> = {
  relay: relayWorker,
  scheduler: schedulerWorker,
  drafter: drafterWorker,
  sender: senderWorker,
  inbox: inboxWorker,
  unsubscribe: unsubscribeWorker,
  engagement: engagementWorker,
  events: eventsWorker,
};

export const WORKER_NAMES: readonly string[] = Object.keys(WORKERS);
