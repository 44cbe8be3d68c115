import type { RequestContext } from '../../lib/graphql/context.ts';
import type { SearchTerms } from './services/search-terms.ts';

export interface CrmDeps {
  ingestMaxItems: number;
  /** Indexes the search terms an ingest queued, once it has committed. */
  searchTerms: SearchTerms;
}
export type CrmContext = RequestContext<CrmDeps>;
