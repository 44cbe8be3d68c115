// Phase 1 of a send, in one organisation's tenant transaction for a batch of SEND tasks: everything is read
// again right before sending (campaign running, enrolment active, address not suppressed, window, the mailbox's
// state, daily cap, spacing and pause, the message's slot) and each message that may go is claimed with a
// conditional update, QUEUED → SENDING, with its Message-ID generated once and a lease. The transaction commits
// before any network call: a sender that dies after this leaves a SENDING message whose lease runs out, and
// whoever takes it next looks it up in the mailbox before sending anything.
import { randomUUID } from 'node:crypto';
import { ENROLLMENT_CHANGED, FAILED } from '../../../lib/bus/catalog.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { type EventToRecord, recordEvents } from '../../../lib/outbox/outbox.ts';
import { emailDomain } from '../../../lib/validation/email.ts';
import { isOpen, localDay, nextOpening, type SendWindow } from './calendar.ts';
import { completeFinishedCampaigns, lockCampaignsOfTasks, prospectTimezones, windowOf } from './sequence.ts';
import { stoppedStatus, suppressionLookup } from './stops.ts';

export interface SendOptions {
  /** The sender claiming: its name goes on the message's lease. */
  workerId: string;
  now: Date;
  /** How long a claimed message is this sender's before anyone may look it up and finish it. */
  leaseMs: number;
  /** Attempts after which a message that could not be sent is FAILED with the last reason. */
  maxAttempts: number;
}

export interface SendMailbox {
  id: string;
  email: string;
  displayName: string | null;
  provider: 'GMAIL' | 'OUTBOX';
  credentialsEncrypted: string | null;
}

/** A claimed message: everything phase 2 needs, outside any transaction. */
export interface SendJob {
  organisationId: string;
  taskId: string;
  messageId: string;
  enrollmentId: string;
  campaignId: string;
  positionId: string;
  mailbox: SendMailbox;
  to: string;
  subject: string;
  bodyText: string;
  bodyHtml: string | null;
  /** The campaign's tracking settings: the open pixel, wrapped links. */
  trackOpens: boolean;
  trackClicks: boolean;
  /** `<uuid@mailbox-domain>`, kept for ever once generated. */
  rfcMessageId: string;
  /** Follow-ups in the same thread: the previous email's Message-ID, all earlier ones, Gmail's thread. */
  inReplyTo: string | null;
  references: string[];
  threadId: string | null;
  /** A send may have happened before (a lease that ran out, an unknown outcome): look it up first. */
  lookupFirst: boolean;
  /**
   * Whether it may be sent if the lookup does not find it: false when its campaign, enrolment or address changed
   * since it was claimed (it then goes back to QUEUED, and through the checks again).
   */
  sendIfMissing: boolean;
  /** This attempt's number (1 for the first). */
  attempt: number;
  /** Past the last attempt: if the lookup does not find it, the message is FAILED instead of sent again. */
  lastChance: boolean;
  /** The lease ends then: the outcome is written only while it holds. */
  leasedUntil: Date;
}

export type Prepared =
  | { outcome: 'claimed'; job: SendJob }
  | { outcome: 'deferred'; until: Date }
  | { outcome: 'cancelled' | 'failed' | 'skipped' };

interface Row {
  task_id: string;
  task_status: string;
  message_id: string;
  message_status: string;
  rfc_message_id: string | null;
  message_leased_until: Date | null;
  attempts: number;
  message_error: string | null;
  send_at: Date | null;
  subject: string | null;
  body_text: string | null;
  body_html: string | null;
  step_index: number | null;
  thread_with_previous: boolean | null;
  position_id: string;
  mailbox_id: string | null;
  enrollment_id: string;
  enrollment_status: string;
  resume_at: Date | null;
  email: string | null;
  campaign_id: string;
}

interface MailboxRow {
  id: string;
  email: string;
  display_name: string | null;
  provider: 'GMAIL' | 'OUTBOX';
  status: string;
  daily_limit: number;
  min_interval_seconds: number;
  timezone: string;
  paused_until: Date | null;
  credentials_encrypted: string | null;
}

