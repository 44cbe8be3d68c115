// Raw events in ClickHouse (CLICKHOUSE_URL set): one INSERT per batch into tracking_events, whose
// ReplacingMergeTree key holds the hit id, so a redelivered batch is folded away and counted once meanwhile
// (uniqExact(id), FINAL). The tables come from migrations/clickhouse, applied before the first write.
import type { ClickHouseClient } from '@clickhouse/client';
import type { TrackingHit } from '../../lib/tracking/hits.ts';
import type { EventStore } from './store.ts';

export const CLICKHOUSE_EVENTS_TABLE = 'tracking_events';

function rowOf(hit: TrackingHit) {
  const ms = Date.parse(hit.at);
  return {
    organisation_id: hit.organisationId,
    message_id: hit.messageId,
    id: hit.id,
    kind: hit.kind,
    // DateTime as Unix seconds (no time zone in play) + the milliseconds: 18.16 has no DateTime64
    occurred_at: Math.floor(ms / 1000),
    occurred_ms: ms % 1000,
    url: hit.url,
    machine: hit.machine,
    user_agent: hit.userAgent,
    ip_hash: hit.ipHash,
  };
}

export function clickhouseEventStore(client: ClickHouseClient): EventStore {
  return {
    name: 'clickhouse',
    async write(hits) {
      await client.insert({ table: CLICKHOUSE_EVENTS_TABLE, format: 'JSONEachRow', values: hits.map(rowOf) });
    },
    close: () => client.close(),
  };
}
