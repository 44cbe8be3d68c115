// Where raw tracking events are kept: ClickHouse when CLICKHOUSE_URL is set, else PostgreSQL's tracking.events.
import type { MikroORM } from '@mikro-orm/postgresql';
import { clickhouseTarget, createClickHouse } from '../../lib/clickhouse/client.ts';
import { migrateClickHouse } from '../../lib/clickhouse/migrate.ts';
import type { Config } from '../../lib/config.ts';
import type { TrackingHit } from '../../lib/tracking/hits.ts';
import { clickhouseEventStore } from './clickhouse-store.ts';
import { postgresEventStore } from './postgres-store.ts';

export interface EventStore {
  readonly name: 'clickhouse' | 'postgres';
  /** Writes every hit, or throws having written some, none or all: writing the same hits again is harmless. */
  write(hits: readonly TrackingHit[]): Promise<void>;
  close(): Promise<void>;
}

export async function openEventStore(
  config: Pick<Config, 'clickhouseUrl'>,
  orm: MikroORM,
  log: (message: string) => void,
): Promise<EventStore> {
  if (!config.clickhouseUrl) return postgresEventStore(orm);
  const target = clickhouseTarget(config.clickhouseUrl);
  await migrateClickHouse(target, log);
  return clickhouseEventStore(createClickHouse(target));
}
