// Inbound mail as it reaches a mailbox, and the sent emails it answers: emails of a campaign recorded as the
// sender leaves them (SENT, with Message-ID, Gmail thread and id), written as the owner.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { CampaignSeed } from './drafts.ts';

export interface SentSeed {
  messageId: string;
  rfcMessageId: string;
  threadId: string;
  enrollmentId: string;
  email: string;
  /** The next step's draft task, PENDING (as advanceEnrollment leaves it), when the campaign has one. */
  nextTaskId: string | null;
}

/** Step 0 of the enrolment was sent at `sentAt`; the enrolment waits for step 1. */
export async function seedSent(
  db: pg.Pool | pg.Client,
  seed: CampaignSeed,
  enrollmentIndex: number,
  sentAt = new Date(),
): Promise<SentSeed> {
  const enrollment = seed.enrollments[enrollmentIndex]!;
  const messageId = randomUUID();
  const rfcMessageId = `<${randomUUID()}@sender.fr>`;
  const threadId = `thread-${randomUUID().slice(0, 12)}`;
  const { rows } = await db.query<{ email: string }>(
    'SELECT email::text FROM outreach.campaign_enrollments WHERE id = $1',
    [enrollment.id],
  );
  await db.query(
    `INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, status, scheduled_for, mailbox_id,
       send_at, message_id)
     VALUES ($1, gen_random_uuid(), $2, $3, 'DRAFT', 'DONE', $4, $5, $4, $6)`,
    [seed.organisationId, enrollment.id, seed.steps[0]!.id, sentAt, seed.mailboxId, messageId],
  );
  await db.query(
    `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, step_id, mailbox_id, position_id, direction,
       status, subject, body_text, body_html, rfc_message_id, provider_message_id, thread_id, sent_at, step_index, send_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'OUTBOUND', 'SENT', 'Vos fournils', 'Bonjour', '<p>Bonjour</p>', $7, $8, $9, $10, 0, $10)`,
    [
      seed.organisationId,
      messageId,
      enrollment.id,
      seed.steps[0]!.id,
      seed.mailboxId,
      enrollment.positionId,
      rfcMessageId,
      `gmail-${randomUUID().slice(0, 12)}`,
      threadId,
      sentAt,
    ],
  );
  let nextTaskId: string | null = null;
  if (seed.steps[1]) {
    nextTaskId = randomUUID();
    await db.query(
      `INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, status, scheduled_for)
       VALUES ($1, $2, $3, $4, 'DRAFT', 'PENDING', $5)`,
      [
        seed.organisationId,
        nextTaskId,
        enrollment.id,
        seed.steps[1].id,
        new Date(sentAt.getTime() + 2 * 86_400_000),
      ],
    );
    await db.query('UPDATE outreach.campaign_enrollments SET current_step_index = 1 WHERE id = $1', [
      enrollment.id,
    ]);
  }
  return {
    messageId,
    rfcMessageId,
    threadId,
    enrollmentId: enrollment.id,
    email: rows[0]!.email,
    nextTaskId,
  };
}

const crlf = (lines: string[]) => `${lines.join('\r\n')}\r\n`;

/** A prospect's answer to our email, quoting it. */
export function replyMail(
  to: string,
  from: string,
  inReplyTo: string,
  text = 'Volontiers, parlons-en jeudi.',
) {
  return crlf([
    `From: Prospect <${from}>`,
    `To: ${to}`,
    'Subject: Re: Vos fournils',
    `Message-ID: <${randomUUID()}@client.fr>`,
    `In-Reply-To: ${inReplyTo}`,
    `References: ${inReplyTo}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    text,
    '',
    '> Bonjour',
  ]);
}

/** An Exchange-style out-of-office answer. */
export function outOfOfficeMail(to: string, from: string, inReplyTo: string) {
  return crlf([
    `From: ${from}`,
    `To: ${to}`,
    'Subject: =?UTF-8?Q?R=C3=A9ponse_automatique_:_Vos_fournils?=',
    `Message-ID: <${randomUUID()}@client.fr>`,
    `In-Reply-To: ${inReplyTo}`,
    'Auto-Submitted: auto-generated',
    'X-Auto-Response-Suppress: All',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Je suis absente du bureau jusqu’au 2 décembre.',
  ]);
}

/** A delivery-status report for `original` sent to `recipient`, with only the original's headers attached. */
export function bounceMail(to: string, recipient: string, original: string, status: string) {
  return crlf([
    'From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>',
    `To: ${to}`,
    `Subject: Delivery Status Notification (${status.startsWith('5') ? 'Failure' : 'Delay'})`,
    `Message-ID: <${randomUUID()}@mx.google.com>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"',
    '',
    '--dsn',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Your message wasn't delivered to ${recipient}.`,
    '--dsn',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; googlemail.com',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    `Status: ${status}`,
    '--dsn',
    'Content-Type: text/rfc822-headers',
    '',
    `From: ${to}`,
    `To: ${recipient}`,
    'Subject: Vos fournils',
    `Message-ID: ${original}`,
    '--dsn--',
  ]);
}
