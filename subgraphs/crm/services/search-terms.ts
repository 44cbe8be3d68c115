// Prospect search terms are indexed after the write (migration 0068): an ingest queues what it wrote, and once
// it has committed the CRM drains the queue in the background. Until then a search still finds the queued
// rows (crm.search_positions reads the queue too), without the term indexes.
import type { MikroORM } from '@mikro-orm/postgresql';
import { rawQuery } from '../../../lib/db/orm.ts';
import type { Logger } from '../../../lib/telemetry/logger.ts';

/** Rows indexed per statement: each call is one transaction, short enough not to hold up an ingest. */
const BATCH = 5000;

export class SearchTerms {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly orm: MikroORM,
    private readonly log: Logger,
  ) {}

  /** Indexes everything queued, in the background; a call while it runs makes it go round once more. */
  index(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.again = false;
    this.running = this.drain()
      .catch((error: unknown) =>
        this.log.warn(
          { err: error },
          'search terms not indexed yet: they stay queued, and searches still find them',
        ),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) this.index();
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const [row] = await rawQuery<{ taken: number }>(
        this.orm.em.fork(),
        'SELECT crm.index_search_terms(?) AS taken',
        [BATCH],
      );
      if ((row?.taken ?? 0) < BATCH) return;
    }
  }
}
