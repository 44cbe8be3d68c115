// Stopping a prospect's sequences because of what they did: a reply, a bounce, an unsubscribe. The enrolment
// it happened in takes the matching status and event; every other running enrolment of the same address in
// the organisation stops too, whatever campaign it is in (one person, one conversation). Bounces, unsubscribes
// and complaints also suppress the address for the organisation. Runs in the caller's tenant transaction.
import { BOUNCED, ENROLLMENT_CHANGED, REPLIED, UNSUBSCRIBED } from '../../../lib/bus/catalog.ts';
import type { EventDescriptor } from '../../../lib/bus/descriptors.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { type EventToRecord, recordEvents } from '../../../lib/outbox/outbox.ts';
import { emailDomain, normaliseEmail } from '../../../lib/validation/email.ts';
import { completeFinishedCampaigns } from './sequence.ts';

export type StopCause = 'REPLIED' | 'BOUNCED' | 'UNSUBSCRIBED' | 'COMPLAINED';

/** The enrolment status each cause gives, where it happened and in the address's other enrolments. */
const STATUS: Record<StopCause, { here: string; elsewhere: string; elsewhereReason: string }> = {
  REPLIED: { here: 'REPLIED', elsewhere: 'STOPPED', elsewhereReason: 'REPLIED_ELSEWHERE' },
  BOUNCED: { here: 'BOUNCED', elsewhere: 'BOUNCED', elsewhereReason: 'SUPPRESSED_BOUNCED' },
  UNSUBSCRIBED: {
    here: 'UNSUBSCRIBED',
    elsewhere: 'UNSUBSCRIBED',
    elsewhereReason: 'SUPPRESSED_UNSUBSCRIBED',
  },
  COMPLAINED: { here: 'UNSUBSCRIBED', elsewhere: 'UNSUBSCRIBED', elsewhereReason: 'SUPPRESSED_COMPLAINED' },
};

const EVENT: Record<StopCause, EventDescriptor<{ enrollmentId: string; messageId: string }>> = {
  REPLIED,
  BOUNCED,
  UNSUBSCRIBED,
  COMPLAINED: UNSUBSCRIBED,
};

/** Suppressing causes and the suppression reason they write. */
const SUPPRESSION: Partial<Record<StopCause, string>> = {
  BOUNCED: 'BOUNCED',
  UNSUBSCRIBED: 'UNSUBSCRIBED',
  COMPLAINED: 'COMPLAINED',
};

/** What a suppression (its reason) does to an enrolment found running for its address. */
export function stoppedStatus(reason: string): string {
  if (reason === 'BOUNCED') return 'BOUNCED';
  if (reason === 'UNSUBSCRIBED' || reason === 'COMPLAINED') return 'UNSUBSCRIBED';
  return 'STOPPED';
}

/**
 * Reads the suppressions of these addresses (by address, or by domain) in one query; the function it returns
 * gives an address's suppression reason, the address's own before its domain's, or undefined.
 */
export async function suppressionLookup(
  em: EntityManager,
  emails: readonly (string | null)[],
): Promise<(email: string | null) => string | undefined> {
  const wanted = [...new Set(emails.filter((e): e is string => !!e).map((e) => e.toLowerCase()))];
  const rows = await rawQuery<{ value: string; kind: string; reason: string }>(
    em,
    `SELECT lower(value) AS value, kind, reason FROM crm.suppressions
     WHERE value = ANY (?::citext[]) OR (kind = 'DOMAIN' AND value = ANY (?::citext[]))`,
    [wanted, [...new Set(wanted.map(emailDomain))]],
  );
  return (email) => {
    if (!email) return undefined;
    const lower = email.toLowerCase();
    return (
      rows.find((s) => s.kind === 'EMAIL' && s.value === lower)?.reason ??
      rows.find((s) => s.kind === 'DOMAIN' && s.value === emailDomain(lower))?.reason
    );
  };
}

export interface StopInput {
  cause: StopCause;
  /** The address the prospect used or was sent to. */
  email: string;
  /** Where it happened: the enrolment, and the message the event names (the reply, the bounced email…). */
  enrollmentId?: string;
  messageId?: string;
  /** For a reply: the email it answers (the figures count the reply for that email). */
  sentMessageId?: string;
}

