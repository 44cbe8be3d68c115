// Transactional outbox: a domain event is written in the same tenant transaction as the change it announces,
// and the relay worker publishes it after commit. A rolled-back change leaves no event behind.
import { randomUUID } from 'node:crypto';
import { assertIds, type EventDescriptor, type Ids } from '../bus/descriptors.ts';
import { type EntityManager, isUuid, rawQuery } from '../db/orm.ts';

export interface EventToRecord<P extends Ids = Ids> {
  event: EventDescriptor<P>;
  campaignId: string;
  payload: P;
}

export interface RecordedEvent {
  eventId: string;
  campaignId: string;
  sequence: number;
}

/**
 * Records one event of a campaign. Call it last in the transaction: from here to commit the campaign's stream
 * row stays locked, which is what keeps each campaign's events in commit order.
 */
export async function recordEvent<P extends Ids>(
  em: EntityManager,
  event: EventDescriptor<P>,
  input: { campaignId: string; payload: P },
): Promise<RecordedEvent> {
  const [recorded] = await recordEvents(em, [
    { event, campaignId: input.campaignId, payload: input.payload },
  ]);
  return recorded;
}

/** Records several events in one round trip per campaign, in the order given. */
export async function recordEvents(
  em: EntityManager,
  events: EventToRecord<any>[],
): Promise<RecordedEvent[]> {
  // outside a transaction the event would be committed apart from the change: never
  if (!em.isInTransaction())
    throw new Error('recordEvent must run inside the tenant transaction of the change');
  const byCampaign = new Map<string, Array<{ index: number; id: string; topic: string; payload: string }>>();
  events.forEach((e, index) => {
    if (!isUuid(e.campaignId)) throw new Error('campaignId must be a UUID');
    assertIds(e.payload, `${e.event.name} payload`);
    const list = byCampaign.get(e.campaignId) ?? [];
    list.push({ index, id: randomUUID(), topic: e.event.name, payload: JSON.stringify(e.payload) });
    byCampaign.set(e.campaignId, list);
  });
  const recorded: RecordedEvent[] = new Array(events.length);
  for (const [campaignId, list] of byCampaign) {
    // The stream row's update allocates the sequences and holds the row until commit: a second writer of this
    // campaign waits here, so sequence order is commit order. organisation_id comes from the tenant setting.
    const rows = await rawQuery<{ id: string; sequence: string }>(
      em,
      `WITH stream AS (
         INSERT INTO outreach.outbox_streams AS s (organisation_id, campaign_id, last_sequence)
         VALUES (public.current_organisation_id(), ?, ?)
         ON CONFLICT (organisation_id, campaign_id) DO UPDATE SET last_sequence = s.last_sequence + EXCLUDED.last_sequence
         RETURNING s.last_sequence
       )
       INSERT INTO outreach.outbox (organisation_id, id, campaign_id, sequence, topic, payload)
       SELECT public.current_organisation_id(), e.id, ?, stream.last_sequence - ? + e.ord, e.topic, e.payload::jsonb
       FROM stream, unnest(?::uuid[], ?::text[], ?::text[]) WITH ORDINALITY AS e(id, topic, payload, ord)
       RETURNING id, sequence`,
      [
        campaignId,
        list.length,
        campaignId,
        list.length,
        list.map((e) => e.id),
        list.map((e) => e.topic),
        list.map((e) => e.payload),
      ],
    );
    const sequences = new Map(rows.map((r) => [r.id, Number(r.sequence)]));
    for (const e of list) recorded[e.index] = { eventId: e.id, campaignId, sequence: sequences.get(e.id)! };
  }
  return recorded;
}
