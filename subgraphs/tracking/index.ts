// The tracking subgraph: engagement figures computed from tracking events, and the public tracking links
// (/t/u/ one-click unsubscribe), which the gateway forwards here.
import type { SubgraphDefinition } from '../../lib/graphql/subgraph.ts';
import { type TrackingDeps, trackingDeps } from './deps.ts';
import { Message } from './entities/message-ref.ts';
import { MessageStats } from './entities/message-stats.entity.ts';
import { MessageEngagementResolver } from './resolvers/message-engagement.resolver.ts';
import { hitRoute } from './routes/hit.route.ts';
import { unsubscribeRoute } from './routes/unsubscribe.route.ts';

export const trackingSubgraph: SubgraphDefinition<TrackingDeps> = {
  name: 'tracking',
  entities: [MessageStats],
  tenantEntities: ['MessageStats'],
  resolvers: [MessageEngagementResolver],
  orphanedTypes: [Message],
  references: {
    Message: { access: 'read', __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
  },
  deps: trackingDeps,
  routes: (runtime) => [hitRoute(runtime), unsubscribeRoute(runtime)],
};
