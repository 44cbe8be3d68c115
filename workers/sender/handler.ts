// SEND_QUEUE deliveries of one organisation, sent in three phases: claim in one tenant transaction (the
// checks and QUEUED → SENDING, committed before any network call), send outside any transaction within the
// process's and the mailbox's slots (a lookup first when an earlier attempt may have gone), then the outcomes
// written in batches. A delivery is acknowledged once its outcome is committed: if this process dies before,
// the message stays SENDING under a lease and whoever takes it next looks it up before sending anything.
import type { MikroORM } from '@mikro-orm/postgresql';
import { PermanentError } from '../../lib/bus/index.ts';
import { isUuid, withTenant } from '../../lib/db/orm.ts';
import { gmailFailure } from '../../lib/google/gmail-client.ts';
import { composeEmail, UnsafeHeader } from '../../lib/mime/compose.ts';
import type { Logger } from '../../lib/telemetry/logger.ts';
import { trackedHtml } from '../../lib/tracking/instrument.ts';
import { type TokenSigner, trackingUrl } from '../../lib/tracking/tokens.ts';
import {
  type Prepared,
  prepareSends,
  type SendJob,
} from '../../subgraphs/outreach/services/sending-prepare.ts';
import type { SendResult } from '../../subgraphs/outreach/services/sending-record.ts';
import type { SendSlots } from './slots.ts';
import type { Transport } from './transport.ts';

export interface SenderDeps {
  orm: MikroORM;
  workerId: string;
  clock: () => Date;
  log: Pick<Logger, 'debug' | 'info' | 'warn'>;
  signer: TokenSigner;
  publicUrl: string;
  transports: Record<'GMAIL' | 'OUTBOX', Transport>;
  slots: SendSlots;
  leaseMs: number;
  maxAttempts: number;
  /** Writes an outcome (recordSendResults, batched or not). */
  record: (organisationId: string, result: SendResult) => Promise<void>;
}

export type SendOutcome = 'sent' | 'retry' | 'reconnect' | 'failed' | Prepared['outcome'];

export interface SendDelivery {
  taskId: string;
}

/** A mailbox to reconnect is looked at again this much later (it waits while it is not ACTIVE). */
const RECONNECT_WAIT_MS = 5 * 60_000;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_MAX_MS = 3_600_000;

/** 30 s, 1 min, 2 min… up to an hour, ±20 % so retries of many sends spread out. */
export function backoffMs(attempt: number, random = Math.random()): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random));
}

/**
 * Claims the deliveries' tasks in one transaction; resolves then to each delivery's outcome, a promise for the
 * claimed ones (their send and its recorded outcome), or an error to fail the delivery with.
 */
export async function sendTasks(
  deps: SenderDeps,
  organisationId: string,
  deliveries: SendDelivery[],
): Promise<Array<SendOutcome | Error | Promise<SendOutcome>>> {
  if (!isUuid(organisationId))
    return deliveries.map(() => new PermanentError('organisationId must be a UUID'));
  const taskIds = [...new Set(deliveries.map((d) => d.taskId).filter(isUuid))];
  const now = deps.clock();
  const prepared =
    taskIds.length === 0
      ? new Map<string, Prepared>()
      : await withTenant(deps.orm, organisationId, (em) =>
          prepareSends(em, organisationId, taskIds, {
            workerId: deps.workerId,
            now,
            leaseMs: deps.leaseMs,
            maxAttempts: deps.maxAttempts,
          }),
        );
  const started = new Set<string>();
  return deliveries.map((delivery) => {
    if (!isUuid(delivery.taskId)) return new PermanentError('taskId must be a UUID');
    const outcome = prepared.get(delivery.taskId) ?? { outcome: 'skipped' as const };
    if (outcome.outcome !== 'claimed') return outcome.outcome;
    // the same task twice in one batch: sent once
    if (started.has(delivery.taskId)) return 'skipped';
    started.add(delivery.taskId);
    return deps.slots
      .run(outcome.job.mailbox.id, () => attemptSend(deps, outcome.job))
      .then(async (result) => {
        await deps.record(organisationId, result);
        return result.kind;
      });
  });
}

