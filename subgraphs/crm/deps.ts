import type { RequestContext } from '../../lib/graphql/context.ts';
import type { SearchTerms } from './services/search-terms.ts';
import type { IngestStatistics } from './services/statistics.ts';

export interface CrmDeps {
  ingestMaxItems: number;
  /** Indexes the search terms an ingest queued, once it has committed. */
  searchTerms: SearchTerms;
  /** Refreshes the planner's statistics of what an ingest inserted, once it has committed. */
  statistics: IngestStatistics;
}
export type CrmContext = RequestContext<CrmDeps>;
