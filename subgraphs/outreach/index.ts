// The outreach subgraph: mailboxes, prompts, campaigns, steps, experiments, enrollments, messages.
import type { SubgraphDefinition } from '../../lib/graphql/subgraph.ts';
import { type OutreachDeps, outreachDeps } from './deps.ts';
import { Campaign } from './entities/campaign.entity.ts';
import { Enrollment } from './entities/enrollment.entity.ts';
import { Mailbox } from './entities/mailbox.entity.ts';
import { Message } from './entities/message.entity.ts';
import { Prompt } from './entities/prompt.entity.ts';
import { StepExperiment, StepVariant } from './entities/step-experiment.entity.ts';
import { WorkflowStep } from './entities/workflow-step.entity.ts';
import { CampaignResolver } from './resolvers/campaign.resolver.ts';
import { CampaignAuthoringResolver } from './resolvers/campaign-authoring.resolver.ts';
import { EnrollmentResolver, PositionEnrollmentsResolver } from './resolvers/enrollment.resolver.ts';
import { InboundResolver } from './resolvers/inbound.resolver.ts';
import { LifecycleResolver } from './resolvers/lifecycle.resolver.ts';
import { MailboxResolver } from './resolvers/mailbox.resolver.ts';
import { MessageResolver } from './resolvers/message.resolver.ts';
import { positionEnrollmentsDirect } from './resolvers/position-enrollments.direct.ts';
import { PreviewResolver } from './resolvers/preview.resolver.ts';
import { PromptResolver } from './resolvers/prompt.resolver.ts';
import { outreachReferences } from './resolvers/references.ts';
import { ReviewResolver } from './resolvers/review.resolver.ts';
import { StepExperimentResolver, WorkflowStepResolver } from './resolvers/step.resolver.ts';
import { StepAuthoringResolver, VariantPromptResolver } from './resolvers/step-authoring.resolver.ts';

export const outreachSubgraph: SubgraphDefinition<OutreachDeps> = {
  name: 'outreach',
  entities: [Mailbox, Prompt, Campaign, WorkflowStep, StepExperiment, StepVariant, Enrollment, Message],
  tenantEntities: [
    'Mailbox',
    'Prompt',
    'Campaign',
    'WorkflowStep',
    'StepExperiment',
    'StepVariant',
    'Enrollment',
    'Message',
  ],
  resolvers: [
    CampaignResolver,
    WorkflowStepResolver,
    StepExperimentResolver,
    EnrollmentResolver,
    PositionEnrollmentsResolver,
    LifecycleResolver,
    ReviewResolver,
    MessageResolver,
    MailboxResolver,
    PromptResolver,
    CampaignAuthoringResolver,
    StepAuthoringResolver,
    VariantPromptResolver,
    PreviewResolver,
    InboundResolver,
  ],
  deps: ({ config }) => outreachDeps(config),
  orphanedTypes: [Mailbox, Prompt],
  references: outreachReferences,
  direct: [positionEnrollmentsDirect(outreachReferences.Position!.access)],
};