/** A mailbox that cannot send now (to reconnect) is looked at again this much later. */
export const MAILBOX_WAIT_MS = 10 * 60_000;
/** A PAUSED enrolment without a resume time (paused by hand) is looked at again this much later. */
const PAUSED_WAIT_MS = 60 * 60_000;

const READ_SQL = `
  SELECT t.id AS task_id, t.status AS task_status, m.id AS message_id, m.status AS message_status,
    m.rfc_message_id, m.leased_until AS message_leased_until, m.attempts, m.error AS message_error, m.send_at,
    m.subject, m.body_text, m.body_html, m.step_index, s.thread_with_previous, m.position_id,
    coalesce(m.mailbox_id, t.mailbox_id) AS mailbox_id,
    e.id AS enrollment_id, e.status AS enrollment_status, e.resume_at, e.email::text AS email, e.campaign_id
  FROM outreach.tasks t
  JOIN outreach.messages m ON m.organisation_id = t.organisation_id AND m.id = t.message_id
  JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
  LEFT JOIN outreach.workflow_steps s ON s.organisation_id = m.organisation_id AND s.id = m.step_id
  WHERE t.id = ANY (?::uuid[]) AND t.kind = 'SEND'
  ORDER BY t.id
  FOR UPDATE OF t, m`;

