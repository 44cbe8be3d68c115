// The tracking subgraph: engagement figures computed from tracking events.
import type { SubgraphDefinition } from '../../lib/graphql/subgraph.ts';
import { Message } from './entities/message-ref.ts';
import { MessageStats } from './entities/message-stats.entity.ts';
import { MessageEngagementResolver } from './resolvers/message-engagement.resolver.ts';

export const trackingSubgraph: SubgraphDefinition<unknown> = {
  name: 'tracking',
  entities: [MessageStats],
  tenantEntities: ['MessageStats'],
  resolvers: [MessageEngagementResolver],
  orphanedTypes: [Message],
  references: {
    Message: { access: 'read', __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
  },
};
