// The drafter: consumes DRAFT_QUEUE and drafts each task (handler.ts). Prompt steps share the model slots of
// this process fairly between organisations (limiter.ts).
import { DRAFT_QUEUE } from '../../lib/bus/catalog.ts';
import { consumeWork } from '../../lib/bus/index.ts';
import type { RunningWorker, WorkerDefinition, WorkerRuntime } from '../runtime.ts';
import { createAiWriter } from './ai-writer.ts';
import { createBatcher } from './batcher.ts';
import {
  type Delivery,
  type DrafterDeps,
  type DraftOutcome,
  draftTasks,
  type MessageToWrite,
  writeDrafts,
} from './handler.ts';
import { createFairLimiter } from './limiter.ts';

/** Deliveries of one organisation drafted in one transaction at most. */
const MAX_BATCH = 200;

export async function startDrafter(runtime: WorkerRuntime): Promise<RunningWorker> {
  const { openai } = runtime.config;
  // enough deliveries in hand to fill every model slot and keep template drafts moving beside them
  const prefetch = Math.max(DRAFT_QUEUE.prefetch, openai.totalConcurrency * 2);
  const write = createBatcher<MessageToWrite, DraftOutcome>(
    (organisationId, drafts) => writeDrafts(runtime.orm, organisationId, drafts),
    MAX_BATCH,
  );
  const deps: DrafterDeps = {
    orm: runtime.orm,
    bus: runtime.bus,
    ai: createAiWriter(openai),
    limiter: createFairLimiter({ perOrganisation: openai.concurrency, total: openai.totalConcurrency }),
    defaultModel: openai.model,
    // an organisation's backlog waiting here is kept to its own number of slots: the rest of the deliveries in
    // hand go to other organisations, whose drafts would otherwise wait behind it in the queue
    maxWaitingPerOrganisation: Math.max(1, Math.min(openai.concurrency, Math.floor(prefetch / 4))),
    write,
  };
  const draft = createBatcher<Delivery, DraftOutcome>(
    (organisationId, deliveries) => draftTasks(deps, organisationId, deliveries),
    MAX_BATCH,
  );
  const consumer = await consumeWork(
    runtime.bus,
    DRAFT_QUEUE,
    async (message, delivery) => {
      const outcome = await draft(message.organisationId, { message, ...delivery });
      // ids and the outcome only: never the prospect's data nor the draft
      runtime.log.debug({ taskId: message.taskId, organisationId: message.organisationId, outcome }, 'draft');
    },
    { prefetch },
  );
  return { name: 'drafter', stop: () => consumer.close() };
}

export const drafterWorker: WorkerDefinition = { name: 'drafter', start: startDrafter };