/** Runs one organisation's SEND tasks through the checks and claims the messages that may go now. */
export async function prepareSends(
  em: EntityManager,
  organisationId: string,
  taskIds: readonly string[],
  options: SendOptions,
): Promise<Map<string, Prepared>> {
  const { now } = options;
  const prepared = new Map<string, Prepared>();
  if (taskIds.length === 0) return prepared;

  // campaigns first, locked in id order (as launch, pause and the other workers lock them), then the tasks
  const campaigns = await lockCampaignsOfTasks(em, taskIds, 'sends');
  const rows = await rawQuery<Row>(em, READ_SQL, [taskIds]);

  const defer: { taskId: string; at: Date }[] = [];
  // tasks with nothing left to do: DONE when their message went, else CANCELLED
  const close: string[] = [];
  const fail: SendFailure[] = [];
  const claim: {
    row: Row;
    mailbox: MailboxRow;
    lookupFirst: boolean;
    sendIfMissing: boolean;
    rfc: string;
  }[] = [];

  // deliveries of tasks that are done, or not ours to run now (another delivery deferred it)
  const live = rows.filter((r) => {
    if (r.task_status === 'QUEUED' || r.task_status === 'RUNNING') return true;
    prepared.set(r.task_id, { outcome: 'skipped' });
    return false;
  });

  const suppressedBy = await suppressionLookup(
    em,
    live.map((r) => r.email),
  );

  const mailboxIds = [...new Set(live.map((r) => r.mailbox_id).filter((id): id is string => !!id))].sort();
  // locked: two senders never count one mailbox's day, nor space its sends, at the same time
  const mailboxes = new Map(
    (
      await rawQuery<MailboxRow>(
        em,
        `SELECT id, email::text AS email, display_name, provider, status, daily_limit, min_interval_seconds, timezone,
           paused_until, credentials_encrypted
         FROM outreach.mailboxes WHERE id = ANY (?::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
        [mailboxIds],
      )
    ).map((m) => [m.id, m]),
  );
  const days = await mailboxDays(em, [...mailboxes.values()], now);

  const zones = new Map<string, string>();
  for (const campaign of campaigns.values()) {
    const positions = live.filter((r) => r.campaign_id === campaign.id).map((r) => r.position_id);
    if (positions.length === 0) continue;
    for (const [position, zone] of await prospectTimezones(em, campaign, positions))
      zones.set(position, zone);
  }

  for (const row of live) {
    const campaign = campaigns.get(row.campaign_id)!;
    const mailbox = row.mailbox_id ? mailboxes.get(row.mailbox_id) : undefined;
    if (row.message_status === 'SENT') {
      // sent, and the task's move lost (or a second delivery): finish the task
      close.push(row.task_id);
      prepared.set(row.task_id, { outcome: 'skipped' });
      continue;
    }
    if (row.message_status === 'SENDING') {
      const leaseEnd = row.message_leased_until ? new Date(row.message_leased_until) : now;
      // another sender holds it: its outcome will come; look again when its lease ends
      if (leaseEnd.getTime() > now.getTime()) {
        defer.push({ taskId: row.task_id, at: leaseEnd });
        prepared.set(row.task_id, { outcome: 'deferred', until: leaseEnd });
        continue;
      }
      // Its send may have reached the mailbox: whatever happened since, its fate is settled by a lookup
      // first, only the mailbox must be able to answer.
      const wait = mailbox ? mailboxWait(mailbox, now) : undefined;
      if (!mailbox || wait) {
        const at = wait ?? new Date(now.getTime() + MAILBOX_WAIT_MS);
        defer.push({ taskId: row.task_id, at });
        prepared.set(row.task_id, { outcome: 'deferred', until: at });
        continue;
      }
      const mayGo =
        campaign.status === 'RUNNING' && row.enrollment_status === 'ACTIVE' && !suppressedBy(row.email);
      claim.push({
        row,
        mailbox,
        lookupFirst: true,
        sendIfMissing: mayGo,
        rfc: row.rfc_message_id ?? newMessageId(mailbox),
      });
      continue;
    }
    if (row.message_status !== 'QUEUED') {
      // FAILED, BOUNCED, REJECTED…: nothing to send any more
      close.push(row.task_id);
      prepared.set(row.task_id, { outcome: 'cancelled' });
      continue;
    }
    // a paused campaign keeps its queued emails; its task waits for the launch that restores it
    if (campaign.status !== 'RUNNING') {
      close.push(row.task_id);
      prepared.set(row.task_id, { outcome: 'cancelled' });
      continue;
    }
    if (row.enrollment_status === 'PAUSED') {
      const at =
        row.resume_at && new Date(row.resume_at).getTime() > now.getTime()
          ? new Date(row.resume_at)
          : new Date(now.getTime() + PAUSED_WAIT_MS);
      defer.push({ taskId: row.task_id, at });
      prepared.set(row.task_id, { outcome: 'deferred', until: at });
      continue;
    }
    if (row.enrollment_status !== 'ACTIVE') {
      fail.push({ row, reason: `Not sent: the enrolment is ${row.enrollment_status}` });
      prepared.set(row.task_id, { outcome: 'cancelled' });
      continue;
    }
    const suppressed = suppressedBy(row.email);
    if (suppressed) {
      fail.push({
        row,
        reason: `Not sent: the address is suppressed (${suppressed})`,
        enrollmentStatus: stoppedStatus(suppressed),
        stoppedReason: `SUPPRESSED_${suppressed}`,
      });
      prepared.set(row.task_id, { outcome: 'cancelled' });
      continue;
    }
    if (!mailbox || !row.email || !row.subject || !row.body_text) {
      const reason = !mailbox
        ? 'The message has no sending mailbox'
        : !row.email
          ? 'The enrolment has no address'
          : 'The message has no subject or no body';
      fail.push({ row, reason, enrollmentStatus: 'FAILED', stoppedReason: 'SEND_FAILED' });
      prepared.set(row.task_id, { outcome: 'failed' });
      continue;
    }
    if (row.attempts >= options.maxAttempts) {
      fail.push({
        row,
        reason: `${row.message_error ?? 'Not sent'}; gave up after ${row.attempts} attempts`,
        enrollmentStatus: 'FAILED',
        stoppedReason: 'SEND_FAILED',
      });
      prepared.set(row.task_id, { outcome: 'failed' });
      continue;
    }
    const window: SendWindow = windowOf(campaign, zones.get(row.position_id));
    const day = days.get(mailbox.id)!;
    const at = laterOf([
      mailboxWait(mailbox, now),
      row.send_at && new Date(row.send_at).getTime() > now.getTime() ? new Date(row.send_at) : undefined,
      isOpen(window, now) ? undefined : nextOpening(window, now),
      day.used >= mailbox.daily_limit ? nextOpening(window, day.end) : undefined,
      day.last && day.last.getTime() + mailbox.min_interval_seconds * 1000 > now.getTime()
        ? new Date(day.last.getTime() + mailbox.min_interval_seconds * 1000)
        : undefined,
    ]);
    if (at) {
      defer.push({ taskId: row.task_id, at });
      prepared.set(row.task_id, { outcome: 'deferred', until: at });
      continue;
    }
    day.used++;
    day.last = now;
    claim.push({
      row,
      mailbox,
      lookupFirst: false,
      sendIfMissing: true,
      rfc: row.rfc_message_id ?? newMessageId(mailbox),
    });
  }

  const leasedUntil = new Date(now.getTime() + options.leaseMs);
  const claimed = await writeClaims(em, claim, options, leasedUntil);
  const threads = await threadsOf(
    em,
    claim.filter((c) => c.row.thread_with_previous && (c.row.step_index ?? 0) > 0).map((c) => c.row),
  );
  for (const c of claim) {
    const rfc = claimed.get(c.row.message_id);
    if (!rfc) {
      prepared.set(c.row.task_id, { outcome: 'skipped' });
      continue;
    }
    const thread = threads.get(c.row.message_id) ?? [];
    const attempt = c.row.attempts + 1;
    prepared.set(c.row.task_id, {
      outcome: 'claimed',
      job: {
        organisationId,
        taskId: c.row.task_id,
        messageId: c.row.message_id,
        enrollmentId: c.row.enrollment_id,
        campaignId: c.row.campaign_id,
        positionId: c.row.position_id,
        mailbox: {
          id: c.mailbox.id,
          email: c.mailbox.email,
          displayName: c.mailbox.display_name,
          provider: c.mailbox.provider,
          credentialsEncrypted: c.mailbox.credentials_encrypted,
        },
        to: c.row.email ?? '',
        subject: c.row.subject ?? '',
        bodyText: c.row.body_text ?? '',
        bodyHtml: c.row.body_html,
        trackOpens: campaigns.get(c.row.campaign_id)!.track_opens,
        trackClicks: campaigns.get(c.row.campaign_id)!.track_clicks,
        rfcMessageId: rfc,
        inReplyTo: thread.at(-1)?.rfc_message_id ?? null,
        references: thread.map((m) => m.rfc_message_id),
        threadId: thread.at(-1)?.thread_id ?? null,
        lookupFirst: c.lookupFirst,
        sendIfMissing: c.sendIfMissing,
        attempt,
        lastChance: attempt > options.maxAttempts,
        leasedUntil,
      },
    });
  }

  if (defer.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.tasks t SET status = 'PENDING', scheduled_for = d.at, leased_by = NULL, leased_until = NULL,
         updated_at = now()
       FROM unnest(?::uuid[], ?::timestamptz[]) AS d(id, at) WHERE t.id = ANY (?::uuid[]) AND t.id = d.id`,
      [defer.map((d) => d.taskId), defer.map((d) => d.at), defer.map((d) => d.taskId)],
    );
  }
  if (close.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.tasks t SET status = CASE WHEN m.status = 'SENT' THEN 'DONE' ELSE 'CANCELLED' END,
         leased_by = NULL, leased_until = NULL, updated_at = now()
       FROM outreach.messages m
       WHERE t.id = ANY (?::uuid[]) AND m.organisation_id = t.organisation_id AND m.id = t.message_id`,
      [close],
    );
  }
  // events last: from here to commit each campaign's stream row stays locked
  await recordEvents(em, await writeFailures(em, fail));
  return prepared;
}

/** When a mailbox can send again, if not now: it must be reconnected, or Gmail asked it to wait. */
function mailboxWait(mailbox: MailboxRow, now: Date): Date | undefined {
  if (mailbox.status !== 'ACTIVE') return new Date(now.getTime() + MAILBOX_WAIT_MS);
  const paused = mailbox.paused_until ? new Date(mailbox.paused_until) : undefined;
  return paused && paused.getTime() > now.getTime() ? paused : undefined;
}

function laterOf(times: (Date | undefined)[]): Date | undefined {
  const set = times.filter((t): t is Date => t !== undefined);
  return set.length === 0 ? undefined : new Date(Math.max(...set.map((t) => t.getTime())));
}

/** A Message-ID in the mailbox's own domain, as a mail client would write it. */
function newMessageId(mailbox: MailboxRow): string {
  return `<${randomUUID()}@${emailDomain(mailbox.email.toLowerCase())}>`;
}

/** Each mailbox's sends of its local day (sent, or being sent) and when it last began one. */
async function mailboxDays(
  em: EntityManager,
  mailboxes: MailboxRow[],
  now: Date,
): Promise<Map<string, { used: number; end: Date; last: Date | null }>> {
  if (mailboxes.length === 0) return new Map();
  const days = mailboxes.map((m) => ({ id: m.id, ...localDay(m.timezone, now) }));
  const rows = await rawQuery<{ id: string; used: number; last: Date | null }>(
    em,
    `SELECT u.id,
       (SELECT count(*)::int FROM outreach.messages m
        WHERE m.mailbox_id = u.id AND m.status IN ('SENT', 'SENDING') AND m.sent_at >= u.day_start
          AND m.sent_at < u.day_end) AS used,
       (SELECT max(m.sent_at) FROM outreach.messages m
        WHERE m.mailbox_id = u.id AND m.status IN ('SENT', 'SENDING')) AS last
     FROM unnest(?::uuid[], ?::timestamptz[], ?::timestamptz[]) AS u(id, day_start, day_end)`,
    [days.map((d) => d.id), days.map((d) => d.start), days.map((d) => d.end)],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return new Map(
    days.map((d) => {
      const row = byId.get(d.id);
      return [d.id, { used: row?.used ?? 0, end: d.end, last: row?.last ? new Date(row.last) : null }];
    }),
  );
}

/**
 * QUEUED (or SENDING with its lease over) → SENDING, leased to this sender, its Message-ID kept or set once,
 * sent_at the time the attempt began (the mailbox's spacing and day count it); the tasks RUNNING under the
 * same lease, so the scheduler hands them on again if this sender dies. Returns the claimed messages' ids.
 */
async function writeClaims(
  em: EntityManager,
  claims: { row: Row; rfc: string }[],
  options: SendOptions,
  leasedUntil: Date,
): Promise<Map<string, string>> {
  if (claims.length === 0) return new Map();
  const rows = await rawQuery<{ id: string; rfc_message_id: string; task_id: string }>(
    em,
    `UPDATE outreach.messages m SET status = 'SENDING', rfc_message_id = coalesce(m.rfc_message_id, c.rfc),
       leased_by = ?, leased_until = ?, attempts = m.attempts + 1, sent_at = ?, updated_at = now()
     FROM unnest(?::uuid[], ?::text[], ?::uuid[]) AS c(id, rfc, task_id)
     WHERE m.id = ANY (?::uuid[]) AND m.id = c.id
       AND (m.status = 'QUEUED' OR (m.status = 'SENDING' AND m.leased_until <= ?))
     RETURNING m.id, m.rfc_message_id, c.task_id`,
    [
      options.workerId,
      leasedUntil,
      options.now,
      claims.map((c) => c.row.message_id),
      claims.map((c) => c.rfc),
      claims.map((c) => c.row.task_id),
      claims.map((c) => c.row.message_id),
      options.now,
    ],
  );
  if (rows.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.tasks SET status = 'RUNNING', leased_by = ?, leased_until = ?, attempts = attempts + 1,
         updated_at = now()
       WHERE id = ANY (?::uuid[])`,
      [options.workerId, leasedUntil, rows.map((r) => r.task_id)],
    );
  }
  return new Map(rows.map((r) => [r.id, r.rfc_message_id]));
}