/** Phase 2: the lookup when an earlier attempt may have gone, then the send; every failure sorted. */
export async function attemptSend(deps: SenderDeps, job: SendJob): Promise<SendResult> {
  const transport = deps.transports[job.mailbox.provider];
  if (job.lookupFirst) {
    try {
      const found = await transport.lookup(job);
      if (found)
        return {
          kind: 'sent',
          job,
          providerMessageId: found.id,
          threadId: found.threadId,
          sentAt: deps.clock(),
        };
    } catch (error) {
      // nothing is known yet: it stays SENDING, looked up again at the retry
      return failed(deps, job, error, 'read', true);
    }
    if (job.lastChance) return { kind: 'failed', job, reason: `Not sent after ${job.attempt - 1} attempts` };
    // not sent, and things changed since it was claimed: back to QUEUED, through the checks again at once
    if (!job.sendIfMissing)
      return {
        kind: 'retry',
        job,
        at: deps.clock(),
        reason: 'Held back: checked again before sending',
        maybeSent: false,
      };
  }
  let raw: Buffer;
  try {
    raw = await composeEmail({
      from: { address: job.mailbox.email, name: job.mailbox.displayName },
      to: job.to,
      subject: job.subject,
      text: job.bodyText,
      html: trackedHtml(job, deps),
      messageId: job.rfcMessageId,
      date: deps.clock(),
      unsubscribeUrl: unsubscribeUrl(deps, job),
      inReplyTo: job.inReplyTo,
      references: job.references,
    });
  } catch (error) {
    if (error instanceof UnsafeHeader)
      return { kind: 'failed', job, reason: `The email cannot be sent: ${error.message}` };
    throw error;
  }
  try {
    const sent = await transport.send(job, raw);
    return { kind: 'sent', job, providerMessageId: sent.id, threadId: sent.threadId, sentAt: deps.clock() };
  } catch (error) {
    return failed(deps, job, error, 'send', false);
  }
}

function unsubscribeUrl(deps: SenderDeps, job: SendJob): string {
  const token = {
    kind: 'unsubscribe' as const,
    organisationId: job.organisationId,
    messageId: job.messageId,
    positionId: job.positionId,
  };
  return trackingUrl(deps.publicUrl, token, deps.signer.sign(token));
}

function failed(
  deps: SenderDeps,
  job: SendJob,
  error: unknown,
  call: 'send' | 'read',
  lookingUp: boolean,
): SendResult {
  const failure = gmailFailure(error, call);
  const now = deps.clock().getTime();
  const wait = Math.max(failure.retryAfterMs ?? 0, backoffMs(job.attempt));
  const at = new Date(now + wait);
  // ids and Google's reason only: never the email
  deps.log.warn(
    {
      messageId: job.messageId,
      mailboxId: job.mailbox.id,
      kind: failure.kind,
      status: failure.status,
      reason: failure.reason,
    },
    'send failed',
  );
  switch (failure.kind) {
    case 'auth-revoked':
      return {
        kind: 'reconnect',
        job,
        at: new Date(now + RECONNECT_WAIT_MS),
        reason: failure.reason,
        maybeSent: lookingUp,
      };
    case 'rate-limited':
      return { kind: 'retry', job, at, reason: failure.reason, maybeSent: lookingUp, pauseMailboxUntil: at };
    case 'refused':
      // a lookup refused is not the email refused: try again later, it may still have gone
      if (lookingUp) return { kind: 'retry', job, at, reason: failure.reason, maybeSent: true };
      return { kind: 'failed', job, reason: failure.reason };
    default:
      return { kind: 'retry', job, at, reason: failure.reason, maybeSent: true };
  }
}