export interface Stopped {
  enrollmentId: string;
  campaignId: string;
  status: string;
}

export interface StopResult {
  /** Enrolments this call stopped (an enrolment already stopped is not listed: calling again changes nothing). */
  stopped: Stopped[];
  /** Whether the address was newly added to the suppression list. */
  suppressed: boolean;
}

/**
 * Stops the address's running (ACTIVE or PAUSED) enrolments in the organisation for `cause`, cancels their
 * pending tasks and their unsent emails, suppresses the address where the cause says so, and records the
 * events: the cause's own (REPLIED, BOUNCED, UNSUBSCRIBED) for the enrolment it happened in, with
 * `messageId`, and ENROLLMENT_CHANGED for each. Idempotent.
 */
export async function stopAddress(em: EntityManager, input: StopInput): Promise<StopResult> {
  const email = normaliseEmail(input.email);
  const status = STATUS[input.cause];
  let suppressed = false;
  const reason = SUPPRESSION[input.cause];
  if (reason && email) {
    const rows = await rawQuery<{ added: boolean }>(
      em,
      'SELECT added FROM crm.suppress_addresses(?::text[], ?)',
      [[email], reason],
    );
    suppressed = rows.some((r) => r.added);
  }
  // the enrolment it happened in, even if its stored address differs in case, plus the address's others
  const stopped = await rawQuery<Stopped & { here: boolean }>(
    em,
    `UPDATE outreach.campaign_enrollments e
     SET status = CASE WHEN e.id = ?::uuid THEN ? ELSE ? END,
         stopped_reason = CASE WHEN e.id = ?::uuid THEN ? ELSE ? END,
         next_run_at = NULL, updated_at = now()
     WHERE e.status IN ('ACTIVE', 'PAUSED') AND (e.id = ?::uuid OR (?::citext IS NOT NULL AND e.email = ?::citext))
     RETURNING e.id AS "enrollmentId", e.campaign_id AS "campaignId", e.status, e.id = ?::uuid AS here`,
    [
      input.enrollmentId ?? null,
      status.here,
      status.elsewhere,
      input.enrollmentId ?? null,
      input.cause,
      status.elsewhereReason,
      input.enrollmentId ?? null,
      email ?? null,
      email ?? null,
      input.enrollmentId ?? null,
    ],
  );
  if (stopped.length === 0) return { stopped: [], suppressed };
  const ids = stopped.map((s) => s.enrollmentId);
  await rawQuery(
    em,
    `UPDATE outreach.tasks SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL, updated_at = now()
     WHERE enrollment_id = ANY (?::uuid[]) AND status IN ('PENDING', 'QUEUED')`,
    [ids],
  );
  // drafts that will never go: kept, with why (an email being sent right now finishes as it is)
  await rawQuery(
    em,
    `UPDATE outreach.messages SET status = 'FAILED', error = ?, updated_at = now()
     WHERE enrollment_id = ANY (?::uuid[]) AND direction = 'OUTBOUND'
       AND status IN ('DRAFTING', 'AWAITING_APPROVAL', 'QUEUED')`,
    [`Not sent: the enrolment stopped (${input.cause})`, ids],
  );
  await completeFinishedCampaigns(em, [...new Set(stopped.map((s) => s.campaignId))]);
  const events: EventToRecord[] = [];
  for (const s of stopped) {
    if (s.here && input.messageId) {
      events.push({
        event: EVENT[input.cause],
        campaignId: s.campaignId,
        payload: {
          enrollmentId: s.enrollmentId,
          messageId: input.messageId,
          ...(input.sentMessageId ? { sentMessageId: input.sentMessageId } : {}),
        },
      });
    }
    events.push({
      event: ENROLLMENT_CHANGED,
      campaignId: s.campaignId,
      payload: { enrollmentId: s.enrollmentId },
    });
  }
  await recordEvents(em, events);
  return { stopped: stopped.map(({ here: _here, ...s }) => s), suppressed };
}