/** The earlier emails of each follow-up's thread, oldest first. */
async function threadsOf(
  em: EntityManager,
  rows: Row[],
): Promise<Map<string, { rfc_message_id: string; thread_id: string | null }[]>> {
  const threads = new Map<string, { rfc_message_id: string; thread_id: string | null }[]>();
  if (rows.length === 0) return threads;
  const sent = await rawQuery<{
    enrollment_id: string;
    step_index: number;
    rfc_message_id: string;
    thread_id: string | null;
  }>(
    em,
    `SELECT enrollment_id, step_index, rfc_message_id, thread_id FROM outreach.messages
     WHERE enrollment_id = ANY (?::uuid[]) AND direction = 'OUTBOUND' AND status = 'SENT'
       AND step_index IS NOT NULL AND rfc_message_id IS NOT NULL
     ORDER BY step_index, sent_at`,
    [[...new Set(rows.map((r) => r.enrollment_id))]],
  );
  for (const row of rows) {
    threads.set(
      row.message_id,
      sent
        .filter((s) => s.enrollment_id === row.enrollment_id && s.step_index < (row.step_index ?? 0))
        .map((s) => ({ rfc_message_id: s.rfc_message_id, thread_id: s.thread_id })),
    );
  }
  return threads;
}

export interface SendFailure {
  row: Pick<Row, 'task_id' | 'message_id' | 'enrollment_id' | 'campaign_id'>;
  reason: string;
  /** The enrolment stops so (FAILED, BOUNCED…) with this stopped_reason; left as it is without one. */
  enrollmentStatus?: string;
  stoppedReason?: string;
}

