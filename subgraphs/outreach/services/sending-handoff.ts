// The handoff from a drafted email to its send: when a message becomes QUEUED (written by the drafter, approved
// by a reviewer, or queued again for a later retry), its step's SEND task is made PENDING for it, due at the
// message's slot. One SEND task per enrolment and step: a second QUEUED message of the step (a soft-bounce
// retry) takes the task over, PENDING again, with its own message id.
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';

/**
 * Makes the SEND task of each QUEUED message among `messageIds` PENDING, due at greatest(send_at, `now`) (the
 * database's clock when none is given). Caller's transaction; returns the task ids.
 */
export async function queueSendTasks(
  em: EntityManager,
  messageIds: readonly string[],
  now?: Date,
): Promise<string[]> {
  if (messageIds.length === 0) return [];
  // send_at stays on the DRAFT task: the scheduler counts a mailbox's day by the slots of its tasks, once each
  const rows = await rawQuery<{ id: string }>(
    em,
    `INSERT INTO outreach.tasks AS t (organisation_id, id, enrollment_id, step_id, kind, status, scheduled_for,
       message_id, mailbox_id)
     SELECT m.organisation_id, gen_random_uuid(), m.enrollment_id, m.step_id, 'SEND', 'PENDING',
       greatest(m.send_at, coalesce(?::timestamptz, now())), m.id, m.mailbox_id
     FROM outreach.messages m
     WHERE m.id = ANY (?::uuid[]) AND m.status = 'QUEUED' AND m.step_id IS NOT NULL
     ORDER BY m.id
     ON CONFLICT (organisation_id, enrollment_id, step_id, kind) DO UPDATE
       SET status = 'PENDING', message_id = EXCLUDED.message_id, mailbox_id = EXCLUDED.mailbox_id,
         scheduled_for = EXCLUDED.scheduled_for, leased_by = NULL, leased_until = NULL, last_error = NULL,
         updated_at = now()
     RETURNING t.id`,
    [now ?? null, messageIds],
  );
  return rows.map((r) => r.id);
}

/**
 * A relaunched campaign's drafted emails go again: the SEND tasks a pause cancelled, of messages still QUEUED in
 * its running enrolments (ACTIVE, or PAUSED by an automatic reply), are PENDING again, due at greatest(send_at, `now`). Caller's transaction (the launch).
 */
export async function restoreSendTasks(em: EntityManager, campaignId: string, now: Date): Promise<number> {
  const rows = await rawQuery<{ id: string }>(
    em,
    `UPDATE outreach.tasks t SET status = 'PENDING', scheduled_for = greatest(m.send_at, ?::timestamptz),
       leased_by = NULL, leased_until = NULL, updated_at = now()
     FROM outreach.messages m, outreach.campaign_enrollments e
     WHERE t.kind = 'SEND' AND t.status = 'CANCELLED'
       AND m.organisation_id = t.organisation_id AND m.id = t.message_id AND m.status = 'QUEUED'
       AND e.organisation_id = t.organisation_id AND e.id = t.enrollment_id AND e.campaign_id = ?
       AND e.status IN ('ACTIVE', 'PAUSED')
     RETURNING t.id`,
    [now, campaignId],
  );
  return rows.length;
}
