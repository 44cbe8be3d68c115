// The relay's work for one claimed campaign stream: read its unpublished events in the organisation's tenant
// transaction, publish them in sequence order with publisher confirms, then mark them published. A crash
// between publish and mark leaves the lease to expire and the events to be published again: consumers dedupe
// by event id.
import type { MikroORM } from '@mikro-orm/postgresql';
import { type Bus, type DomainEvent, eventRoutingKey } from '../../lib/bus/index.ts';
import { rawQuery, withTenant } from '../../lib/db/orm.ts';

export interface StreamClaim {
  organisationId: string;
  campaignId: string;
  publishedSequence: number;
}

export interface RelayDeps {
  orm: MikroORM;
  bus: Bus;
  workerId: string;
  clock: () => Date;
  /** Events published per stream per claim. */
  batchSize: number;
}

interface OutboxRow {
  id: string;
  sequence: string;
  topic: string;
  payload: Record<string, string>;
  created_at: Date;
}

/** Claims up to `limit` campaign streams across organisations; ids and organisation only. */
export async function claimStreams(
  deps: Pick<RelayDeps, 'orm' | 'workerId' | 'clock'>,
  limit: number,
  leaseSeconds: number,
): Promise<StreamClaim[]> {
  const rows = await rawQuery<{ organisation_id: string; campaign_id: string; published_sequence: string }>(
    deps.orm.em.fork(),
    'SELECT organisation_id, campaign_id, published_sequence FROM outreach.claim_outbox(?, ?, ?, ?)',
    [limit, leaseSeconds, deps.workerId, deps.clock()],
  );
  return rows.map((r) => ({
    organisationId: r.organisation_id,
    campaignId: r.campaign_id,
    publishedSequence: Number(r.published_sequence),
  }));
}

/** Publishes one claimed stream's next events in order; returns how many were published. */
export async function relayStream(deps: RelayDeps, claim: StreamClaim): Promise<number> {
  const events = await withTenant(deps.orm, claim.organisationId, (em) =>
    rawQuery<OutboxRow>(
      em,
      `SELECT id, sequence, topic, payload, created_at FROM outreach.outbox
       WHERE campaign_id = ? AND sequence > ? ORDER BY sequence LIMIT ?`,
      [claim.campaignId, claim.publishedSequence, deps.batchSize],
    ),
  );
  let published = claim.publishedSequence;
  let failure: { eventId: string; error: string } | undefined;
  for (const row of events) {
    // the envelope wins over any payload key of the same name
    const body: DomainEvent = {
      ...row.payload,
      type: row.topic,
      organisationId: claim.organisationId,
      campaignId: claim.campaignId,
      eventId: row.id,
      sequence: Number(row.sequence),
      at: new Date(row.created_at).toISOString(),
    };
    try {
      // one at a time: a retried publish must not overtake the next event of the campaign
      await deps.bus.publishEvent(eventRoutingKey(claim.campaignId, row.topic), body, { messageId: row.id });
    } catch (err) {
      failure = { eventId: row.id, error: (err instanceof Error ? err.message : String(err)).slice(0, 1000) };
      break;
    }
    published = Number(row.sequence);
  }
  await withTenant(deps.orm, claim.organisationId, async (em) => {
    if (failure) {
      const [row] = await rawQuery<{ attempts: number }>(
        em,
        'UPDATE outreach.outbox SET attempts = attempts + 1, last_error = ? WHERE id = ? RETURNING attempts',
        [failure.error, failure.eventId],
      );
      // keep the lease a while: the stream is tried again after a backoff, still in order
      const backoffMs = Math.min(60_000, 1000 * 2 ** Math.min(6, (row?.attempts ?? 1) - 1));
      await rawQuery(
        em,
        `UPDATE outreach.outbox_streams SET published_sequence = GREATEST(published_sequence, ?), leased_until = ?
         WHERE campaign_id = ? AND leased_by = ?`,
        [published, new Date(deps.clock().getTime() + backoffMs), claim.campaignId, deps.workerId],
      );
    } else {
      // a relay whose lease was taken over records its progress but leaves the new holder's lease alone
      await rawQuery(
        em,
        `UPDATE outreach.outbox_streams SET published_sequence = GREATEST(published_sequence, ?),
           leased_by = CASE WHEN leased_by = ? THEN NULL ELSE leased_by END,
           leased_until = CASE WHEN leased_by = ? THEN NULL ELSE leased_until END
         WHERE campaign_id = ?`,
        [published, deps.workerId, deps.workerId, claim.campaignId],
      );
    }
  });
  if (failure) throw new RelayPublishError(claim, failure.error, published - claim.publishedSequence);
  return published - claim.publishedSequence;
}

/** Some events of a stream were not published; they are retried after a backoff. */
export class RelayPublishError extends Error {
  override name = 'RelayPublishError';
  readonly claim: StreamClaim;
  readonly published: number;
  constructor(claim: StreamClaim, message: string, published: number) {
    super(message);
    this.claim = claim;
    this.published = published;
  }
}
