// The scheduling rules a claimed draft task goes through before the drafter gets it: the campaign still
// running, the enrolment still active, the address not suppressed, inside the window, the mailbox (the
// enrolment's own, else the campaign's least used today), both daily limits, the mailbox's spacing, and the
// A/B variant. One call handles a batch of one organisation's claimed tasks in its tenant transaction.
import { createHash } from 'node:crypto';
import { ENROLLMENT_CHANGED } from '../../../lib/bus/catalog.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { type EventToRecord, recordEvents } from '../../../lib/outbox/outbox.ts';
import { currentOrNextWindow, localDay, nextOpening, type SendWindow } from './calendar.ts';
import {
  type CampaignSchedule,
  completeFinishedCampaigns,
  lockCampaignsOfTasks,
  prospectTimezones,
  windowOf,
} from './sequence.ts';
import { stoppedStatus, suppressionLookup } from './stops.ts';

export interface DispatchOptions {
  /** The worker whose claim this is: a task whose lease another worker took over is left alone. */
  workerId: string;
  now: Date;
  /** How long a dispatched task waits for the drafter before it is claimed and dispatched again. */
  queuedLeaseSeconds: number;
}

export interface DispatchedTask {
  taskId: string;
  kind: 'DRAFT' | 'SEND';
}

export interface DispatchResult {
  /** Tasks handed on, to be published after commit (again, for a task whose earlier dispatch went unanswered). */
  queued: DispatchedTask[];
  rescheduled: number;
  cancelled: number;
}

interface TaskRow {
  id: string;
  kind: 'DRAFT' | 'SEND';
  status: string;
  enrollment_id: string;
  step_id: string;
  campaign_id: string;
  enrollment_status: string;
  /** A PAUSED enrolment (an automatic reply) goes on from then. */
  resume_at: string | null;
  /** The campaign's first step: its emails are the ones the campaign's daily limit counts. */
  first_step: boolean;
  enrollment_mailbox_id: string | null;
  email: string | null;
  position_id: string;
  /** A SEND task's mailbox status: its email waits while the mailbox needs reconnecting. */
  send_mailbox_status: string | null;
  /** A SEND task's message status: one in SENDING may have gone, and only the sender's lookup can tell. */
  send_message_status: string | null;
}

interface MailboxRow {
  id: string;
  status: string;
  daily_limit: number;
  min_interval_seconds: number;
  timezone: string;
}

interface MailboxDay {
  mailbox: MailboxRow;
  dayEnd: Date;
  used: number;
  lastSendAt: Date | null;
}

interface VariantRow {
  id: string;
  step_id: string;
  weight: number;
}

const DISPATCHED = `('QUEUED', 'RUNNING', 'DONE')`;
// no active mailbox to send from (one to reconnect): look again in an hour
const NO_MAILBOX_RETRY_MS = 3_600_000;
// a drafted email whose mailbox needs reconnecting: look again a few minutes later
const SEND_MAILBOX_RETRY_MS = 600_000;

/** A number in [0, 1) fixed by the key: the same enrolment and step always draw the same. */
export function stableFraction(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 2 ** 32;
}

/** The variant drawn for an enrolment's step, in proportion to the weights (variants in a fixed order). */
export function pickVariant<V extends { id: string; weight: number }>(
  variants: readonly V[],
  enrollmentId: string,
  stepId: string,
): V | undefined {
  const total = variants.reduce((sum, v) => sum + Math.max(0, v.weight), 0);
  if (variants.length === 0) return undefined;
  if (total === 0) return variants[0];
  let point = stableFraction(`${enrollmentId}:${stepId}`) * total;
  for (const v of variants) {
    point -= Math.max(0, v.weight);
    if (point < 0) return v;
  }
  return variants.at(-1);
}

