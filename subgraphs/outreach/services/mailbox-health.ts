// A mailbox whose credentials Google refused (a revoked grant, a removed delegation) needs its owner to connect
// it again: its status says so with Google's reason, its sends wait (the scheduler and the sender skip mailboxes
// that are not ACTIVE), and every campaign sending from it gets an event. connectMailbox makes it ACTIVE again.
import { MAILBOX_NEEDS_RECONNECT } from '../../../lib/bus/catalog.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { recordEvents } from '../../../lib/outbox/outbox.ts';

/** Reasons are Google's words, kept short. */
const MAX_REASON = 500;

/**
 * ACTIVE → NEEDS_RECONNECT with the reason, and MAILBOX_NEEDS_RECONNECT for each running or paused campaign that
 * sends from it. False when the mailbox was not ACTIVE (already marked: no second event). Caller's transaction.
 */
export async function markNeedsReconnect(
  em: EntityManager,
  mailboxId: string,
  reason: string,
): Promise<boolean> {
  const [marked] = await rawQuery<{ id: string }>(
    em,
    `UPDATE outreach.mailboxes SET status = 'NEEDS_RECONNECT', status_reason = ?
     WHERE id = ? AND status = 'ACTIVE' RETURNING id`,
    [reason.slice(0, MAX_REASON), mailboxId],
  );
  if (!marked) return false;
  const campaigns = await rawQuery<{ id: string }>(
    em,
    `SELECT c.id FROM outreach.campaigns c
     WHERE c.status IN ('RUNNING', 'PAUSED') AND (
       EXISTS (SELECT 1 FROM outreach.campaign_mailboxes cm
               WHERE cm.organisation_id = c.organisation_id AND cm.campaign_id = c.id AND cm.mailbox_id = ?)
       OR EXISTS (SELECT 1 FROM outreach.campaign_enrollments e
                  WHERE e.organisation_id = c.organisation_id AND e.campaign_id = c.id AND e.mailbox_id = ?
                    AND e.status IN ('ACTIVE', 'PAUSED')))
     ORDER BY c.id`,
    [mailboxId, mailboxId],
  );
  await recordEvents(
    em,
    campaigns.map((c) => ({ event: MAILBOX_NEEDS_RECONNECT, campaignId: c.id, payload: { mailboxId } })),
  );
  return true;
}
