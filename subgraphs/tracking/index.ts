// The tracking subgraph: engagement figures computed from tracking events.
import { requireAccess } from '../../lib/auth/identity.ts';
import type { RequestContext } from '../../lib/graphql/context.ts';
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
    Message: {
      __resolveReference: (ref: { id: string }, ctx: RequestContext) => {
        requireAccess(ctx.identity, 'read');
        return { id: ref.id };
      },
    },
  },
};
