// Consumers are idempotent by event id: the relay delivers at least once, so the same event may come twice.
// The event is marked consumed in the same transaction as its handling; a second delivery finds the mark.
import type { MikroORM } from '@mikro-orm/postgresql';
import { type EntityManager, isUuid, rawQuery, withTenant } from '../db/orm.ts';

/**
 * Marks the event consumed by `consumer` in the em's tenant transaction. False when it already was (or a
 * concurrent delivery holds it: that one commits first and this one then sees the mark).
 */
export async function markConsumed(em: EntityManager, consumer: string, eventId: string): Promise<boolean> {
  if (!em.isInTransaction())
    throw new Error('markConsumed must run inside the tenant transaction of the handling');
  if (!isUuid(eventId)) throw new Error('eventId must be a UUID');
  const rows = await rawQuery(
    em,
    `INSERT INTO outreach.consumed_events (organisation_id, consumer, event_id)
     VALUES (public.current_organisation_id(), ?, ?)
     ON CONFLICT DO NOTHING RETURNING event_id`,
    [consumer, eventId],
  );
  return rows.length === 1;
}

/** Runs `handle` once per (consumer, event), in the event's organisation; a failed handling can run again. */
export async function consumeOnce<T>(
  orm: MikroORM,
  consumer: string,
  event: { organisationId: string; eventId: string },
  handle: (em: EntityManager) => Promise<T>,
): Promise<{ processed: true; result: T } | { processed: false }> {
  return withTenant(orm, event.organisationId, async (em) => {
    if (!(await markConsumed(em, consumer, event.eventId))) return { processed: false as const };
    return { processed: true as const, result: await handle(em) };
  });
}
