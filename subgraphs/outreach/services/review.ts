// Human review of drafts in campaigns that require approval: approve (optionally edited) to QUEUED, or
// reject, after which the enrolment goes on with its next step or stops, as the campaign says. Both are
// conditional updates of an AWAITING_APPROVAL message, so a second decision on the same draft is refused.
import { DRAFTED, ENROLLMENT_CHANGED } from '../../../lib/bus/catalog.ts';
import { type EntityManager, isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { AppError, badInput, ErrorCode, notFound } from '../../../lib/errors.ts';
import { recordEvent } from '../../../lib/outbox/outbox.ts';
import { queueSendTasks } from './sending-handoff.ts';
import { advanceEnrollment } from './sequence.ts';
import { bodyToHtml } from './templates.ts';

/** RFC 5322 keeps header lines under 998 characters; a subject is one line. */
export const MAX_SUBJECT_LENGTH = 998;
export const MAX_BODY_LENGTH = 100_000;

export interface ReviewEdits {
  subject?: string | null;
  bodyText?: string | null;
}

interface Reviewed {
  enrollment_id: string;
  step_index: number | null;
  campaign_id: string;
  on_reject: 'NEXT_STEP' | 'STOP';
}

function checkEdits(edits: ReviewEdits): { subject: string | null; bodyText: string | null } {
  let subject: string | null = null;
  let bodyText: string | null = null;
  if (edits.subject !== undefined && edits.subject !== null) {
    subject = edits.subject.trim();
    if (!subject) throw badInput('subject cannot be empty', { field: 'subject' });
    // a line break in a subject would become a header of the email
    if (/[\r\n]/.test(subject)) throw badInput('subject must be one line', { field: 'subject' });
    if (subject.length > MAX_SUBJECT_LENGTH) {
      throw badInput(`subject must be at most ${MAX_SUBJECT_LENGTH} characters`, { field: 'subject' });
    }
  }
  if (edits.bodyText !== undefined && edits.bodyText !== null) {
    bodyText = edits.bodyText.replace(/\r\n?/g, '\n').trim();
    if (!bodyText) throw badInput('bodyText cannot be empty', { field: 'bodyText' });
    if (bodyText.length > MAX_BODY_LENGTH) {
      throw badInput(`bodyText must be at most ${MAX_BODY_LENGTH} characters`, { field: 'bodyText' });
    }
  }
  return { subject, bodyText };
}

/** Why a message that is not awaiting approval cannot be decided on: missing (or another organisation's), or decided. */
async function notAwaiting(em: EntityManager, messageId: string): Promise<AppError> {
  const [row] = await rawQuery<{ status: string }>(em, 'SELECT status FROM outreach.messages WHERE id = ?', [
    messageId,
  ]);
  if (!row) return notFound('Message');
  return new AppError(ErrorCode.Conflict, `The message is ${row.status}, not awaiting approval`, {
    status: row.status,
  });
}

// the message's enrolment and campaign, joined in the update itself
const FROM_ENROLLMENT = `FROM outreach.campaign_enrollments e
  JOIN outreach.campaigns c ON c.organisation_id = e.organisation_id AND c.id = e.campaign_id`;
const MATCH = `e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
  AND m.id = ? AND m.status = 'AWAITING_APPROVAL'`;
const RETURNING = 'RETURNING m.enrollment_id, m.step_index, c.id AS campaign_id, c.on_reject';

/** AWAITING_APPROVAL → QUEUED, with the reviewer's edits (an edited body gets its HTML again). */
export async function approveMessage(
  em: EntityManager,
  messageId: string,
  edits: ReviewEdits,
  reviewer: { userId: string | null; at: Date },
): Promise<void> {
  if (!isUuid(messageId)) throw notFound('Message');
  const { subject, bodyText } = checkEdits(edits);
  const [approved] = await rawQuery<Reviewed>(
    em,
    `UPDATE outreach.messages m SET status = 'QUEUED',
       subject = coalesce(?, m.subject), body_text = coalesce(?, m.body_text), body_html = coalesce(?, m.body_html),
       reviewed_by = ?, reviewed_at = ?, updated_at = now()
     ${FROM_ENROLLMENT} WHERE ${MATCH} ${RETURNING}`,
    [
      subject,
      bodyText,
      bodyText === null ? null : bodyToHtml(bodyText),
      reviewer.userId,
      reviewer.at,
      messageId,
    ],
  );
  if (!approved) throw await notAwaiting(em, messageId);
  await queueSendTasks(em, [messageId], reviewer.at);
  await recordEvent(em, DRAFTED, {
    campaignId: approved.campaign_id,
    payload: { enrollmentId: approved.enrollment_id, messageId },
  });
}

/**
 * AWAITING_APPROVAL → REJECTED: never sent. The enrolment moves on to its next step (NEXT_STEP), or stops
 * with the reason DRAFT_REJECTED (STOP).
 */
export async function rejectMessage(
  em: EntityManager,
  messageId: string,
  reviewer: { userId: string | null; at: Date },
): Promise<void> {
  if (!isUuid(messageId)) throw notFound('Message');
  const [rejected] = await rawQuery<Reviewed>(
    em,
    `UPDATE outreach.messages m SET status = 'REJECTED', reviewed_by = ?, reviewed_at = ?, updated_at = now()
     ${FROM_ENROLLMENT} WHERE ${MATCH} ${RETURNING}`,
    [reviewer.userId, reviewer.at, messageId],
  );
  if (!rejected) throw await notAwaiting(em, messageId);
  if (rejected.on_reject === 'NEXT_STEP' && rejected.step_index !== null) {
    await advanceEnrollment(em, rejected.enrollment_id, rejected.step_index, reviewer.at);
    return;
  }
  const stopped = await rawQuery(
    em,
    `UPDATE outreach.campaign_enrollments SET status = 'STOPPED', stopped_reason = 'DRAFT_REJECTED',
       next_run_at = NULL, updated_at = now()
     WHERE id = ? AND status = 'ACTIVE' RETURNING id`,
    [rejected.enrollment_id],
  );
  if (stopped.length > 0) {
    await recordEvent(em, ENROLLMENT_CHANGED, {
      campaignId: rejected.campaign_id,
      payload: { enrollmentId: rejected.enrollment_id },
    });
  }
}