/** Runs one organisation's claimed tasks through the rules; call in that organisation's tenant transaction. */
export async function dispatchTasks(
  em: EntityManager,
  taskIds: readonly string[],
  options: DispatchOptions,
): Promise<DispatchResult> {
  const { now, workerId } = options;
  const result: DispatchResult = { queued: [], rescheduled: 0, cancelled: 0 };
  if (taskIds.length === 0) return result;

  // campaigns first, locked in id order (as launch, pause and the other workers lock them), then the tasks
  const campaigns = await lockCampaignsOfTasks(em, taskIds, 'dispatch');
  // only tasks still leased to this worker: one whose lease expired and was claimed again is someone else's
  const tasks = await rawQuery<TaskRow>(
    em,
    `SELECT t.id, t.kind, t.status, t.enrollment_id, t.step_id, e.campaign_id, e.status AS enrollment_status, e.resume_at,
       e.mailbox_id AS enrollment_mailbox_id, e.email::text AS email, e.position_id,
       (SELECT mb.status FROM outreach.mailboxes mb WHERE t.kind = 'SEND' AND mb.organisation_id = t.organisation_id
          AND mb.id = t.mailbox_id) AS send_mailbox_status,
       (SELECT m.status FROM outreach.messages m WHERE t.kind = 'SEND' AND m.organisation_id = t.organisation_id
          AND m.id = t.message_id) AS send_message_status,
       NOT EXISTS (SELECT 1 FROM outreach.workflow_steps earlier
                   WHERE earlier.organisation_id = s.organisation_id AND earlier.campaign_id = s.campaign_id
                     AND earlier.index < s.index) AS first_step
     FROM outreach.tasks t
     JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
     JOIN outreach.workflow_steps s ON s.organisation_id = t.organisation_id AND s.id = t.step_id
     WHERE t.id = ANY (?::uuid[]) AND t.leased_by = ? AND t.status IN ('PENDING', 'QUEUED', 'RUNNING')
     ORDER BY t.scheduled_for, t.id
     FOR UPDATE OF t`,
    [taskIds, workerId],
  );
  if (tasks.length === 0) return result;

  const suppressedBy = await suppressionLookup(
    em,
    tasks.map((t) => t.email),
  );

  const live = tasks.filter((t) => campaigns.get(t.campaign_id)?.status === 'RUNNING');
  const campaignMailboxes = await rawQuery<{ campaign_id: string; mailbox_id: string }>(
    em,
    'SELECT campaign_id, mailbox_id FROM outreach.campaign_mailboxes WHERE campaign_id = ANY (?::uuid[]) ORDER BY mailbox_id',
    [[...new Set(live.map((t) => t.campaign_id))]],
  );
  const mailboxIds = [
    ...new Set([
      ...campaignMailboxes.map((r) => r.mailbox_id),
      ...live.map((t) => t.enrollment_mailbox_id).filter((id): id is string => !!id),
    ]),
  ].sort();
  // locked: two schedulers never count one mailbox's day at the same time
  const mailboxRows = await rawQuery<MailboxRow>(
    em,
    `SELECT id, status, daily_limit, min_interval_seconds, timezone FROM outreach.mailboxes
     WHERE id = ANY (?::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
    [mailboxIds],
  );
  const mailboxDays = await loadMailboxDays(em, mailboxRows, now);
  const campaignUsed = await loadCampaignDays(em, [...campaigns.values()], now);

  const zones = new Map<string, string>();
  for (const campaign of campaigns.values()) {
    const positions = live.filter((t) => t.campaign_id === campaign.id).map((t) => t.position_id);
    for (const [position, zone] of await prospectTimezones(em, campaign, positions))
      zones.set(position, zone);
  }
  const variants = await rawQuery<VariantRow>(
    em,
    `SELECT v.id, x.step_id, v.weight FROM outreach.step_experiment_variants v
     JOIN outreach.step_experiments x ON x.organisation_id = v.organisation_id AND x.id = v.experiment_id
     WHERE x.step_id = ANY (?::uuid[]) ORDER BY v.key, v.id`,
    [[...new Set(live.map((t) => t.step_id))]],
  );
  const assigned = new Map(
    (
      await rawQuery<{ enrollment_id: string; step_id: string; variant_id: string }>(
        em,
        `SELECT enrollment_id, step_id, variant_id FROM outreach.enrollment_variant_assignments
         WHERE enrollment_id = ANY (?::uuid[])`,
        [[...new Set(live.map((t) => t.enrollment_id))]],
      )
    ).map((a) => [`${a.enrollment_id}:${a.step_id}`, a.variant_id]),
  );

  const queued: { id: string; mailboxId: string | null; variantId: string | null; sendAt: Date | null }[] =
    [];
  const again: string[] = [];
  const later: { id: string; at: Date }[] = [];
  const cancelled: string[] = [];
  // SEND tasks of stopped enrolments: their emails will never go
  const unsent: string[] = [];
  const stopped: { enrollmentId: string; campaignId: string; status: string; reason: string }[] = [];
  const newAssignments: { enrollmentId: string; stepId: string; variantId: string }[] = [];
  const resumed = new Map<string, string>();

  // the window as of `now`, once per campaign and zone
  const windows = new Map<string, { window: SendWindow; from: Date; end: Date }>();
  const windowFor = (campaign: CampaignSchedule, zone: string | undefined) => {
    const key = `${campaign.id}|${zone}`;
    let found = windows.get(key);
    if (!found) {
      const window = windowOf(campaign, zone);
      found = { window, ...currentOrNextWindow(window, now) };
      windows.set(key, found);
    }
    return found;
  };

  for (const task of tasks) {
    const campaign = campaigns.get(task.campaign_id);
    // an email that may have gone is settled by the sender (a lookup first), whatever changed since
    if (task.send_message_status === 'SENDING') {
      if (task.status === 'PENDING')
        queued.push({ id: task.id, mailboxId: null, variantId: null, sendAt: null });
      else again.push(task.id);
      result.queued.push({ taskId: task.id, kind: task.kind });
      continue;
    }
    // paused by an automatic reply: its waiting task waits until resume_at, then the enrolment goes on
    if (campaign?.status === 'RUNNING' && task.enrollment_status === 'PAUSED' && task.resume_at !== null) {
      const resumeAt = new Date(task.resume_at);
      if (resumeAt.getTime() > now.getTime()) {
        // one already dispatched is handed on again below: the sender holds a paused enrolment's email
        if (task.status === 'PENDING') {
          later.push({ id: task.id, at: resumeAt });
          continue;
        }
      } else {
        resumed.set(task.enrollment_id, campaign.id);
        for (const t of tasks) if (t.enrollment_id === task.enrollment_id) t.enrollment_status = 'ACTIVE';
      }
    }
    if (
      campaign?.status !== 'RUNNING' ||
      (task.enrollment_status !== 'ACTIVE' &&
        !(task.enrollment_status === 'PAUSED' && task.resume_at !== null))
    ) {
      cancelled.push(task.id);
      // a paused campaign keeps its drafted emails for its relaunch; a stopped enrolment does not
      if (task.kind === 'SEND' && !['ACTIVE', 'PAUSED'].includes(task.enrollment_status))
        unsent.push(task.id);
      continue;
    }
    const suppressed = suppressedBy(task.email);
    if (suppressed) {
      cancelled.push(task.id);
      if (task.kind === 'SEND') unsent.push(task.id);
      stopped.push({
        enrollmentId: task.enrollment_id,
        campaignId: campaign.id,
        status: stoppedStatus(suppressed),
        reason: `SUPPRESSED_${suppressed}`,
      });
      continue;
    }
    // dispatched before and never picked up: hand it on again as it was decided
    if (task.status !== 'PENDING') {
      again.push(task.id);
      result.queued.push({ taskId: task.id, kind: task.kind });
      continue;
    }
    if (task.kind === 'SEND' && task.send_mailbox_status && task.send_mailbox_status !== 'ACTIVE') {
      later.push({ id: task.id, at: new Date(now.getTime() + SEND_MAILBOX_RETRY_MS) });
      continue;
    }
    if (task.kind !== 'DRAFT') {
      queued.push({ id: task.id, mailboxId: null, variantId: null, sendAt: null });
      result.queued.push({ taskId: task.id, kind: task.kind });
      continue;
    }
    const { window, from, end: windowEnd } = windowFor(campaign, zones.get(task.position_id));
    if (from.getTime() > now.getTime()) {
      later.push({ id: task.id, at: from });
      continue;
    }
    // the campaign's limit is on first emails: follow-ups of prospects already contacted are not held back
    const campaignDay = task.first_step ? campaignUsed.get(campaign.id) : undefined;
    if (campaign.daily_limit !== null && campaignDay && campaignDay.used >= campaign.daily_limit) {
      later.push({ id: task.id, at: nextOpening(window, campaignDay.dayEnd) });
      continue;
    }

    const candidates = task.enrollment_mailbox_id
      ? [task.enrollment_mailbox_id]
      : campaignMailboxes.filter((r) => r.campaign_id === campaign.id).map((r) => r.mailbox_id);
    const usable = candidates
      .map((id) => mailboxDays.get(id))
      .filter((d): d is MailboxDay => d !== undefined && d.mailbox.status === 'ACTIVE');
    if (usable.length === 0) {
      later.push({
        id: task.id,
        at: nextOpening(window, new Date(now.getTime() + NO_MAILBOX_RETRY_MS)),
      });
      continue;
    }
    const open = usable.filter((d) => d.used < d.mailbox.daily_limit);
    if (open.length === 0) {
      const firstFree = new Date(Math.min(...usable.map((d) => d.dayEnd.getTime())));
      later.push({ id: task.id, at: nextOpening(window, firstFree) });
      continue;
    }
    // least used today; among equals, the one that can send soonest
    const day = open.reduce((best, d) =>
      d.used < best.used ||
      (d.used === best.used && (d.lastSendAt?.getTime() ?? 0) < (best.lastSendAt?.getTime() ?? 0))
        ? d
        : best,
    );
    const spacingMs =
      day.mailbox.min_interval_seconds * 1000 * (1 + 0.5 * stableFraction(`spacing:${task.id}`));
    const sendAt = new Date(Math.max(now.getTime(), (day.lastSendAt?.getTime() ?? 0) + spacingMs));
    // the slot must fall in this window, this mailbox day and this campaign day, or wait for the next
    const limitEnd = Math.min(
      windowEnd.getTime(),
      day.dayEnd.getTime(),
      campaign.daily_limit !== null && campaignDay ? campaignDay.dayEnd.getTime() : Number.POSITIVE_INFINITY,
    );
    if (sendAt.getTime() >= limitEnd) {
      later.push({ id: task.id, at: nextOpening(window, new Date(limitEnd)) });
      continue;
    }

    const key = `${task.enrollment_id}:${task.step_id}`;
    let variantId = assigned.get(key) ?? null;
    if (!variantId) {
      const drawn = pickVariant(
        variants.filter((v) => v.step_id === task.step_id),
        task.enrollment_id,
        task.step_id,
      );
      if (drawn) {
        variantId = drawn.id;
        assigned.set(key, drawn.id);
        newAssignments.push({ enrollmentId: task.enrollment_id, stepId: task.step_id, variantId: drawn.id });
      }
    }
    day.used++;
    day.lastSendAt = sendAt;
    if (campaignDay) campaignDay.used++;
    queued.push({ id: task.id, mailboxId: day.mailbox.id, variantId, sendAt });
    result.queued.push({ taskId: task.id, kind: task.kind });
  }

  await writeOutcome(em, options, {
    enrollmentOf: new Map(tasks.map((t) => [t.id, t.enrollment_id])),
    resumed,
    queued,
    again,
    later,
    cancelled,
    unsent,
    stopped,
    newAssignments,
  });
  result.rescheduled = later.length;
  result.cancelled = cancelled.length;
  return result;
}

/** Each mailbox's sends of its local day so far (dispatched tasks by send slot) and its latest slot. */
async function loadMailboxDays(
  em: EntityManager,
  mailboxes: MailboxRow[],
  now: Date,
): Promise<Map<string, MailboxDay>> {
  if (mailboxes.length === 0) return new Map();
  const days = mailboxes.map((m) => ({ mailbox: m, ...localDay(m.timezone, now) }));
  const rows = await rawQuery<{ id: string; used: number; last_send_at: string | null }>(
    em,
    `SELECT u.id,
       (SELECT count(*)::int FROM outreach.tasks t
        WHERE t.mailbox_id = u.id AND t.send_at >= u.day_start AND t.send_at < u.day_end AND t.status IN ${DISPATCHED}) AS used,
       (SELECT max(t.send_at) FROM outreach.tasks t WHERE t.mailbox_id = u.id AND t.status IN ${DISPATCHED}) AS last_send_at
     FROM unnest(?::uuid[], ?::timestamptz[], ?::timestamptz[]) AS u(id, day_start, day_end)`,
    [days.map((d) => d.mailbox.id), days.map((d) => d.start), days.map((d) => d.end)],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return new Map(
    days.map((d) => {
      const row = byId.get(d.mailbox.id);
      return [
        d.mailbox.id,
        {
          mailbox: d.mailbox,
          dayEnd: d.end,
          used: row?.used ?? 0,
          lastSendAt: row?.last_send_at ? new Date(row.last_send_at) : null,
        },
      ];
    }),
  );
}

/** Each limited campaign's first emails of its local day (in the campaign's timezone). */
async function loadCampaignDays(
  em: EntityManager,
  campaigns: CampaignSchedule[],
  now: Date,
): Promise<Map<string, { used: number; dayEnd: Date }>> {
  const limited = campaigns.filter((c) => c.daily_limit !== null && c.status === 'RUNNING');
  if (limited.length === 0) return new Map();
  const days = limited.map((c) => ({ id: c.id, ...localDay(c.timezone, now) }));
  const rows = await rawQuery<{ id: string; used: number }>(
    em,
    `SELECT u.id,
       (SELECT count(*)::int FROM outreach.tasks t
        JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
        JOIN outreach.workflow_steps s ON s.organisation_id = t.organisation_id AND s.id = t.step_id
        WHERE e.campaign_id = u.id AND t.send_at >= u.day_start AND t.send_at < u.day_end AND t.status IN ${DISPATCHED}
          AND s.index = (SELECT min(f.index) FROM outreach.workflow_steps f WHERE f.campaign_id = u.id)) AS used
     FROM unnest(?::uuid[], ?::timestamptz[], ?::timestamptz[]) AS u(id, day_start, day_end)`,
    [days.map((d) => d.id), days.map((d) => d.start), days.map((d) => d.end)],
  );
  const used = new Map(rows.map((r) => [r.id, r.used]));
  return new Map(days.map((d) => [d.id, { used: used.get(d.id) ?? 0, dayEnd: d.end }]));
}

async function writeOutcome(
  em: EntityManager,
  options: DispatchOptions,
  outcome: {
    /** Each claimed task's enrolment. */
    enrollmentOf: Map<string, string>;
    /** Enrolments whose pause ended: enrolment id → campaign id. */
    resumed: Map<string, string>;
    queued: { id: string; mailboxId: string | null; variantId: string | null; sendAt: Date | null }[];
    again: string[];
    later: { id: string; at: Date }[];
    cancelled: string[];
    unsent: string[];
    stopped: { enrollmentId: string; campaignId: string; status: string; reason: string }[];
    newAssignments: { enrollmentId: string; stepId: string; variantId: string }[];
  },
): Promise<void> {
  const leasedUntil = new Date(options.now.getTime() + options.queuedLeaseSeconds * 1000);
  const { enrollmentOf, resumed, queued, again, later, cancelled, unsent, stopped, newAssignments } = outcome;
  // every statement names its rows' keys outright, so that the plan never depends on the table's statistics
  const enrollmentsOf = (taskIds: string[]) => [...new Set(taskIds.map((id) => enrollmentOf.get(id)!))];
  // recorded last: from there to commit each campaign's stream row stays locked
  const events: EventToRecord[] = [];
  if (resumed.size > 0) {
    const back = await rawQuery<{ id: string; campaign_id: string }>(
      em,
      `UPDATE outreach.campaign_enrollments SET status = 'ACTIVE', resume_at = NULL, updated_at = now()
       WHERE id = ANY (?::uuid[]) AND status = 'PAUSED' RETURNING id, campaign_id`,
      [[...resumed.keys()]],
    );
    for (const e of back)
      events.push({ event: ENROLLMENT_CHANGED, campaignId: e.campaign_id, payload: { enrollmentId: e.id } });
  }
  if (newAssignments.length > 0) {
    await rawQuery(
      em,
      `INSERT INTO outreach.enrollment_variant_assignments (organisation_id, enrollment_id, step_id, variant_id)
       SELECT public.current_organisation_id(), a.enrollment_id, a.step_id, a.variant_id
       FROM unnest(?::uuid[], ?::uuid[], ?::uuid[]) AS a(enrollment_id, step_id, variant_id)
       ON CONFLICT DO NOTHING`,
      [
        newAssignments.map((a) => a.enrollmentId),
        newAssignments.map((a) => a.stepId),
        newAssignments.map((a) => a.variantId),
      ],
    );
  }
  if (queued.length > 0) {
    // the task keeps its lease: if the drafter never answers, it is claimed and handed on again
    await rawQuery(
      em,
      `WITH q AS (
         UPDATE outreach.tasks t SET status = 'QUEUED', mailbox_id = coalesce(q.mailbox_id, t.mailbox_id),
           variant_id = coalesce(q.variant_id, t.variant_id), send_at = coalesce(q.send_at, t.send_at), leased_until = ?, attempts = t.attempts + 1, updated_at = now()
         FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::timestamptz[]) AS q(id, mailbox_id, variant_id, send_at)
         WHERE t.id = ANY (?::uuid[]) AND t.id = q.id
         RETURNING t.enrollment_id, t.send_at, t.mailbox_id
       )
       UPDATE outreach.campaign_enrollments e
       SET next_run_at = coalesce(q.send_at, e.next_run_at), mailbox_id = coalesce(e.mailbox_id, q.mailbox_id),
         updated_at = now()
       FROM q WHERE e.id = ANY (?::uuid[]) AND e.id = q.enrollment_id`,
      [
        leasedUntil,
        queued.map((q) => q.id),
        queued.map((q) => q.mailboxId),
        queued.map((q) => q.variantId),
        queued.map((q) => q.sendAt),
        queued.map((q) => q.id),
        enrollmentsOf(queued.map((q) => q.id)),
      ],
    );
  }
  if (again.length > 0) {
    await rawQuery(
      em,
      'UPDATE outreach.tasks SET leased_until = ?, attempts = attempts + 1, updated_at = now() WHERE id = ANY (?::uuid[])',
      [leasedUntil, again],
    );
  }
  if (later.length > 0) {
    await rawQuery(
      em,
      `WITH l AS (
         UPDATE outreach.tasks t SET scheduled_for = l.at, leased_by = NULL, leased_until = NULL, updated_at = now()
         FROM unnest(?::uuid[], ?::timestamptz[]) AS l(id, at)
         WHERE t.id = ANY (?::uuid[]) AND t.id = l.id
         RETURNING t.enrollment_id, t.scheduled_for
       )
       UPDATE outreach.campaign_enrollments e SET next_run_at = l.scheduled_for, updated_at = now()
       FROM l WHERE e.id = ANY (?::uuid[]) AND e.id = l.enrollment_id`,
      [
        later.map((l) => l.id),
        later.map((l) => l.at),
        later.map((l) => l.id),
        enrollmentsOf(later.map((l) => l.id)),
      ],
    );
  }
  if (cancelled.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.tasks SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL, updated_at = now()
       WHERE id = ANY (?::uuid[])`,
      [cancelled],
    );
  }
  if (unsent.length > 0) {
    // as stopAddress keeps them: never sent, and why
    await rawQuery(
      em,
      `UPDATE outreach.messages m SET status = 'FAILED', updated_at = now(),
         error = 'Not sent: the enrolment stopped (' || coalesce(s.reason, e.stopped_reason, e.status) || ')'
       FROM outreach.tasks t
       JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
       LEFT JOIN unnest(?::uuid[], ?::text[]) AS s(enrollment_id, reason) ON s.enrollment_id = e.id
       WHERE t.id = ANY (?::uuid[]) AND m.organisation_id = t.organisation_id AND m.id = t.message_id
         AND m.status = 'QUEUED'`,
      [stopped.map((s) => s.enrollmentId), stopped.map((s) => s.reason), unsent],
    );
  }
  if (stopped.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.campaign_enrollments e SET status = s.status, stopped_reason = s.reason, next_run_at = NULL,
         updated_at = now()
       FROM unnest(?::uuid[], ?::text[], ?::text[]) AS s(id, status, reason)
       WHERE e.id = ANY (?::uuid[]) AND e.id = s.id AND e.status IN ('ACTIVE', 'PAUSED')`,
      [
        stopped.map((s) => s.enrollmentId),
        stopped.map((s) => s.status),
        stopped.map((s) => s.reason),
        stopped.map((s) => s.enrollmentId),
      ],
    );
    await completeFinishedCampaigns(em, [...new Set(stopped.map((s) => s.campaignId))]);
    for (const s of stopped)
      events.push({
        event: ENROLLMENT_CHANGED,
        campaignId: s.campaignId,
        payload: { enrollmentId: s.enrollmentId },
      });
  }
  await recordEvents(em, events);
}
