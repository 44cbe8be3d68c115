// The sender: consumes SEND_QUEUE and sends each task's email exactly once (handler.ts), deliveries of one
// organisation claimed together and their outcomes written together (batcher.ts of the drafter).
import { SEND_QUEUE } from '../../lib/bus/catalog.ts';
import { consumeWork } from '../../lib/bus/index.ts';
import { withTenant } from '../../lib/db/orm.ts';
import { createGmailClients } from '../../lib/google/gmail-client.ts';
import { trackingSigner } from '../../lib/tracking/tokens.ts';
import { outreachDeps } from '../../subgraphs/outreach/deps.ts';
import { recordSendResults, type SendResult } from '../../subgraphs/outreach/services/sending-record.ts';
import { createBatcher } from '../drafter/batcher.ts';
import { type RunningWorker, type WorkerDefinition, type WorkerRuntime, workerId } from '../runtime.ts';
import { type SendDelivery, type SenderDeps, type SendOutcome, sendTasks } from './handler.ts';
import { createSendSlots } from './slots.ts';
import { gmailTransport, outboxTransport } from './transport.ts';

/** Deliveries of one organisation claimed, or outcomes written, in one transaction at most. */
const MAX_BATCH = 200;

export async function startSender(runtime: WorkerRuntime): Promise<RunningWorker> {
  const { config } = runtime;
  const settings = config.sender;
  // the same key as the outreach service that sealed the credentials (required in production)
  const { secrets } = await outreachDeps(config);
  const signer = await trackingSigner(config);
  const id = workerId('sender');
  const leaseMs = settings.leaseSeconds * 1000;
  const record = createBatcher<SendResult, void>(async (organisationId, results) => {
    await withTenant(runtime.orm, organisationId, (em) => recordSendResults(em, results, id));
    return results.map(() => undefined);
  }, MAX_BATCH);
  const deps: SenderDeps = {
    orm: runtime.orm,
    workerId: id,
    clock: runtime.clock,
    log: runtime.log,
    signer,
    publicUrl: config.publicUrl,
    transports: {
      // half the lease: a send still waiting for Gmail's answer never outlives the lease that makes it ours
      GMAIL: gmailTransport(createGmailClients(secrets, config.gmail), leaseMs / 2),
      OUTBOX: outboxTransport(config.dataDir),
    },
    slots: createSendSlots(settings.concurrency, settings.perMailbox),
    leaseMs,
    maxAttempts: settings.maxAttempts,
    record,
  };
  const send = createBatcher<SendDelivery, SendOutcome>(
    (organisationId, deliveries) => sendTasks(deps, organisationId, deliveries),
    MAX_BATCH,
  );
  const consumer = await consumeWork(
    runtime.bus,
    SEND_QUEUE,
    async (message) => {
      const outcome = await send(message.organisationId, { taskId: message.taskId });
      // ids and the outcome only: never the address nor the email
      runtime.log.debug({ taskId: message.taskId, organisationId: message.organisationId, outcome }, 'send');
    },
    // enough in hand to keep every send slot busy while the next batch is claimed
    { prefetch: Math.max(SEND_QUEUE.prefetch, settings.concurrency * 2) },
  );
  return { name: 'sender', stop: () => consumer.close() };
}

export const senderWorker: WorkerDefinition = { name: 'sender', start: startSender };