/**
 * Messages that will not go: FAILED with why, their tasks cancelled; the enrolments stop where the failure
 * says so (suppressed, or a send that cannot succeed). Returns the events to record, last, in the transaction.
 */
export async function writeFailures(em: EntityManager, failures: SendFailure[]): Promise<EventToRecord[]> {
  if (failures.length === 0) return [];
  await rawQuery(
    em,
    `UPDATE outreach.tasks SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL, updated_at = now()
     WHERE id = ANY (?::uuid[]) AND status IN ('PENDING', 'QUEUED', 'RUNNING')`,
    [failures.map((f) => f.row.task_id)],
  );
  await rawQuery(
    em,
    `UPDATE outreach.messages m SET status = 'FAILED', error = f.reason, leased_by = NULL, leased_until = NULL,
       sent_at = NULL, updated_at = now()
     FROM unnest(?::uuid[], ?::text[]) AS f(id, reason)
     WHERE m.id = ANY (?::uuid[]) AND m.id = f.id AND m.status IN ('QUEUED', 'SENDING')`,
    [
      failures.map((f) => f.row.message_id),
      failures.map((f) => f.reason),
      failures.map((f) => f.row.message_id),
    ],
  );
  const stopping = failures.filter((f) => f.enrollmentStatus);
  const stopped =
    stopping.length === 0
      ? []
      : await rawQuery<{ id: string }>(
          em,
          `UPDATE outreach.campaign_enrollments e SET status = s.status, stopped_reason = s.reason, next_run_at = NULL,
             updated_at = now()
           FROM unnest(?::uuid[], ?::text[], ?::text[]) AS s(id, status, reason)
           WHERE e.id = ANY (?::uuid[]) AND e.id = s.id AND e.status IN ('ACTIVE', 'PAUSED')
           RETURNING e.id`,
          [
            stopping.map((f) => f.row.enrollment_id),
            stopping.map((f) => f.enrollmentStatus!),
            stopping.map((f) => f.stoppedReason!),
            stopping.map((f) => f.row.enrollment_id),
          ],
        );
  const stoppedIds = new Set(stopped.map((s) => s.id));
  if (stopped.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.tasks SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL, updated_at = now()
       WHERE enrollment_id = ANY (?::uuid[]) AND status IN ('PENDING', 'QUEUED')`,
      [[...stoppedIds]],
    );
    await completeFinishedCampaigns(em, [
      ...new Set(failures.filter((f) => stoppedIds.has(f.row.enrollment_id)).map((f) => f.row.campaign_id)),
    ]);
  }
  const events: EventToRecord[] = [];
  for (const f of failures) {
    const payload = { enrollmentId: f.row.enrollment_id, messageId: f.row.message_id };
    // a send that failed is FAILED; an email that was never to go (suppressed, stopped) only moves its enrolment
    if (f.stoppedReason === 'SEND_FAILED')
      events.push({ event: FAILED, campaignId: f.row.campaign_id, payload });
    if (stoppedIds.has(f.row.enrollment_id))
      events.push({
        event: ENROLLMENT_CHANGED,
        campaignId: f.row.campaign_id,
        payload: { enrollmentId: f.row.enrollment_id },
      });
  }
  return events;
}
