// Raw events in PostgreSQL (no CLICKHOUSE_URL): tracking.events, partitioned by month. Each organisation's hits
// go in its own tenant transaction; ON CONFLICT DO NOTHING makes a redelivered hit a no-op, and a hit whose
// message no longer exists is dropped (its events would be deleted with it).
import type { MikroORM } from '@mikro-orm/postgresql';
import { rawQuery, withTenant } from '../../lib/db/orm.ts';
import type { TrackingHit } from '../../lib/tracking/hits.ts';
import type { EventStore } from './store.ts';

const INSERT_SQL = `
  INSERT INTO tracking.events (organisation_id, id, kind, message_id, url, machine, user_agent, ip_hash, occurred_at)
  SELECT m.organisation_id, h.id, h.kind, h.message_id, h.url, h.machine, h.user_agent, h.ip_hash, h.occurred_at
  FROM unnest(?::uuid[], ?::text[], ?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[])
    AS h (id, kind, message_id, url, machine, user_agent, ip_hash, occurred_at)
  JOIN outreach.messages m ON m.organisation_id = ?::uuid AND m.id = h.message_id
  ON CONFLICT DO NOTHING`;

/** `YYYY-MM` of a UTC time. */
function monthOf(iso: string): string {
  return iso.slice(0, 7);
}

export function postgresEventStore(orm: MikroORM): EventStore {
  // months whose partition this process knows exists: asked for once each
  const months = new Set<string>();

  async function ensurePartitions(hits: readonly TrackingHit[]): Promise<void> {
    const missing = [...new Set(hits.map((h) => monthOf(h.at)))].filter((m) => !months.has(m)).sort();
    if (missing.length === 0) return;
    const em = orm.em.fork();
    // months apart by more than the function's 400 days: one call per month
    for (const month of missing) {
      await rawQuery(em, 'SELECT tracking.ensure_event_partitions(?::timestamptz, ?::timestamptz)', [
        `${month}-01T00:00:00Z`,
        `${month}-01T00:00:00Z`,
      ]);
      months.add(month);
    }
  }

  return {
    name: 'postgres',
    async write(hits) {
      await ensurePartitions(hits);
      const byOrganisation = new Map<string, TrackingHit[]>();
      for (const hit of hits) {
        const list = byOrganisation.get(hit.organisationId);
        if (list) list.push(hit);
        else byOrganisation.set(hit.organisationId, [hit]);
      }
      for (const [organisationId, own] of byOrganisation) {
        await withTenant(orm, organisationId, (em) =>
          rawQuery(em, INSERT_SQL, [
            own.map((h) => h.id),
            own.map((h) => h.kind),
            own.map((h) => h.messageId),
            own.map((h) => h.url),
            own.map((h) => h.machine),
            own.map((h) => h.userAgent),
            own.map((h) => h.ipHash),
            own.map((h) => h.at),
            organisationId,
          ]),
        );
      }
    },
    close: async () => {},
  };
}
