// Planner statistics for the pipeline's tables, kept fresh by the scheduler while campaigns run (migration 0065):
// without them, a launch's new rows count for none, and the claims of the next minutes scan whole tables.
import type { MikroORM } from '@mikro-orm/postgresql';
import { rawQuery } from '../../lib/db/orm.ts';

export const PIPELINE_TABLES = ['tasks', 'messages', 'campaign_enrollments'] as const;

/** A table is analysed again once this many rows changed since its last ANALYZE… */
const MIN_CHANGES = 500;
/** …and this share of its rows. */
const SHARE = 0.1;

export interface TableActivity {
  table: string;
  /** Rows inserted, updated or deleted since the last ANALYZE (pg_stat_user_tables). */
  changed: number;
  live: number;
  analysed: boolean;
}

/** The tables whose statistics are behind: never analysed, or changed by a large share since. */
export function staleTables(activity: readonly TableActivity[]): string[] {
  return activity
    .filter((t) => t.changed >= MIN_CHANGES && (!t.analysed || t.changed >= SHARE * Math.max(t.live, 1)))
    .map((t) => t.table);
}

/** Analyses the pipeline tables that need it; returns those it analysed. */
export async function refreshStaleStatistics(orm: MikroORM): Promise<string[]> {
  const em = orm.em.fork();
  const activity = await rawQuery<{ relname: string; changed: string; live: string; analysed: boolean }>(
    em,
    `SELECT relname, n_mod_since_analyze AS changed, n_live_tup AS live,
       (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) AS analysed
     FROM pg_stat_user_tables WHERE schemaname = 'outreach' AND relname = ANY (?::text[])`,
    [[...PIPELINE_TABLES]],
  );
  const stale = staleTables(
    activity.map((a) => ({
      table: a.relname,
      changed: Number(a.changed),
      live: Number(a.live),
      analysed: a.analysed,
    })),
  );
  if (stale.length === 0) return [];
  const [row] = await rawQuery<{ analysed: string[] }>(
    em,
    'SELECT outreach.refresh_statistics(?::text[]) AS analysed',
    [stale],
  );
  return row?.analysed ?? [];
}
