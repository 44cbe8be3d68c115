// How an enrolment moves through its campaign's steps once an email has gone (or a draft was rejected): the
// next step's draft task, due its delay later in window days, or the end of the sequence and, when no one is
// left, of the campaign. Used by the sender, the drafter's review and the scheduler; runs in the caller's
// tenant transaction.
import { randomUUID } from 'node:crypto';
import { ENROLLMENT_CHANGED } from '../../../lib/bus/catalog.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { notFound } from '../../../lib/errors.ts';
import { type EventToRecord, recordEvents } from '../../../lib/outbox/outbox.ts';
import { addWindowDays, type SendWindow } from './calendar.ts';
import { decideCompletion, shareCampaigns } from './campaign-locks.ts';
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
  /** What the sender adds to the campaign's emails: the open pixel, wrapped links. */
  track_opens: boolean;
  track_clicks: boolean;
}

export const CAMPAIGN_SCHEDULE_COLUMNS = `c.id, c.status, c.timezone, c.days, c.start_hour, c.end_hour, c.daily_limit,
  c.use_prospect_timezone, c.track_opens, c.track_clicks`;

const CAMPAIGNS_OF_TASKS = `SELECT DISTINCT e.campaign_id FROM outreach.tasks t
  JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
  WHERE t.id = ANY (?::uuid[])`;

/**
 * The campaigns of these tasks, taken until the end of the transaction before their enrolments and tasks
 * (campaign-locks.ts): `dispatch` locks their rows in id order, as launch and pause do, so dispatches of one
 * campaign run one at a time; `sends` shares them with the other sends, and is read once the lock is held.
 */
export async function lockCampaignsOfTasks(
  em: EntityManager,
  taskIds: readonly string[],
  mode: 'dispatch' | 'sends',
): Promise<Map<string, CampaignSchedule>> {
  let rows: CampaignSchedule[];
  if (mode === 'dispatch') {
    rows = await rawQuery<CampaignSchedule>(
      em,
      `SELECT ${CAMPAIGN_SCHEDULE_COLUMNS} FROM outreach.campaigns c
       WHERE c.id IN (${CAMPAIGNS_OF_TASKS})
       ORDER BY c.id FOR NO KEY UPDATE`,
      [taskIds],
    );
  } else {
    const ids = (await rawQuery<{ campaign_id: string }>(em, CAMPAIGNS_OF_TASKS, [taskIds])).map(
      (r) => r.campaign_id,
    );
    await shareCampaigns(em, ids);
    // read once the lock is held: a launch or pause that went first is seen
    rows = await rawQuery<CampaignSchedule>(
      em,
      `SELECT ${CAMPAIGN_SCHEDULE_COLUMNS} FROM outreach.campaigns c WHERE c.id = ANY (?::uuid[]) ORDER BY c.id`,
      [ids],
    );
  }
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
 * Moves ACTIVE enrolments past a step as of `at` (emails sent, or a rejected draft that goes on): each one not
 * yet past its step gets its next step's draft task, due `delay_days` window days later, or is COMPLETED. The
 * moved ones are added to `advanced` and their ENROLLMENT_CHANGED events to `events`, for the caller to record
 * last in its transaction; an enrolment already past its step, or stopped, is left as it is. Returns every
 * enrolment's campaign.
 */
export async function advanceEnrollments(
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
  await shareCampaigns(
    em,
    (
      await rawQuery<{ campaign_id: string }>(
        em,
        'SELECT DISTINCT campaign_id FROM outreach.campaign_enrollments WHERE id = ANY (?::uuid[])',
        [ids],
      )
    ).map((r) => r.campaign_id),
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
       FROM unnest(?::uuid[], ?::int[], ?::timestamptz[]) AS s(id, index, next_run_at)
       WHERE e.id = ANY (?::uuid[]) AND e.id = s.id`,
      [
        steps.map((s) => s.enrollmentId),
        steps.map((s) => s.index),
        steps.map((s) => s.nextRunAt),
        steps.map((s) => s.enrollmentId),
      ],
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

/**
 * advanceEnrollments for one enrolment, its event recorded: what it is afterwards (as it was when it was not
 * moved).
 */
export async function advanceEnrollment(
  em: EntityManager,
  enrollmentId: string,
  afterStepIndex: number,
  at: Date,
): Promise<Advanced> {
  const advanced: Advanced[] = [];
  const events: EventToRecord[] = [];
  const campaignOf = await advanceEnrollments(em, [{ enrollmentId, afterStepIndex, at }], advanced, events);
  if (!campaignOf.has(enrollmentId)) throw notFound('Enrollment');
  await recordEvents(em, events);
  if (advanced[0]) return advanced[0];
  const [row] = await rawQuery<{
    status: string;
    current_step_index: number | null;
    next_run_at: string | null;
  }>(em, 'SELECT status, current_step_index, next_run_at FROM outreach.campaign_enrollments WHERE id = ?', [
    enrollmentId,
  ]);
  return {
    enrollmentId,
    status: row!.status,
    nextStepIndex: row!.current_step_index,
    nextRunAt: row!.next_run_at === null ? null : new Date(row!.next_run_at),
  };
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
  // after every earlier decision is committed: two finishing the last enrolments side by side each see the other's
  await decideCompletion(em, campaignIds);
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
