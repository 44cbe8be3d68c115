// How an enrolment moves through its campaign's steps once an email has gone (or a draft was rejected): the
// next step's draft task, due its delay later in window days, or the end of the sequence and, when no one is
// left, of the campaign. Used by the sender, the drafter's review and the scheduler; runs in the caller's
// tenant transaction.
import { randomUUID } from 'node:crypto';
import { ENROLLMENT_CHANGED } from '../../../lib/bus/catalog.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { notFound } from '../../../lib/errors.ts';
import { recordEvent } from '../../../lib/outbox/outbox.ts';
import { addWindowDays, type SendWindow } from './calendar.ts';
import { timezoneOfLocation } from './prospect-timezone.ts';

/** The campaign columns scheduling reads. */
export interface CampaignSchedule {
  id: string;
  status: string;
  timezone: string;
  days: number[];
  start_hour: number;
  end_hour: number;
  daily_limit: number | null;
  use_prospect_timezone: boolean;
}

export const CAMPAIGN_SCHEDULE_COLUMNS = `c.id, c.status, c.timezone, c.days, c.start_hour, c.end_hour, c.daily_limit,
  c.use_prospect_timezone`;

/**
 * The campaigns of these tasks, locked in id order until the end of the transaction: launch, pause, the
 * scheduler and the sender all take a campaign before its enrolments and tasks, so they queue up instead of
 * deadlocking.
 */
export async function lockCampaignsOfTasks(
  em: EntityManager,
  taskIds: readonly string[],
): Promise<Map<string, CampaignSchedule>> {
  const rows = await rawQuery<CampaignSchedule>(
    em,
    `SELECT ${CAMPAIGN_SCHEDULE_COLUMNS} FROM outreach.campaigns c
     WHERE c.id IN (SELECT e.campaign_id FROM outreach.tasks t
                    JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
                    WHERE t.id = ANY (?::uuid[]))
     ORDER BY c.id FOR NO KEY UPDATE`,
    [taskIds],
  );
  return new Map(rows.map((c) => [c.id, c]));
}

/** The campaign's window, in another zone when the prospect's is used. */
export function windowOf(campaign: CampaignSchedule, timezone = campaign.timezone): SendWindow {
  return { timezone, days: campaign.days, startHour: campaign.start_hour, endHour: campaign.end_hour };
}

/**
 * The zone each position's window is kept in: the prospect's own (from their location) when the campaign
 * asks for it and it is known, else the campaign's.
 */
export async function prospectTimezones(
  em: EntityManager,
  campaign: CampaignSchedule,
  positionIds: readonly string[],
): Promise<Map<string, string>> {
  const zones = new Map<string, string>();
  if (campaign.use_prospect_timezone && positionIds.length > 0) {
    const rows = await rawQuery<{ position_id: string; location: string | null }>(
      em,
      `SELECT position_id, person_row ->> 'location' AS location FROM crm.prospects_for_outreach(?::uuid[])`,
      [[...new Set(positionIds)]],
    );
    for (const row of rows) {
      const zone = timezoneOfLocation(row.location);
      if (zone) zones.set(row.position_id, zone);
    }
  }
  for (const id of positionIds) if (!zones.has(id)) zones.set(id, campaign.timezone);
  return zones;
}

export interface Advanced {
  enrollmentId: string;
  /** The enrolment's status afterwards: ACTIVE with a next step, COMPLETED at the end, or as it was when stopped. */
  status: string;
  /** The step now waited for, and when its email is due. */
  nextStepIndex: number | null;
  nextRunAt: Date | null;
}

/**
 * An email of the sequence went out: the message is SENT at `sentAt`, its draft task DONE, and the enrolment
 * moves on to its next step. Calling it again for the same message changes nothing.
 */
export async function recordSent(
  em: EntityManager,
  messageId: string,
  sentAt: Date,
): Promise<Advanced | null> {
  const [sent] = await rawQuery<{ enrollment_id: string; step_id: string | null; step_index: number | null }>(
    em,
    `UPDATE outreach.messages m SET status = 'SENT', sent_at = ?, updated_at = now()
     WHERE m.id = ? AND m.direction = 'OUTBOUND' AND m.status IN ('QUEUED', 'SENDING')
     RETURNING m.enrollment_id, m.step_id,
       coalesce(m.step_index, (SELECT s.index FROM outreach.workflow_steps s WHERE s.id = m.step_id)) AS step_index`,
    [sentAt, messageId],
  );
  if (!sent) {
    const [existing] = await rawQuery<{ status: string }>(
      em,
      'SELECT status FROM outreach.messages WHERE id = ?',
      [messageId],
    );
    if (!existing) throw notFound('Message');
    // already recorded (a redelivered send): nothing more to do
    return null;
  }
  if (sent.step_id) {
    await rawQuery(
      em,
      `UPDATE outreach.tasks SET status = 'DONE', leased_by = NULL, leased_until = NULL, updated_at = now()
       WHERE enrollment_id = ? AND step_id = ? AND kind = 'DRAFT' AND status IN ('PENDING', 'QUEUED', 'RUNNING')`,
      [sent.enrollment_id, sent.step_id],
    );
  }
  if (sent.step_index === null) return null;
  return advanceEnrollment(em, sent.enrollment_id, sent.step_index, sentAt);
}

