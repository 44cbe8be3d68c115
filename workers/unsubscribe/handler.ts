// One verified one-click unsubscribe: the recipient of the message the link was in is suppressed for the
// organisation and their running enrolments become UNSUBSCRIBED (services/stops.ts). The tracking endpoint
// checked the token's signature; this checks that the message exists in that organisation and was sent to that
// recipient. Idempotent: a redelivery, or the same link used again, changes nothing.
import type { MikroORM } from '@mikro-orm/postgresql';
import { PermanentError } from '../../lib/bus/index.ts';
import { isUuid, rawQuery, withTenant } from '../../lib/db/orm.ts';
import { type StopResult, stopAddress } from '../../subgraphs/outreach/services/stops.ts';

export interface Unsubscribe {
  organisationId: string;
  messageId: string;
  positionId: string;
}

/** Stops the recipient's sequences; a message that is not theirs (or not there) is a PermanentError. */
export async function unsubscribe(orm: MikroORM, request: Unsubscribe): Promise<StopResult> {
  const { organisationId, messageId, positionId } = request;
  if (!isUuid(organisationId) || !isUuid(messageId) || !isUuid(positionId)) {
    throw new PermanentError('organisationId, messageId and positionId must be UUIDs');
  }
  return withTenant(orm, organisationId, async (em) => {
    // the address the email went to: the enrolment's, else (enrolments from before it was kept) the position's
    const [recipient] = await rawQuery<{ enrollmentId: string; email: string | null }>(
      em,
      `SELECT m.enrollment_id AS "enrollmentId", COALESCE(e.email, p.email)::text AS email
       FROM outreach.messages m
       JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
       LEFT JOIN crm.positions p ON p.organisation_id = m.organisation_id AND p.id = m.position_id
       WHERE m.id = ?::uuid AND m.position_id = ?::uuid AND m.direction = 'OUTBOUND'`,
      [messageId, positionId],
    );
    if (!recipient) throw new PermanentError('no outbound message of this recipient in the organisation');
    if (!recipient.email) throw new PermanentError('the recipient has no address to suppress');
    return stopAddress(em, {
      cause: 'UNSUBSCRIBED',
      email: recipient.email,
      enrollmentId: recipient.enrollmentId,
      messageId,
    });
  });
}
