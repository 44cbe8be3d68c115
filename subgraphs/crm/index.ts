// The CRM subgraph: companies, people, positions and the suppression list.
import type { SubgraphDefinition } from '../../lib/graphql/subgraph.ts';
import { Company } from './entities/company.entity.ts';
import { Person } from './entities/person.entity.ts';
import { Position } from './entities/position.entity.ts';
import { Suppression } from './entities/suppression.entity.ts';
import { CompanyResolver } from './resolvers/company.resolver.ts';
import { PositionResolver } from './resolvers/position.resolver.ts';
import { crmReferences } from './resolvers/references.ts';

export const crmSubgraph: SubgraphDefinition<unknown> = {
  name: 'crm',
  entities: [Company, Person, Position, Suppression],
  tenantEntities: ['Company', 'Person', 'Position', 'Suppression'],
  resolvers: [CompanyResolver, PositionResolver],
  references: crmReferences,
};
