// A campaign's life: enrolling positions, launching (and resuming), pausing, taking one enrolment out. Each
// runs in the caller's tenant transaction; the scheduler then dispatches the draft tasks written here.
import { ENROLLMENT_CHANGED } from '../../../lib/bus/catalog.ts';
import { type EntityManager, isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { AppError, badInput, ErrorCode, notFound } from '../../../lib/errors.ts';
import { recordEvents } from '../../../lib/outbox/outbox.ts';
import { nextOpening, scheduleProblem } from './calendar.ts';
import { holdCampaign } from './campaign-locks.ts';
import { restoreSendTasks } from './sending-handoff.ts';
import {
  CAMPAIGN_SCHEDULE_COLUMNS,
  type CampaignSchedule,
  completeFinishedCampaigns,
  windowOf,
} from './sequence.ts';

/** Positions one enrolPositions call takes at most. */
export const MAX_ENROLL = 10_000;

export type SkipReason =
  | 'NOT_FOUND'
  | 'NO_EMAIL'
  | 'INVALID_EMAIL'
  | 'SUPPRESSED'
  | 'ALREADY_ENROLLED'
  | 'BOUNCED_BEFORE'
  | 'IN_OTHER_CAMPAIGN';

export interface EnrollOutcome {
  enrolled: number;
  skipped: { positionId: string; reason: SkipReason }[];
}

/**
 * The campaign, locked until the end of the transaction: held alone against the sends (campaign-locks.ts), and
 * its row locked as the scheduler locks it before it dispatches, so a pause or a launch waits for the sends and
 * the dispatch in flight, and the next ones see the new status.
 */
async function lockCampaignSchedule(em: EntityManager, campaignId: string): Promise<CampaignSchedule> {
  if (!isUuid(campaignId)) throw notFound('Campaign');
  // alone: the sends in flight end first, and the next ones see this change
  await holdCampaign(em, campaignId);
  const [campaign] = await rawQuery<CampaignSchedule>(
    em,
    `SELECT ${CAMPAIGN_SCHEDULE_COLUMNS} FROM outreach.campaigns c WHERE c.id = ? FOR NO KEY UPDATE`,
    [campaignId],
  );
  if (!campaign) throw notFound('Campaign');
  return campaign;
}

/**
 * When a new first-step task is due: the next opening of the campaign's window, or now when each prospect's
 * own zone decides (the scheduler moves it into that window on its first look).
 */
function firstRunAt(campaign: CampaignSchedule, now: Date): Date {
  return campaign.use_prospect_timezone ? now : nextOpening(windowOf(campaign), now);
}

// One statement: classify every position, enrol the ones that pass, and (for a running campaign) write
// their first step's task. Reasons are checked in the order of the CASE.
const ENROLL_SQL = `
WITH params AS (
  SELECT ?::uuid AS campaign, ?::int AS first_index, ?::uuid AS first_step, ?::timestamptz AS run_at,
    ?::boolean AS schedule
),
input AS (
  SELECT id AS position_id, min(ord) AS ord FROM unnest(?::uuid[]) WITH ORDINALITY AS i(id, ord) GROUP BY id
),
prospect AS (SELECT position_id, email, email_status, suppressed FROM crm.prospects_for_outreach(?::uuid[])),
-- materialised: every check reads the enrolments as they were, before this statement's own inserts
checked AS MATERIALIZED (
  SELECT i.position_id, i.ord, p.email::citext AS email,
    CASE
      WHEN p.position_id IS NULL THEN 'NOT_FOUND'
      WHEN nullif(btrim(p.email), '') IS NULL THEN 'NO_EMAIL'
      WHEN p.email_status = 'INVALID' OR p.email !~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$' THEN 'INVALID_EMAIL'
      WHEN p.suppressed IS NOT NULL THEN 'SUPPRESSED'
      WHEN EXISTS (SELECT 1 FROM outreach.campaign_enrollments e
                   WHERE e.campaign_id = (SELECT campaign FROM params) AND e.position_id = i.position_id)
        OR EXISTS (SELECT 1 FROM outreach.campaign_enrollments e
                   WHERE e.campaign_id = (SELECT campaign FROM params) AND e.email = p.email::citext)
        THEN 'ALREADY_ENROLLED'
      WHEN EXISTS (SELECT 1 FROM outreach.campaign_enrollments e WHERE e.email = p.email::citext AND e.status = 'BOUNCED')
        OR EXISTS (SELECT 1 FROM outreach.messages m
                   JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
                   WHERE m.status = 'BOUNCED' AND e.email = p.email::citext)
        THEN 'BOUNCED_BEFORE'
      WHEN EXISTS (SELECT 1 FROM outreach.campaign_enrollments e
                   JOIN outreach.campaigns c ON c.organisation_id = e.organisation_id AND c.id = e.campaign_id
                   WHERE e.email = p.email::citext AND e.status = 'ACTIVE' AND c.status IN ('RUNNING', 'PAUSED')
                     AND e.campaign_id <> (SELECT campaign FROM params))
        THEN 'IN_OTHER_CAMPAIGN'
    END AS reason
  FROM input i LEFT JOIN prospect p ON p.position_id = i.position_id
),
-- two positions with one address in the same call: the first one given is enrolled
outcome AS (
  SELECT position_id, ord, email,
    CASE WHEN reason IS NULL AND row_number() OVER (PARTITION BY reason IS NULL, email ORDER BY ord) > 1
      THEN 'ALREADY_ENROLLED' ELSE reason END AS reason
  FROM checked
),
inserted AS (
  INSERT INTO outreach.campaign_enrollments
    (organisation_id, id, campaign_id, position_id, status, email, current_step_index, next_run_at)
  SELECT public.current_organisation_id(), gen_random_uuid(), params.campaign, position_id, 'ACTIVE', email,
    params.first_index, params.run_at
  FROM outcome, params WHERE reason IS NULL
  ON CONFLICT (organisation_id, campaign_id, position_id) DO NOTHING
  RETURNING id, position_id
),
tasks AS (
  INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, scheduled_for)
  SELECT public.current_organisation_id(), gen_random_uuid(), id, params.first_step, 'DRAFT', params.run_at
  FROM inserted, params WHERE params.schedule
)
SELECT o.position_id, o.reason, ins.id AS enrollment_id
FROM outcome o LEFT JOIN inserted ins ON ins.position_id = o.position_id
ORDER BY o.ord`;

/**
 * Enrols positions into a campaign (draft, running, paused, or completed, which takes it up again). Every
 * position not enrolled comes back with its reason; into a running campaign the first step is scheduled at
 * once.
 */
export async function enrollPositions(
  em: EntityManager,
  campaignId: string,
  positionIds: readonly string[],
  now: Date,
): Promise<EnrollOutcome> {
  if (positionIds.length > MAX_ENROLL) {
    throw badInput(`At most ${MAX_ENROLL} positions can be enrolled at once`, { field: 'positionIds' });
  }
  const campaign = await lockCampaignSchedule(em, campaignId);
  if (campaign.status === 'ARCHIVED') throw conflict('An archived campaign takes no enrolments', campaign);
  const ids = positionIds.filter(isUuid);
  const notUuid = positionIds.filter((id) => !isUuid(id));

  const [first] = await rawQuery<{ id: string; index: number }>(
    em,
    'SELECT id, index FROM outreach.workflow_steps WHERE campaign_id = ? ORDER BY index LIMIT 1',
    [campaign.id],
  );
  // a completed campaign goes on with its newcomers
  const reopen = campaign.status === 'COMPLETED';
  const schedule = (campaign.status === 'RUNNING' || reopen) && first !== undefined;
  const runAt = schedule ? firstRunAt(campaign, now) : null;
  const rows = await rawQuery<{ position_id: string; reason: string | null; enrollment_id: string | null }>(
    em,
    ENROLL_SQL,
    [campaign.id, first?.index ?? null, first?.id ?? null, runAt, schedule, ids, ids],
  );

  const enrolled = rows.filter((r) => r.enrollment_id !== null);
  const skipped: EnrollOutcome['skipped'] = [
    ...rows
      .filter((r) => r.enrollment_id === null)
      // no reason but not inserted: a concurrent call enrolled it first
      .map((r) => ({ positionId: r.position_id, reason: (r.reason ?? 'ALREADY_ENROLLED') as SkipReason })),
    ...[...new Set(notUuid)].map((positionId) => ({ positionId, reason: 'NOT_FOUND' as const })),
  ];
  if (enrolled.length > 0) {
    if (reopen && schedule) {
      await rawQuery(
        em,
        `UPDATE outreach.campaigns SET status = 'RUNNING', completed_at = NULL, updated_at = now() WHERE id = ?`,
        [campaign.id],
      );
    }
    await recordEvents(
      em,
      enrolled.map((r) => ({
        event: ENROLLMENT_CHANGED,
        campaignId: campaign.id,
        payload: { enrollmentId: r.enrollment_id! },
      })),
    );
  }
  return { enrolled: enrolled.length, skipped };
}

/** A refusal due to the campaign's state rather than to the request. */
function conflict(message: string, campaign: CampaignSchedule): AppError {
  return new AppError(ErrorCode.Conflict, message, { status: campaign.status });
}

/** What the campaign lacks to be launched, or undefined when it can be. */
async function launchProblem(em: EntityManager, campaign: CampaignSchedule): Promise<string | undefined> {
  const [counts] = await rawQuery<{ steps: number; mailboxes: number }>(
    em,
    `SELECT (SELECT count(*)::int FROM outreach.workflow_steps WHERE campaign_id = ?) AS steps,
       (SELECT count(*)::int FROM outreach.campaign_mailboxes cm
        JOIN outreach.mailboxes m ON m.organisation_id = cm.organisation_id AND m.id = cm.mailbox_id
        WHERE cm.campaign_id = ? AND m.status = 'ACTIVE') AS mailboxes`,
    [campaign.id, campaign.id],
  );
  if (counts.steps === 0) return 'Add a step before launching the campaign';
  if (counts.mailboxes === 0) return 'The campaign needs an active mailbox to send from';
  const problem = scheduleProblem(windowOf(campaign));
  if (problem) return `The campaign's schedule cannot be used: ${problem}`;
  return undefined;
}

/**
 * DRAFT or PAUSED → RUNNING: every ACTIVE enrolment gets its current step's draft task (a task cancelled by
 * a pause is restored, due no earlier than it was). Launching a running campaign changes nothing.
 */
export async function launchCampaign(em: EntityManager, campaignId: string, now: Date): Promise<void> {
  const campaign = await lockCampaignSchedule(em, campaignId);
  if (campaign.status === 'RUNNING') return;
  if (campaign.status === 'ARCHIVED') throw conflict('An archived campaign cannot be launched', campaign);
  if (campaign.status === 'COMPLETED')
    throw conflict('A completed campaign cannot be launched again', campaign);
  const problem = await launchProblem(em, campaign);
  if (problem) throw badInput(problem);
  await rawQuery(
    em,
    `UPDATE outreach.campaigns SET status = 'RUNNING', launched_at = coalesce(launched_at, ?), paused_at = NULL,
       updated_at = now()
     WHERE id = ?`,
    [now, campaign.id],
  );
  if (campaign.status === 'PAUSED') {
    await respaceHeldDrafts(em, campaign, now);
    // drafted emails held by the pause go to the sender again
    await restoreSendTasks(em, campaign.id, now);
  }
  const runAt = firstRunAt(campaign, now);
  await rawQuery(
    em,
    `WITH started AS (
       UPDATE outreach.campaign_enrollments e
       SET current_step_index = (SELECT min(index) FROM outreach.workflow_steps WHERE campaign_id = e.campaign_id)
       WHERE e.campaign_id = ? AND e.status = 'ACTIVE' AND e.current_step_index IS NULL
       RETURNING e.id, e.current_step_index
     ),
     active AS (
       SELECT e.id, coalesce(started.current_step_index, e.current_step_index) AS step_index
       FROM outreach.campaign_enrollments e LEFT JOIN started ON started.id = e.id
       -- an enrolment paused by an automatic reply keeps its task: the scheduler holds it until resume_at
       WHERE e.campaign_id = ? AND e.status IN ('ACTIVE', 'PAUSED')
     ),
     scheduled AS (
       INSERT INTO outreach.tasks AS t (organisation_id, id, enrollment_id, step_id, kind, scheduled_for)
       SELECT public.current_organisation_id(), gen_random_uuid(), active.id, s.id, 'DRAFT', ?::timestamptz
       FROM active JOIN outreach.workflow_steps s ON s.campaign_id = ? AND s.index = active.step_index
       ON CONFLICT (organisation_id, enrollment_id, step_id, kind) DO UPDATE
         SET status = 'PENDING', scheduled_for = greatest(t.scheduled_for, EXCLUDED.scheduled_for),
             leased_by = NULL, leased_until = NULL, updated_at = now()
         WHERE t.status = 'CANCELLED'
       RETURNING t.enrollment_id, t.scheduled_for
     )
     UPDATE outreach.campaign_enrollments e SET next_run_at = scheduled.scheduled_for, updated_at = now()
     FROM scheduled WHERE e.id = scheduled.enrollment_id`,
    [campaign.id, campaign.id, runAt, campaign.id],
  );
}

/**
 * Drafts written before a pause and not sent keep slots that have passed: resuming would send them all at
 * once. They get new slots from the window's next opening, in their old order and each mailbox's spacing
 * (their tasks too, so the scheduler spaces new drafts after them).
 */
async function respaceHeldDrafts(em: EntityManager, campaign: CampaignSchedule, now: Date): Promise<void> {
  await rawQuery(
    em,
    `WITH held AS (
       SELECT m.id, m.task_id, mb.min_interval_seconds,
         row_number() OVER (PARTITION BY m.mailbox_id ORDER BY m.send_at, m.id) - 1 AS place
       FROM outreach.messages m
       JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
       JOIN outreach.mailboxes mb ON mb.organisation_id = m.organisation_id AND mb.id = m.mailbox_id
       WHERE e.campaign_id = ? AND m.direction = 'OUTBOUND' AND m.status IN ('QUEUED', 'AWAITING_APPROVAL')
         AND m.send_at < ?
     ),
     moved AS (
       UPDATE outreach.messages m
       SET send_at = ?::timestamptz + make_interval(secs => held.place * held.min_interval_seconds), updated_at = now()
       FROM held WHERE m.id = held.id
       RETURNING m.task_id, m.send_at
     )
     UPDATE outreach.tasks t SET send_at = moved.send_at, updated_at = now()
     FROM moved WHERE t.id = moved.task_id`,
    [campaign.id, now, nextOpening(windowOf(campaign), now)],
  );
}

/**
 * RUNNING → PAUSED: tasks not yet dispatched are cancelled at once (launching again restores them); drafts
 * already dispatched stay with the drafter and the sender, which check the campaign's status themselves.
 */
export async function pauseCampaign(em: EntityManager, campaignId: string, now: Date): Promise<void> {
  const campaign = await lockCampaignSchedule(em, campaignId);
  if (campaign.status === 'PAUSED') return;
  if (campaign.status !== 'RUNNING') throw conflict('Only a running campaign can be paused', campaign);
  await rawQuery(
    em,
    `UPDATE outreach.campaigns SET status = 'PAUSED', paused_at = ?, updated_at = now() WHERE id = ?`,
    [now, campaign.id],
  );
  await rawQuery(
    em,
    `WITH cancelled AS (
       UPDATE outreach.tasks t SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL, updated_at = now()
       FROM outreach.campaign_enrollments e
       WHERE e.organisation_id = t.organisation_id AND e.id = t.enrollment_id AND e.campaign_id = ?
         AND t.status = 'PENDING'
       RETURNING t.enrollment_id
     )
     UPDATE outreach.campaign_enrollments e SET next_run_at = NULL, updated_at = now()
     FROM cancelled WHERE e.id = cancelled.enrollment_id`,
    [campaign.id],
  );
}

/**
 * Takes one enrolment out of its campaign: STOPPED, its pending tasks cancelled and its unsent drafts kept as not
 * sent. An enrolment that already ended is left as it is. Returns its campaign's id.
 */
export async function unenroll(em: EntityManager, enrollmentId: string): Promise<string> {
  if (!isUuid(enrollmentId)) throw notFound('Enrollment');
  const [found] = await rawQuery<{ campaign_id: string }>(
    em,
    'SELECT campaign_id FROM outreach.campaign_enrollments WHERE id = ?',
    [enrollmentId],
  );
  if (!found) throw notFound('Enrollment');
  // the campaign first, as everywhere else, then the enrolment
  await lockCampaignSchedule(em, found.campaign_id);
  const [stopped] = await rawQuery<{ id: string }>(
    em,
    `UPDATE outreach.campaign_enrollments
     SET status = 'STOPPED', stopped_reason = 'UNENROLLED', next_run_at = NULL, updated_at = now()
     WHERE id = ? AND status IN ('ACTIVE', 'PAUSED')
     RETURNING id`,
    [enrollmentId],
  );
  if (!stopped) return found.campaign_id;
  await rawQuery(
    em,
    `UPDATE outreach.tasks SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL, updated_at = now()
     WHERE enrollment_id = ? AND status IN ('PENDING', 'QUEUED')`,
    [enrollmentId],
  );
  // drafts that will never go are kept, with why, as when a reply or a bounce stops a prospect
  await rawQuery(
    em,
    `UPDATE outreach.messages SET status = 'FAILED', error = 'Not sent: the enrolment stopped (UNENROLLED)',
       updated_at = now()
     WHERE enrollment_id = ? AND direction = 'OUTBOUND' AND status IN ('DRAFTING', 'AWAITING_APPROVAL', 'QUEUED')`,
    [enrollmentId],
  );
  await completeFinishedCampaigns(em, [found.campaign_id]);
  await recordEvents(em, [
    { event: ENROLLMENT_CHANGED, campaignId: found.campaign_id, payload: { enrollmentId } },
  ]);
  return found.campaign_id;
}
