// How writers of one campaign keep out of each other's way, in the caller's transaction.
//
// - A campaign's sends (the sender's claims and outcomes, an enrolment moving on) share the campaign: many run at
//   once, one batch per mailbox.
// - Launch, pause, enrolment and unenrolment hold the campaign alone: they wait for the sends in flight, and the
//   sends after them see their change. These are advisory locks, which queue in arrival order, so a pause is
//   never starved by a stream of sends (a row lock shared by many would let each new one in ahead of it).
// - The scheduler's dispatch locks the campaign's row, as launch and pause do after the advisory lock: dispatches
//   count a campaign's day one at a time, and a pause waits for the one in flight.
// - The end of a campaign is decided by one writer at a time, after the others' changes are committed: two
//   batches finishing its last enrolments side by side would each see the other's as still going.
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';

/** First key of pg_advisory_xact_lock(int, int): the lock's kind; the second is the campaign id's hash. */
const SENDS = 7301;
const COMPLETION = 7302;

/**
 * Takes these campaigns' locks of one kind, in the order of their keys (two transactions taking several never
 * wait on each other in a circle; a hash shared by two campaigns only makes them wait on each other).
 */
async function take(
  em: EntityManager,
  kind: number,
  campaignIds: readonly string[],
  shared: boolean,
): Promise<void> {
  if (campaignIds.length === 0) return;
  const fn = shared ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  await rawQuery(
    em,
    `SELECT ${fn}(?, k.key) FROM (
       SELECT DISTINCT hashtext(id::text) AS key FROM unnest(?::uuid[]) AS u(id) ORDER BY 1
     ) AS k`,
    [kind, [...campaignIds]],
  );
}

/** A claim or outcome of these campaigns' sends: many at once, none beside a launch or a pause. */
export function shareCampaigns(em: EntityManager, campaignIds: readonly string[]): Promise<void> {
  return take(em, SENDS, campaignIds, true);
}

/** Launch, pause, enrolment: the campaign alone, once the sends in flight are over. */
export function holdCampaign(em: EntityManager, campaignId: string): Promise<void> {
  return take(em, SENDS, [campaignId], false);
}

/** Deciding whether these campaigns are over: one transaction at a time, each seeing the ones before it. */
export function decideCompletion(em: EntityManager, campaignIds: readonly string[]): Promise<void> {
  return take(em, COMPLETION, campaignIds, false);
}
