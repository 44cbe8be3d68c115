// What an inbound email does to the sequences: matched to the email of ours it answers in the same mailbox (by
// Gmail thread, by In-Reply-To/References, for bounces by the Message-ID of the attached original), a reply
// stops the address (kept as a RECEIVED message), an automatic reply pauses the enrolment for 3 schedule days,
// a bounce stops and suppresses the address, a soft bounce sends the email once more a schedule day later, an
// unsubscribe request unsubscribes. Mail that matches nothing of ours is left alone. Each email is handled once
// per mailbox (outreach.inbound_receipts). Used by the inbox worker and simulateInbound, in the caller's tenant
// transaction.
import { createHash, randomUUID } from 'node:crypto';
import { ENROLLMENT_CHANGED, REPLIED } from '../../../lib/bus/catalog.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { type Classified, classifyInbound, type InboundKind } from '../../../lib/mail/classify.ts';
import { recordEvent } from '../../../lib/outbox/outbox.ts';
import { addWindowDays } from './calendar.ts';
import { queueSendTasks } from './sending-handoff.ts';
import { CAMPAIGN_SCHEDULE_COLUMNS, type CampaignSchedule, prospectTimezones, windowOf } from './sequence.ts';
import { stopAddress } from './stops.ts';

/** How long an automatic reply (out of office) pauses an enrolment, in the campaign's schedule days. */
export const AUTO_REPLY_PAUSE_DAYS = 3;
/** When a soft-bounced email is sent again, in schedule days. */
export const SOFT_BOUNCE_RETRY_DAYS = 1;
/** Text kept of a received reply. */
const MAX_STORED_TEXT = 100_000;

export interface ReceiveOptions {
  /** The provider's id of the email (Gmail's message id); without one, its Message-ID (or its hash) is the key. */
  providerMessageId?: string;
  /** The provider's thread id (Gmail's). */
  threadId?: string;
  receivedAt: Date;
}

export type InboundEffect =
  /** Handled now: the enrolment stopped, paused, or the email is being sent again. */
  | 'handled'
  /** Seen before in this mailbox: nothing done again. */
  | 'duplicate'
  /** Matches no email we sent from this mailbox: ignored, not stored. */
  | 'unmatched'
  /** A delivery delay notice, or a soft bounce of an email already being sent again: nothing to do. */
  | 'no-action';

export interface InboundOutcome {
  kind: InboundKind;
  effect: InboundEffect;
  /** Our outbound email it answers (the bounced one, for bounces). */
  matchedMessageId: string | null;
  enrollmentId: string | null;
  /** The enrolment's status afterwards. */
  enrollmentStatus: string | null;
  /** A reply: the RECEIVED message it was stored as. */
  receivedMessageId: string | null;
  /** A soft bounce: the new QUEUED copy that will be sent again. */
  retryMessageId: string | null;
}

interface Matched {
  id: string;
  enrollment_id: string;
  position_id: string;
  step_id: string | null;
  status: string;
  thread_id: string | null;
  retry_of: string | null;
  enrollment_email: string | null;
  enrollment_status: string;
  campaign_id: string;
}

/** Text as PostgreSQL stores it: a NUL byte in a received email must not make it unstorable. */
function storable(value: string | undefined, max: number): string | null {
  return value === undefined ? null : value.replaceAll('\u0000', '').slice(0, max);
}

