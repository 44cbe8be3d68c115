// Federation entry points for outreach entities, batched per request.
import { entityReference, type ReferenceResolvers } from '../../../lib/graphql/federation.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Enrollment } from '../entities/enrollment.entity.ts';
import { Message } from '../entities/message.entity.ts';
import { StepExperiment, StepVariant } from '../entities/step-experiment.entity.ts';
import { WorkflowStep } from '../entities/workflow-step.entity.ts';

export const outreachReferences: ReferenceResolvers = {
  Campaign: entityReference('Campaign', Campaign),
  WorkflowStep: entityReference('WorkflowStep', WorkflowStep),
  StepExperiment: entityReference('StepExperiment', StepExperiment),
  StepVariant: entityReference('StepVariant', StepVariant),
  Enrollment: entityReference('Enrollment', Enrollment),
  Message: entityReference('Message', Message),
  // Position belongs to CRM; here it only carries its id to hang enrollments on, for readers.
  Position: { access: 'read', __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
};
