// Every subgraph by name.
import type { SubgraphName } from '../lib/config.ts';
import type { SubgraphDefinition } from '../lib/graphql/subgraph.ts';
import { crmSubgraph } from './crm/index.ts';
import { iamSubgraph } from './iam/index.ts';
import { outreachSubgraph } from './outreach/index.ts';
import { trackingSubgraph } from './tracking/index.ts';

export const SUBGRAPH_DEFINITIONS: Record<SubgraphName, SubgraphDefinition<any>> = {
  iam: iamSubgraph,
  crm: crmSubgraph,
  outreach: outreachSubgraph,
  tracking: trackingSubgraph,
};