/** The key an email is handled once by in a mailbox. */
function receiptKey(classified: Classified, raw: string | Buffer, providerMessageId?: string): string {
  if (providerMessageId) return providerMessageId;
  if (classified.messageId) return `message-id:${storable(classified.messageId, 980)}`;
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** Classifies `raw`, received in `mailboxId`, and applies what it means to the sequences. */
export async function receiveInbound(
  em: EntityManager,
  mailboxId: string,
  raw: string | Buffer,
  options: ReceiveOptions,
): Promise<InboundOutcome> {
  const classified = await classifyInbound(raw);
  const key = receiptKey(classified, raw, options.providerMessageId);
  const outcome: InboundOutcome = {
    kind: classified.kind,
    effect: 'unmatched',
    matchedMessageId: null,
    enrollmentId: null,
    enrollmentStatus: null,
    receivedMessageId: null,
    retryMessageId: null,
  };
  // first, so two readers of one email (a resync beside a history round) cannot both act on it
  const [fresh] = await rawQuery<{ kind: string }>(
    em,
    `INSERT INTO outreach.inbound_receipts (organisation_id, mailbox_id, provider_message_id, kind, received_at)
     VALUES (public.current_organisation_id(), ?, ?, ?, ?)
     ON CONFLICT (organisation_id, mailbox_id, provider_message_id) DO NOTHING RETURNING kind`,
    [mailboxId, key, classified.kind, options.receivedAt],
  );
  if (!fresh) return duplicateOutcome(em, mailboxId, key, outcome);

  const matched = await matchOutbound(em, mailboxId, classified, options.threadId);
  if (!matched) return outcome;
  // the campaign first, as the scheduler and sends lock it, then its rows
  await rawQuery(em, 'SELECT 1 FROM outreach.campaigns WHERE id = ? FOR NO KEY UPDATE', [
    matched.campaign_id,
  ]);
  outcome.matchedMessageId = matched.id;
  outcome.enrollmentId = matched.enrollment_id;
  outcome.effect = 'handled';

  switch (classified.kind) {
    case 'reply': {
      const receivedMessageId = await storeReply(em, mailboxId, key, classified, matched, options);
      outcome.receivedMessageId = receivedMessageId;
      const { stopped } = await stopAddress(em, {
        cause: 'REPLIED',
        email: matched.enrollment_email ?? classified.from ?? '',
        enrollmentId: matched.enrollment_id,
        messageId: receivedMessageId,
        sentMessageId: matched.id,
      });
      // a sequence already over is not stopped again, but its email was still answered: the figures count it
      if (!stopped.some((s) => s.enrollmentId === matched.enrollment_id)) {
        await recordEvent(em, REPLIED, {
          campaignId: matched.campaign_id,
          payload: {
            enrollmentId: matched.enrollment_id,
            messageId: receivedMessageId,
            sentMessageId: matched.id,
          },
        });
      }
      break;
    }
    case 'auto-reply':
      if (!(await pauseEnrollment(em, matched, options.receivedAt))) outcome.effect = 'no-action';
      break;
    case 'bounce':
      await bounce(em, matched, classified);
      break;
    case 'soft-bounce':
      if (classified.action === 'delayed') {
        outcome.effect = 'no-action';
      } else if (matched.retry_of !== null || matched.step_id === null) {
        // the email was already sent again once (or its step is gone): a second soft bounce is a bounce
        await bounce(em, matched, classified);
      } else {
        outcome.retryMessageId = (await sendAgain(em, matched, classified, options.receivedAt)) ?? null;
        if (!outcome.retryMessageId) outcome.effect = 'no-action';
      }
      break;
    case 'unsubscribe-request':
      await stopAddress(em, {
        cause: 'UNSUBSCRIBED',
        email: matched.enrollment_email ?? classified.from ?? '',
        enrollmentId: matched.enrollment_id,
        messageId: matched.id,
      });
      break;
  }
  await rawQuery(
    em,
    `UPDATE outreach.inbound_receipts SET matched_message_id = ?, enrollment_id = ?, received_message_id = ?
     WHERE mailbox_id = ? AND provider_message_id = ?`,
    [matched.id, matched.enrollment_id, outcome.receivedMessageId, mailboxId, key],
  );
  outcome.enrollmentStatus = await enrollmentStatus(em, matched.enrollment_id);
  return outcome;
}

async function duplicateOutcome(
  em: EntityManager,
  mailboxId: string,
  key: string,
  outcome: InboundOutcome,
): Promise<InboundOutcome> {
  const [seen] = await rawQuery<{
    matched_message_id: string | null;
    enrollment_id: string | null;
    received_message_id: string | null;
  }>(
    em,
    `SELECT matched_message_id, enrollment_id, received_message_id FROM outreach.inbound_receipts
     WHERE mailbox_id = ? AND provider_message_id = ?`,
    [mailboxId, key],
  );
  return {
    ...outcome,
    effect: 'duplicate',
    matchedMessageId: seen?.matched_message_id ?? null,
    enrollmentId: seen?.enrollment_id ?? null,
    receivedMessageId: seen?.received_message_id ?? null,
    enrollmentStatus: seen?.enrollment_id ? await enrollmentStatus(em, seen.enrollment_id) : null,
  };
}

async function enrollmentStatus(em: EntityManager, enrollmentId: string): Promise<string | null> {
  const [row] = await rawQuery<{ status: string }>(
    em,
    'SELECT status FROM outreach.campaign_enrollments WHERE id = ?',
    [enrollmentId],
  );
  return row?.status ?? null;
}

/**
 * Our outbound email in this mailbox that the inbound one answers: for a bounce the original it carries first;
 * then the one its In-Reply-To / References name (the most specific first); then the latest sent in its thread.
 */
async function matchOutbound(
  em: EntityManager,
  mailboxId: string,
  classified: Classified,
  threadId: string | undefined,
): Promise<Matched | undefined> {
  const named = [
    ...(classified.bouncedMessageId ? [classified.bouncedMessageId] : []),
    ...(classified.inReplyTo ? [classified.inReplyTo] : []),
    ...[...classified.references].reverse(),
  ];
  if (named.length === 0 && !threadId) return undefined;
  const [row] = await rawQuery<Matched>(
    em,
    `SELECT m.id, m.enrollment_id, m.position_id, m.step_id, m.status, m.thread_id, m.retry_of,
       e.email::text AS enrollment_email, e.status AS enrollment_status, e.campaign_id
     FROM outreach.messages m
     JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
     WHERE m.direction = 'OUTBOUND' AND m.mailbox_id = ?
       AND (m.rfc_message_id = ANY (?::text[]) OR (?::text IS NOT NULL AND m.thread_id = ?))
     ORDER BY coalesce(array_position(?::text[], m.rfc_message_id), 2147483647), m.sent_at DESC NULLS LAST, m.id
     LIMIT 1`,
    [mailboxId, named, threadId ?? null, threadId ?? null, named],
  );
  return row;
}

async function storeReply(
  em: EntityManager,
  mailboxId: string,
  key: string,
  classified: Classified,
  matched: Matched,
  options: ReceiveOptions,
): Promise<string> {
  const id = randomUUID();
  const [stored] = await rawQuery<{ id: string }>(
    em,
    `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, position_id, mailbox_id, direction, status,
       subject, body_text, from_email, in_reply_to, thread_id, provider_message_id, created_at, updated_at)
     VALUES (public.current_organisation_id(), ?, ?, ?, ?, 'INBOUND', 'RECEIVED', ?, ?, ?, ?, ?, ?, ?, now())
     ON CONFLICT (organisation_id, mailbox_id, provider_message_id) WHERE direction = 'INBOUND' DO NOTHING
     RETURNING id`,
    [
      id,
      matched.enrollment_id,
      matched.position_id,
      mailboxId,
      storable(classified.subject, 1000),
      storable(classified.text, MAX_STORED_TEXT),
      storable(classified.from, 320),
      storable(classified.inReplyTo, 1000),
      options.threadId ?? matched.thread_id,
      key,
      options.receivedAt,
    ],
  );
  if (stored) return stored.id;
  const [existing] = await rawQuery<{ id: string }>(
    em,
    `SELECT id FROM outreach.messages WHERE direction = 'INBOUND' AND mailbox_id = ? AND provider_message_id = ?`,
    [mailboxId, key],
  );
  return existing!.id;
}

/** `days` schedule days after `at` in the enrolment's window (its campaign's days and hours, in the prospect's zone). */
async function scheduleDaysLater(em: EntityManager, matched: Matched, at: Date, days: number): Promise<Date> {
  const [campaign] = await rawQuery<CampaignSchedule>(
    em,
    `SELECT ${CAMPAIGN_SCHEDULE_COLUMNS} FROM outreach.campaigns c WHERE c.id = ?`,
    [matched.campaign_id],
  );
  const zone = (await prospectTimezones(em, campaign!, [matched.position_id])).get(matched.position_id);
  return addWindowDays(windowOf(campaign!, zone), at, days);
}

/** Out of office: the running enrolment waits 3 schedule days, then goes on (dispatch resumes it). */
async function pauseEnrollment(em: EntityManager, matched: Matched, receivedAt: Date): Promise<boolean> {
  if (matched.enrollment_status !== 'ACTIVE' && matched.enrollment_status !== 'PAUSED') return false;
  const resumeAt = await scheduleDaysLater(em, matched, receivedAt, AUTO_REPLY_PAUSE_DAYS);
  const [paused] = await rawQuery<{ id: string }>(
    em,
    `UPDATE outreach.campaign_enrollments
     SET status = 'PAUSED', resume_at = ?, next_run_at = greatest(next_run_at, ?), updated_at = now()
     WHERE id = ? AND status IN ('ACTIVE', 'PAUSED') RETURNING id`,
    [resumeAt, resumeAt, matched.enrollment_id],
  );
  if (!paused) return false;
  // its waiting tasks wait with it (the scheduler would move them there anyway)
  await rawQuery(
    em,
    `UPDATE outreach.tasks SET scheduled_for = greatest(scheduled_for, ?), updated_at = now()
     WHERE enrollment_id = ? AND status = 'PENDING'`,
    [resumeAt, matched.enrollment_id],
  );
  await recordEvent(em, ENROLLMENT_CHANGED, {
    campaignId: matched.campaign_id,
    payload: { enrollmentId: matched.enrollment_id },
  });
  return true;
}

/** The address we sent to, unless the report names another as the one that failed. */
function bouncedAddress(matched: Matched, classified: Classified): string {
  const enrolled = matched.enrollment_email?.toLowerCase();
  if (
    enrolled &&
    (classified.failedRecipients.length === 0 || classified.failedRecipients.includes(enrolled))
  )
    return enrolled;
  return classified.failedRecipients[0] ?? enrolled ?? '';
}

async function bounce(em: EntityManager, matched: Matched, classified: Classified): Promise<void> {
  await rawQuery(
    em,
    `UPDATE outreach.messages SET status = 'BOUNCED', error = ?, updated_at = now()
     WHERE id = ? AND status IN ('SENDING', 'SENT')`,
    [`Bounced${classified.status ? ` (${classified.status})` : ''}`, matched.id],
  );
  await stopAddress(em, {
    cause: 'BOUNCED',
    email: bouncedAddress(matched, classified),
    enrollmentId: matched.enrollment_id,
    messageId: matched.id,
  });
}

/**
 * A soft bounce (mailbox full, server busy): a QUEUED copy of the email (new id, no Message-ID yet) due a
 * schedule day later, and the step's SEND task PENDING for it, which the sender takes from there. Once only:
 * the copy names the email it retries. Undefined when there is nothing to send again (stopped, or already
 * being retried).
 */
async function sendAgain(
  em: EntityManager,
  matched: Matched,
  classified: Classified,
  receivedAt: Date,
): Promise<string | undefined> {
  if (matched.enrollment_status !== 'ACTIVE' && matched.enrollment_status !== 'PAUSED') return undefined;
  const sendAt = await scheduleDaysLater(em, matched, receivedAt, SOFT_BOUNCE_RETRY_DAYS);
  const copyId = randomUUID();
  const [copy] = await rawQuery<{ id: string; mailbox_id: string | null }>(
    em,
    `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, step_id, variant_id, mailbox_id, position_id,
       direction, status, subject, body_text, body_html, prompt_id, step_index, send_at, model, retry_of)
     SELECT m.organisation_id, ?, m.enrollment_id, m.step_id, m.variant_id, m.mailbox_id, m.position_id,
       'OUTBOUND', 'QUEUED', m.subject, m.body_text, m.body_html, m.prompt_id, m.step_index, ?, m.model, m.id
     FROM outreach.messages m
     WHERE m.id = ? AND NOT EXISTS (SELECT 1 FROM outreach.messages r WHERE r.retry_of = m.id)
     RETURNING id, mailbox_id`,
    [copyId, sendAt, matched.id],
  );
  if (!copy) return undefined;
  await rawQuery(em, `UPDATE outreach.messages SET error = ?, updated_at = now() WHERE id = ?`, [
    `Soft bounce${classified.status ? ` (${classified.status})` : ''}: sent again as ${copy.id}`,
    matched.id,
  ]);
  // one SEND task per enrolment and step: whatever it did before, it now sends the copy
  await queueSendTasks(em, [copy.id], sendAt);
  await recordEvent(em, ENROLLMENT_CHANGED, {
    campaignId: matched.campaign_id,
    payload: { enrollmentId: matched.enrollment_id },
  });
  return copy.id;
}
