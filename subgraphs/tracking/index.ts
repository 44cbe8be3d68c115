// The tracking subgraph: engagement figures computed from tracking events, and the public tracking links
// (/t/u/ one-click unsubscribe), which the gateway forwards here.
import type { SubgraphDefinition } from '../../lib/graphql/subgraph.ts';
import { type TrackingDeps, trackingDeps } from './deps.ts';
import { Message } from './entities/message-ref.ts';
import { MessageStats } from './entities/message-stats.entity.ts';
import { Campaign, StepExperiment, StepVariant, WorkflowStep } from './entities/outreach-refs.ts';
import { CampaignFiguresResolver } from './resolvers/campaign-figures.resolver.ts';
import { MessageEngagementResolver } from './resolvers/message-engagement.resolver.ts';
import { ExperimentResultResolver, StepFiguresResolver } from './resolvers/step-figures.resolver.ts';
import { hitRoute } from './routes/hit.route.ts';
import { unsubscribeRoute } from './routes/unsubscribe.route.ts';

export const trackingSubgraph: SubgraphDefinition<TrackingDeps> = {
  name: 'tracking',
  entities: [MessageStats],
  tenantEntities: ['MessageStats'],
  resolvers: [
    MessageEngagementResolver,
    CampaignFiguresResolver,
    StepFiguresResolver,
    ExperimentResultResolver,
  ],
  orphanedTypes: [Message, Campaign, WorkflowStep, StepExperiment, StepVariant],
  // Keys only (the figures are read in the caller's organisation, so another's id shows nothing); the fields
  // a figure @requires come with the representation.
  references: {
    Message: { access: 'read', __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
    Campaign: {
      access: 'read',
      __resolveReference: (ref: { id: string; schedule?: { timezone?: string } }) => ({
        id: ref.id,
        schedule: ref.schedule,
      }),
    },
    WorkflowStep: { access: 'read', __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
    StepExperiment: {
      access: 'read',
      __resolveReference: (ref: { id: string; variants?: { id: string }[] }) => ({
        id: ref.id,
        variants: ref.variants,
      }),
    },
    StepVariant: { access: 'read', __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
  },
  deps: trackingDeps,
  routes: (runtime) => [hitRoute(runtime), unsubscribeRoute(runtime)],
};