/**
 * Moves an ACTIVE enrolment past step `afterStepIndex` as of `at` (an email sent, or a rejected draft that
 * goes on): the next step's draft task is due `delayDays` window days later, or the enrolment is COMPLETED.
 * An enrolment already past that step, or stopped, is left as it is.
 */
export async function advanceEnrollment(
  em: EntityManager,
  enrollmentId: string,
  afterStepIndex: number,
  at: Date,
): Promise<Advanced> {
  await lockCampaignOf(em, 'enrollment', enrollmentId);
  const [row] = await rawQuery<
    CampaignSchedule & {
      enrollment_status: string;
      position_id: string;
      current_step_index: number | null;
      // the driver gives timestamps as text
      next_run_at: string | null;
    }
  >(
    em,
    `SELECT e.status AS enrollment_status, e.position_id, e.current_step_index, e.next_run_at,
       ${CAMPAIGN_SCHEDULE_COLUMNS}
     FROM outreach.campaign_enrollments e
     JOIN outreach.campaigns c ON c.organisation_id = e.organisation_id AND c.id = e.campaign_id
     WHERE e.id = ?
     FOR UPDATE OF e`,
    [enrollmentId],
  );
  if (!row) throw notFound('Enrollment');
  const unchanged: Advanced = {
    enrollmentId,
    status: row.enrollment_status,
    nextStepIndex: row.current_step_index,
    nextRunAt: row.next_run_at === null ? null : new Date(row.next_run_at),
  };
  if (row.enrollment_status !== 'ACTIVE') return unchanged;
  if (row.current_step_index !== null && row.current_step_index > afterStepIndex) return unchanged;

  const [next] = await rawQuery<{ id: string; index: number; delay_days: number }>(
    em,
    `SELECT id, index, delay_days FROM outreach.workflow_steps
     WHERE campaign_id = ? AND index > ? ORDER BY index LIMIT 1`,
    [row.id, afterStepIndex],
  );
  let result: Advanced;
  if (next) {
    const zone = (await prospectTimezones(em, row, [row.position_id])).get(row.position_id);
    const dueAt = addWindowDays(windowOf(row, zone), at, next.delay_days);
    const running = row.status === 'RUNNING';
    // a paused campaign keeps the task cancelled; launching it again restores it, due no earlier than now
    await rawQuery(
      em,
      `INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, status, scheduled_for)
       VALUES (public.current_organisation_id(), ?, ?, ?, 'DRAFT', ?, ?)
       ON CONFLICT (organisation_id, enrollment_id, step_id, kind) DO NOTHING`,
      [randomUUID(), enrollmentId, next.id, running ? 'PENDING' : 'CANCELLED', dueAt],
    );
    await rawQuery(
      em,
      `UPDATE outreach.campaign_enrollments SET current_step_index = ?, next_run_at = ?, updated_at = now()
       WHERE id = ?`,
      [next.index, running ? dueAt : null, enrollmentId],
    );
    result = { enrollmentId, status: 'ACTIVE', nextStepIndex: next.index, nextRunAt: running ? dueAt : null };
  } else {
    await rawQuery(
      em,
      `UPDATE outreach.campaign_enrollments SET status = 'COMPLETED', next_run_at = NULL, updated_at = now()
       WHERE id = ?`,
      [enrollmentId],
    );
    await completeFinishedCampaigns(em, [row.id]);
    result = { enrollmentId, status: 'COMPLETED', nextStepIndex: null, nextRunAt: null };
  }
  await recordEvent(em, ENROLLMENT_CHANGED, { campaignId: row.id, payload: { enrollmentId } });
  return result;
}

/**
 * Locks the campaign of a message or an enrolment before anything of it: launch, pause and the scheduler
 * take the campaign first too, so a send and a dispatch of one campaign queue up instead of deadlocking.
 */
async function lockCampaignOf(em: EntityManager, of: 'message' | 'enrollment', id: string): Promise<void> {
  const owner =
    of === 'message'
      ? `SELECT e.campaign_id FROM outreach.messages m
         JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
         WHERE m.id = ?`
      : 'SELECT campaign_id FROM outreach.campaign_enrollments WHERE id = ?';
  await rawQuery(em, `SELECT 1 FROM outreach.campaigns WHERE id = (${owner}) FOR NO KEY UPDATE`, [id]);
}

/**
 * Campaigns (running or paused) with enrolments, none of them still going, become COMPLETED. Returns the
 * ids of those that did.
 */
export async function completeFinishedCampaigns(
  em: EntityManager,
  campaignIds: readonly string[],
): Promise<string[]> {
  if (campaignIds.length === 0) return [];
  const rows = await rawQuery<{ id: string }>(
    em,
    `UPDATE outreach.campaigns c SET status = 'COMPLETED', completed_at = now(), updated_at = now()
     WHERE c.id = ANY (?::uuid[]) AND c.status IN ('RUNNING', 'PAUSED')
       AND EXISTS (SELECT 1 FROM outreach.campaign_enrollments e
                   WHERE e.organisation_id = c.organisation_id AND e.campaign_id = c.id)
       AND NOT EXISTS (SELECT 1 FROM outreach.campaign_enrollments e
                       WHERE e.organisation_id = c.organisation_id AND e.campaign_id = c.id
                         AND e.status IN ('ACTIVE', 'PAUSED'))
     RETURNING c.id`,
    [[...new Set(campaignIds)]],
  );
  return rows.map((r) => r.id);
}
