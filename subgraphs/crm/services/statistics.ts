// The planner's statistics after an ingest. Once an ingest has committed, the CRM ANALYZEs the tables whose
// statistics no longer describe the organisation (crm.stale_statistics, migration 0067: never analysed, grown
// by 10% or more by the ingest, or estimating the organisation at under half of what it just inserted), in the
// background as it indexes the search terms. The planner must not wait for autovacuum, which may be late or
// off, and goes by the same 10% of a table.
//
// Outside the ingest's transaction: ANALYZE reads up to 30,000 rows of each table, which cost a fresh ingest of
// 10,000 items 40-70 ms before its answer (and more as tables grow). The queries that follow an ingest at once
// do not depend on these statistics for their plans: the known-item look-up and the prospects page read a
// row's company and person by key, and the positions' reference check (migration 0070) probes by key too.
import type { MikroORM } from '@mikro-orm/postgresql';
import { rawQuery, withTenant } from '../../../lib/db/orm.ts';
import type { Logger } from '../../../lib/telemetry/logger.ts';
import type { IngestOutcome } from './ingest.service.ts';
import type { SearchTerms } from './search-terms.ts';

type IngestTable = 'companies' | 'people' | 'positions';

// An ingest must insert at least this many rows into a table for its statistics to be worth refreshing.
const MIN_ROWS = 50;

export class IngestStatistics {
  /** Rows inserted since the last refresh, by organisation and table. */
  private readonly pending = new Map<string, Map<IngestTable, number>>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly log: Logger,
  ) {}

  /** Counts what a committed ingest inserted, and refreshes the statistics that made stale in the background. */
  refresh(organisationId: string, inserted: Record<IngestTable, number>): void {
    const counts = this.pending.get(organisationId) ?? new Map<IngestTable, number>();
    for (const [table, rows] of Object.entries(inserted) as [IngestTable, number][])
      if (rows >= MIN_ROWS) counts.set(table, (counts.get(table) ?? 0) + rows);
    if (counts.size === 0) return;
    this.pending.set(organisationId, counts);
    this.start();
  }

  private start(): void {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      // asked for after the last look at the queue
      if (this.pending.size > 0) this.start();
    });
  }

  private async drain(): Promise<void> {
    for (const [organisationId, counts] of this.pending) {
      this.pending.delete(organisationId);
      const tables = [...counts];
      try {
        // the check and the refresh in one statement, under the organisation's row-level security (the
        // estimate the check reads is the one the organisation's queries get)
        await withTenant(this.orm, organisationId, (em) =>
          rawQuery(em, 'SELECT crm.refresh_statistics(crm.stale_statistics(?, ?::text[], ?::int[]))', [
            organisationId,
            tables.map(([table]) => table),
            tables.map(([, rows]) => rows),
          ]),
        );
      } catch (error) {
        this.log.warn(
          { err: error, organisationId },
          'statistics not refreshed after an ingest: autovacuum will, in its own time',
        );
      }
    }
  }
}

/** What follows a committed ingest, in the background: its statistics, then its search terms. */
export function afterIngest(
  deps: { statistics: IngestStatistics; searchTerms: SearchTerms },
  organisationId: string,
  outcome: Pick<IngestOutcome, 'companies' | 'people' | 'positions'>,
): void {
  deps.statistics.refresh(organisationId, {
    companies: outcome.companies.created,
    people: outcome.people.created,
    positions: outcome.positions.created,
  });
  deps.searchTerms.index();
}
