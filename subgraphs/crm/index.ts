// The CRM subgraph: companies, people, positions and the suppression list.
import type { SubgraphDefinition } from '../../lib/graphql/subgraph.ts';
import type { CrmDeps } from './deps.ts';
import { Company } from './entities/company.entity.ts';
import { Person } from './entities/person.entity.ts';
import { Position } from './entities/position.entity.ts';
import { Suppression } from './entities/suppression.entity.ts';
import { CompanyResolver } from './resolvers/company.resolver.ts';
import { IngestResolver, ingestPharowResolver } from './resolvers/ingest.resolver.ts';
import { PositionResolver } from './resolvers/position.resolver.ts';
import { positionsPageDirect } from './resolvers/positions-page.direct.ts';
import { crmReferences } from './resolvers/references.ts';
import { SuppressionResolver } from './resolvers/suppression.resolver.ts';
import { ingestGraphqlRoute } from './routes/ingest-graphql.route.ts';
import { pharowWebhookRoute } from './routes/pharow-webhook.route.ts';
import { SearchTerms } from './services/search-terms.ts';
import { IngestStatistics } from './services/statistics.ts';

export const crmSubgraph: SubgraphDefinition<CrmDeps> = {
  name: 'crm',
  entities: [Company, Person, Position, Suppression],
  tenantEntities: ['Company', 'Person', 'Position', 'Suppression'],
  resolvers: [CompanyResolver, PositionResolver, IngestResolver, SuppressionResolver],
  deps: ({ config, orm, log }) => {
    const searchTerms = new SearchTerms(orm, log);
    // whatever an earlier run queued and did not index
    searchTerms.index();
    const statistics = new IngestStatistics(orm, log);
    return { ingestMaxItems: config.limits.ingestMaxItems, searchTerms, statistics };
  },
  overrides: { Mutation: { ingestPharow: ingestPharowResolver } },
  routes: (runtime) => [pharowWebhookRoute(runtime), ingestGraphqlRoute(runtime)],
  references: crmReferences,
  // Query.positions is @Authorized('read')
  direct: [positionsPageDirect('read')],
};
