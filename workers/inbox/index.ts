// The inbox worker: every few seconds it claims the Gmail mailboxes whose inbox is due (each one every
// INBOX_POLL_SECONDS) and reads their new mail. Any number may run: a mailbox is read by one of them at a time.
import { createGmailClients } from '../../lib/google/gmail-client.ts';
import type { Logger } from '../../lib/telemetry/logger.ts';
import { outreachDeps } from '../../subgraphs/outreach/deps.ts';
import { pollingLoop } from '../polling.ts';
import { type RunningWorker, type WorkerDefinition, workerId } from '../runtime.ts';
import {
  DEFAULT_INBOX_LIMITS,
  type InboxDeps,
  type InboxLimits,
  inboxRound,
  type MailboxRead,
} from './handler.ts';

export interface InboxWorker extends RunningWorker {
  start(): void;
  /** One round: claim the due mailboxes and read them. */
  runOnce(): Promise<MailboxRead[]>;
}

/** How often the worker looks for due mailboxes (a mailbox itself is due every INBOX_POLL_SECONDS). */
const CLAIM_INTERVAL_MS = 5000;

export function createInboxWorker(
  deps: InboxDeps,
  log: Pick<Logger, 'error' | 'warn'>,
  options: { pollSeconds: number; limits?: Partial<Omit<InboxLimits, 'pollSeconds'>> },
): InboxWorker {
  const limits: InboxLimits = {
    ...DEFAULT_INBOX_LIMITS,
    ...options.limits,
    pollSeconds: options.pollSeconds,
  };
  const loop = pollingLoop({
    name: 'inbox',
    // a full round means more mailboxes may be due: go again at once
    round: async () => (await inboxRound(deps, limits)).length >= limits.batchSize,
    idleMs: Math.min(CLAIM_INTERVAL_MS, options.pollSeconds * 1000),
    maxBackoffExponent: 3,
    log,
  });
  return { name: 'inbox', runOnce: () => inboxRound(deps, limits), start: loop.start, stop: loop.stop };
}

export const inboxWorker: WorkerDefinition = {
  name: 'inbox',
  async start(runtime) {
    const { secrets } = await outreachDeps(runtime.config);
    const worker = createInboxWorker(
      {
        orm: runtime.orm,
        gmail: createGmailClients(secrets, runtime.config.gmail),
        workerId: workerId('inbox'),
        clock: runtime.clock,
        log: runtime.log,
      },
      runtime.log,
      { pollSeconds: runtime.config.inbox.pollSeconds },
    );
    worker.start();
    return worker;
  },
};
