import type { RequestContext } from '../../lib/graphql/context.ts';

export interface CrmDeps {
  ingestMaxItems: number;
}
export type CrmContext = RequestContext<CrmDeps>;
