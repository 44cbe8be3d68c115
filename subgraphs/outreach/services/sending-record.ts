import { SENT } from '../../../lib/bus/catalog.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { type EventToRecord, recordEvents } from '../../../lib/outbox/outbox.ts';
import { shareCampaigns } from './campaign-locks.ts';
import { markNeedsReconnect } from './mailbox-health.ts';
import type { SendJob } from './sending-prepare.ts';
import { writeFailures } from './sending-prepare.ts';
import { type Advanced, advanceEnrollments } from './sequence.ts';

export type SendResult =
  | { kind: 'sent'; job: SendJob; providerMessageId: string; threadId: string | null; sentAt: Date }
  | {
      /** Try again at `at`. */
      kind: 'retry';
      job: SendJob;
      at: Date;
      reason: string;
      /** The email may have gone (unknown outcome): it stays SENDING so the retry looks it up first. */
      maybeSent: boolean;
      /** Gmail asked the mailbox to slow down: none of its sends before then. */
      pauseMailboxUntil?: Date;
    }
  | { kind: 'reconnect'; job: SendJob; at: Date; reason: string; maybeSent: boolean }
  | { kind: 'failed'; job: SendJob; reason: string };

export interface SentEmail {
  messageId: string;
  sentAt: Date;
  providerMessageId?: string | null;
  threadId?: string | null;
}

