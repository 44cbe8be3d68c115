// Phase 3 of a send, in one organisation's tenant transaction for a batch of outcomes: sent emails are SENT and
// their enrolments move on (recordSentMany, the batched recordSent); a send Gmail asked to slow down goes back
// to QUEUED with its Message-ID and the mailbox pauses; a send whose fate is unknown stays SENDING until its
// retry, which looks it up first; a revoked mailbox needs reconnecting; a refused send is FAILED with Google's
// reason and stops its enrolment.
import { randomUUID } from 'node:crypto';
import { ENROLLMENT_CHANGED, SENT } from '../../../lib/bus/catalog.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { type EventToRecord, recordEvents } from '../../../lib/outbox/outbox.ts';
import { addWindowDays } from './calendar.ts';
import { markNeedsReconnect } from './mailbox-health.ts';
import type { SendJob } from './sending-prepare.ts';
import { writeFailures } from './sending-prepare.ts';
import {
  type Advanced,
  CAMPAIGN_SCHEDULE_COLUMNS,
  type CampaignSchedule,
  completeFinishedCampaigns,
  prospectTimezones,
  windowOf,
} from './sequence.ts';

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
  // campaigns first, in id order, as every writer of a campaign's enrolments does
  await rawQuery(
    em,
    'SELECT 1 FROM outreach.campaigns WHERE id = ANY (?::uuid[]) ORDER BY id FOR NO KEY UPDATE',
    [[...new Set(results.map((r) => r.job.campaignId))]],
  );
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
         WHERE m.id = w.id AND m.status = 'SENDING' AND m.leased_by = ?
         RETURNING m.id, w.at
       )
       UPDATE outreach.tasks t SET status = 'PENDING', scheduled_for = w.at, leased_by = NULL, leased_until = NULL,
         last_error = m.error, updated_at = now()
       FROM w JOIN outreach.messages m ON m.id = w.id
       WHERE t.organisation_id = m.organisation_id AND t.message_id = w.id AND t.kind = 'SEND'
         AND t.status IN ('PENDING', 'QUEUED', 'RUNNING')`,
      [
        waiting.map((r) => r.job.messageId),
        waiting.map((r) => r.at),
        waiting.map((r) => r.reason),
        waiting.map((r) => r.maybeSent),
        waiting.map((r) => r.kind === 'reconnect'),
        workerId,
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
 * recordSent for many messages of one organisation in a fixed number of statements: each message SENT at its
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
      step_index: number | null;
      sent_at: Date;
    }>(
      em,
      `UPDATE outreach.messages m SET status = 'SENT', sent_at = s.sent_at,
         provider_message_id = coalesce(s.provider_id, m.provider_message_id),
         thread_id = coalesce(s.thread_id, m.thread_id), leased_by = NULL, leased_until = NULL, error = NULL,
         updated_at = now()
       FROM unnest(?::uuid[], ?::timestamptz[], ?::text[], ?::text[]) AS s(id, sent_at, provider_id, thread_id)
       WHERE m.id = s.id AND m.direction = 'OUTBOUND' AND m.status IN ('QUEUED', 'SENDING')
       RETURNING m.id, m.enrollment_id, m.step_id, s.sent_at,
         coalesce(m.step_index, (SELECT w.index FROM outreach.workflow_steps w WHERE w.id = m.step_id)) AS step_index`,
      [
        sends.map((s) => s.messageId),
        sends.map((s) => s.sentAt),
        sends.map((s) => s.providerMessageId ?? null),
        sends.map((s) => s.threadId ?? null),
      ],
    );
    const withStep = updated.filter((u) => u.step_id);
    if (withStep.length > 0) {
      await rawQuery(
        em,
        `UPDATE outreach.tasks t SET status = 'DONE', leased_by = NULL, leased_until = NULL, updated_at = now()
         FROM unnest(?::uuid[], ?::uuid[]) AS d(enrollment_id, step_id)
         WHERE t.enrollment_id = d.enrollment_id AND t.step_id = d.step_id AND t.kind = 'DRAFT'
           AND t.status IN ('PENDING', 'QUEUED', 'RUNNING')`,
        [withStep.map((u) => u.enrollment_id), withStep.map((u) => u.step_id)],
      );
    }
    const changed: EventToRecord[] = [];
    const campaignOf = await advanceMany(
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
        events.push({ event: SENT, campaignId, payload: { enrollmentId: u.enrollment_id, messageId: u.id } });
    }
    events.push(...changed);
  }
  await recordEvents(em, events);
  return advanced;
}

/**
 * advanceEnrollment for many enrolments: each ACTIVE one not yet past its step gets its next step's draft task
 * (due `delay_days` window days after `at`) or is COMPLETED. Returns every enrolment's campaign.
 */
async function advanceMany(
  em: EntityManager,
  moves: { enrollmentId: string; afterStepIndex: number; at: Date }[],
  advanced: Advanced[],
  events: EventToRecord[],
): Promise<Map<string, string>> {
  const campaignOf = new Map<string, string>();
  if (moves.length === 0) return campaignOf;
  // one move per enrolment: the furthest step
  const byEnrollment = new Map<string, (typeof moves)[number]>();
  for (const m of moves) {
    const kept = byEnrollment.get(m.enrollmentId);
    if (!kept || kept.afterStepIndex < m.afterStepIndex) byEnrollment.set(m.enrollmentId, m);
  }
  const ids = [...byEnrollment.keys()];
  await rawQuery(
    em,
    `SELECT 1 FROM outreach.campaigns WHERE id IN (
       SELECT campaign_id FROM outreach.campaign_enrollments WHERE id = ANY (?::uuid[]))
     ORDER BY id FOR NO KEY UPDATE`,
    [ids],
  );
  const rows = await rawQuery<
    CampaignSchedule & {
      enrollment_id: string;
      enrollment_status: string;
      position_id: string;
      current_step_index: number | null;
    }
  >(
    em,
    `SELECT e.id AS enrollment_id, e.status AS enrollment_status, e.position_id, e.current_step_index,
       ${CAMPAIGN_SCHEDULE_COLUMNS}
     FROM outreach.campaign_enrollments e
     JOIN outreach.campaigns c ON c.organisation_id = e.organisation_id AND c.id = e.campaign_id
     WHERE e.id = ANY (?::uuid[])
     ORDER BY e.id
     FOR UPDATE OF e`,
    [ids],
  );
  for (const r of rows) campaignOf.set(r.enrollment_id, r.id);
  const moving = rows.filter((r) => {
    const move = byEnrollment.get(r.enrollment_id)!;
    return (
      r.enrollment_status === 'ACTIVE' &&
      (r.current_step_index === null || r.current_step_index <= move.afterStepIndex)
    );
  });
  if (moving.length === 0) return campaignOf;
  const nextSteps = new Map(
    (
      await rawQuery<{ enrollment_id: string; id: string; index: number; delay_days: number }>(
        em,
        `SELECT DISTINCT ON (m.enrollment_id) m.enrollment_id, s.id, s.index, s.delay_days
         FROM unnest(?::uuid[], ?::uuid[], ?::int[]) AS m(enrollment_id, campaign_id, after_index)
         JOIN outreach.workflow_steps s ON s.campaign_id = m.campaign_id AND s.index > m.after_index
         ORDER BY m.enrollment_id, s.index`,
        [
          moving.map((r) => r.enrollment_id),
          moving.map((r) => r.id),
          moving.map((r) => byEnrollment.get(r.enrollment_id)!.afterStepIndex),
        ],
      )
    ).map((s) => [s.enrollment_id, s]),
  );
  const campaigns = new Map(moving.map((r) => [r.id, r]));
  const zones = new Map<string, string>();
  for (const campaign of campaigns.values()) {
    const positions = moving.filter((r) => r.id === campaign.id).map((r) => r.position_id);
    for (const [position, zone] of await prospectTimezones(em, campaign, positions))
      zones.set(position, zone);
  }
  const tasks: { id: string; enrollmentId: string; stepId: string; status: string; dueAt: Date }[] = [];
  const steps: { enrollmentId: string; index: number; nextRunAt: Date | null }[] = [];
  const completed: string[] = [];
  for (const r of moving) {
    const next = nextSteps.get(r.enrollment_id);
    if (!next) {
      completed.push(r.enrollment_id);
      advanced.push({
        enrollmentId: r.enrollment_id,
        status: 'COMPLETED',
        nextStepIndex: null,
        nextRunAt: null,
      });
      continue;
    }
    const at = byEnrollment.get(r.enrollment_id)!.at;
    const dueAt = addWindowDays(windowOf(r, zones.get(r.position_id)), at, next.delay_days);
    const running = r.status === 'RUNNING';
    // a paused campaign keeps the task cancelled; launching it again restores it, due no earlier than now
    tasks.push({
      id: randomUUID(),
      enrollmentId: r.enrollment_id,
      stepId: next.id,
      status: running ? 'PENDING' : 'CANCELLED',
      dueAt,
    });
    steps.push({ enrollmentId: r.enrollment_id, index: next.index, nextRunAt: running ? dueAt : null });
    advanced.push({
      enrollmentId: r.enrollment_id,
      status: 'ACTIVE',
      nextStepIndex: next.index,
      nextRunAt: running ? dueAt : null,
    });
  }
  if (tasks.length > 0) {
    await rawQuery(
      em,
      `INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, status, scheduled_for)
       SELECT public.current_organisation_id(), n.id, n.enrollment_id, n.step_id, 'DRAFT', n.status, n.due_at
       FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::timestamptz[]) AS n(id, enrollment_id, step_id, status, due_at)
       ON CONFLICT (organisation_id, enrollment_id, step_id, kind) DO NOTHING`,
      [
        tasks.map((t) => t.id),
        tasks.map((t) => t.enrollmentId),
        tasks.map((t) => t.stepId),
        tasks.map((t) => t.status),
        tasks.map((t) => t.dueAt),
      ],
    );
    await rawQuery(
      em,
      `UPDATE outreach.campaign_enrollments e SET current_step_index = s.index, next_run_at = s.next_run_at,
         updated_at = now()
       FROM unnest(?::uuid[], ?::int[], ?::timestamptz[]) AS s(id, index, next_run_at) WHERE e.id = s.id`,
      [steps.map((s) => s.enrollmentId), steps.map((s) => s.index), steps.map((s) => s.nextRunAt)],
    );
  }
  if (completed.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.campaign_enrollments SET status = 'COMPLETED', next_run_at = NULL, updated_at = now()
       WHERE id = ANY (?::uuid[])`,
      [completed],
    );
    await completeFinishedCampaigns(em, [
      ...new Set(moving.filter((r) => completed.includes(r.enrollment_id)).map((r) => r.id)),
    ]);
  }
  for (const r of moving) {
    events.push({ event: ENROLLMENT_CHANGED, campaignId: r.id, payload: { enrollmentId: r.enrollment_id } });
  }
  return campaignOf;
}