/** Writes a batch of outcomes of one sender (`workerId`): a message whose lease another took is left to it. */
export async function recordSendResults(
  em: EntityManager,
  results: SendResult[],
  workerId: string,
): Promise<void> {
  if (results.length === 0) return;
  // the campaigns first, shared with the other sends (campaign-locks.ts)
  await shareCampaigns(em, [...new Set(results.map((r) => r.job.campaignId))]);
  const events: EventToRecord[] = [];

  const waiting = results.filter(
    (r): r is Extract<SendResult, { kind: 'retry' | 'reconnect' }> =>
      r.kind === 'retry' || r.kind === 'reconnect',
  );
  if (waiting.length > 0) {
    // known not sent: QUEUED again, its Message-ID kept; maybe sent: SENDING, its lease ending at the retry. A
    // mailbox to reconnect does not count the attempt: nothing was tried.
    await rawQuery(
      em,
      `WITH w AS (
         UPDATE outreach.messages m
         SET status = CASE WHEN w.maybe_sent THEN 'SENDING' ELSE 'QUEUED' END,
           leased_by = CASE WHEN w.maybe_sent THEN m.leased_by END,
           leased_until = CASE WHEN w.maybe_sent THEN w.at END,
           sent_at = CASE WHEN w.maybe_sent THEN m.sent_at END,
           attempts = CASE WHEN w.uncounted THEN greatest(m.attempts - 1, 0) ELSE m.attempts END,
           error = w.reason, updated_at = now()
         FROM unnest(?::uuid[], ?::timestamptz[], ?::text[], ?::boolean[], ?::boolean[]) AS w(id, at, reason, maybe_sent, uncounted)
         WHERE m.id = ANY (?::uuid[]) AND m.id = w.id AND m.status = 'SENDING' AND m.leased_by = ?
         RETURNING m.id, w.at, m.error
       )
       UPDATE outreach.tasks t SET status = 'PENDING', scheduled_for = w.at, leased_by = NULL, leased_until = NULL,
         last_error = w.error, updated_at = now()
       FROM w
       WHERE t.message_id = ANY (?::uuid[]) AND t.message_id = w.id AND t.kind = 'SEND'
         AND t.status IN ('PENDING', 'QUEUED', 'RUNNING')`,
      [
        waiting.map((r) => r.job.messageId),
        waiting.map((r) => r.at),
        waiting.map((r) => r.reason),
        waiting.map((r) => r.maybeSent),
        waiting.map((r) => r.kind === 'reconnect'),
        waiting.map((r) => r.job.messageId),
        workerId,
        waiting.map((r) => r.job.messageId),
      ],
    );
    const pauses = new Map<string, Date>();
    for (const r of waiting) {
      if (r.kind !== 'retry' || !r.pauseMailboxUntil) continue;
      const kept = pauses.get(r.job.mailbox.id);
      if (!kept || kept.getTime() < r.pauseMailboxUntil.getTime())
        pauses.set(r.job.mailbox.id, r.pauseMailboxUntil);
    }
    if (pauses.size > 0) {
      await rawQuery(
        em,
        `UPDATE outreach.mailboxes mb SET paused_until = greatest(mb.paused_until, p.until)
         FROM unnest(?::uuid[], ?::timestamptz[]) AS p(id, until) WHERE mb.id = p.id`,
        [[...pauses.keys()], [...pauses.values()]],
      );
    }
    const revoked = new Map<string, string>();
    for (const r of waiting) if (r.kind === 'reconnect') revoked.set(r.job.mailbox.id, r.reason);
    for (const [mailboxId, reason] of revoked) {
      // its events are recorded by markNeedsReconnect itself: a mailbox marked once, one event per campaign
      await markNeedsReconnect(em, mailboxId, reason);
    }
  }

  const failed = results.filter((r): r is Extract<SendResult, { kind: 'failed' }> => r.kind === 'failed');
  if (failed.length > 0) {
    const mine = await rawQuery<{ id: string }>(
      em,
      `SELECT id FROM outreach.messages WHERE id = ANY (?::uuid[]) AND status = 'SENDING' AND leased_by = ?`,
      [failed.map((r) => r.job.messageId), workerId],
    );
    const ids = new Set(mine.map((m) => m.id));
    events.push(
      ...(await writeFailures(
        em,
        failed
          .filter((r) => ids.has(r.job.messageId))
          .map((r) => ({
            row: {
              task_id: r.job.taskId,
              message_id: r.job.messageId,
              enrollment_id: r.job.enrollmentId,
              campaign_id: r.job.campaignId,
            },
            reason: r.reason,
            enrollmentStatus: 'FAILED',
            stoppedReason: 'SEND_FAILED',
          })),
      )),
    );
  }

  const sent = results.filter((r): r is Extract<SendResult, { kind: 'sent' }> => r.kind === 'sent');
  if (sent.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.tasks SET status = 'DONE', leased_by = NULL, leased_until = NULL, last_error = NULL,
         updated_at = now()
       WHERE id = ANY (?::uuid[]) AND kind = 'SEND'`,
      [sent.map((r) => r.job.taskId)],
    );
  }
  await recordSentMany(
    em,
    sent.map((r) => ({
      messageId: r.job.messageId,
      sentAt: r.sentAt,
      providerMessageId: r.providerMessageId,
      threadId: r.threadId,
    })),
    events,
  );
}

/**
 * Emails of the sequence that went out, for many messages of one organisation in a fixed number of statements: each message SENT at its
 * `sentAt` (with Gmail's ids), its draft task DONE, its enrolment moved on to the next step (or COMPLETED), a
 * SENT event for each message that became SENT here. Calling it again for the same messages changes nothing.
 * `alsoRecord` are the caller's events, recorded with these, last in the transaction.
 */
export async function recordSentMany(
  em: EntityManager,
  sends: readonly SentEmail[],
  alsoRecord: EventToRecord[] = [],
): Promise<Advanced[]> {
  const events = [...alsoRecord];
  const advanced: Advanced[] = [];
  if (sends.length > 0) {
    const updated = await rawQuery<{
      id: string;
      enrollment_id: string;
      step_id: string | null;
      variant_id: string | null;
      step_index: number | null;
      sent_at: Date;
    }>(
      em,
      `UPDATE outreach.messages m SET status = 'SENT', sent_at = s.sent_at,
         provider_message_id = coalesce(s.provider_id, m.provider_message_id),
         thread_id = coalesce(s.thread_id, m.thread_id), leased_by = NULL, leased_until = NULL, error = NULL,
         updated_at = now()
       FROM unnest(?::uuid[], ?::timestamptz[], ?::text[], ?::text[]) AS s(id, sent_at, provider_id, thread_id)
       WHERE m.id = ANY (?::uuid[]) AND m.id = s.id AND m.direction = 'OUTBOUND' AND m.status IN ('QUEUED', 'SENDING')
       RETURNING m.id, m.enrollment_id, m.step_id, m.variant_id, s.sent_at,
         coalesce(m.step_index, (SELECT w.index FROM outreach.workflow_steps w WHERE w.id = m.step_id)) AS step_index`,
      [
        sends.map((s) => s.messageId),
        sends.map((s) => s.sentAt),
        sends.map((s) => s.providerMessageId ?? null),
        sends.map((s) => s.threadId ?? null),
        sends.map((s) => s.messageId),
      ],
    );
    const withStep = updated.filter((u) => u.step_id);
    if (withStep.length > 0) {
      await rawQuery(
        em,
        `UPDATE outreach.tasks t SET status = 'DONE', leased_by = NULL, leased_until = NULL, updated_at = now()
         FROM unnest(?::uuid[], ?::uuid[]) AS d(enrollment_id, step_id)
         WHERE t.enrollment_id = ANY (?::uuid[]) AND t.enrollment_id = d.enrollment_id AND t.step_id = d.step_id
           AND t.kind = 'DRAFT' AND t.status IN ('PENDING', 'QUEUED', 'RUNNING')`,
        [
          withStep.map((u) => u.enrollment_id),
          withStep.map((u) => u.step_id),
          withStep.map((u) => u.enrollment_id),
        ],
      );
    }
    const changed: EventToRecord[] = [];
    const campaignOf = await advanceEnrollments(
      em,
      updated
        .filter((u) => u.step_index !== null)
        .map((u) => ({
          enrollmentId: u.enrollment_id,
          afterStepIndex: u.step_index!,
          at: new Date(u.sent_at),
        })),
      advanced,
      changed,
    );
    for (const u of updated) {
      const campaignId = campaignOf.get(u.enrollment_id);
      if (campaignId)
        events.push({
          event: SENT,
          campaignId,
          payload: {
            enrollmentId: u.enrollment_id,
            messageId: u.id,
            sentAt: new Date(u.sent_at).toISOString(),
            ...(u.step_id ? { stepId: u.step_id } : {}),
            ...(u.variant_id ? { variantId: u.variant_id } : {}),
          },
        });
    }
    events.push(...changed);
  }
  await recordEvents(em, events);
  return advanced;
}
