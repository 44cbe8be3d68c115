// Federation entry points for outreach entities, batched per request.
import type { EntityName } from '@mikro-orm/postgresql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { byKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import type { ReferenceResolvers } from '../../../lib/graphql/federation.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Enrollment } from '../entities/enrollment.entity.ts';
import { Message } from '../entities/message.entity.ts';
import { StepExperiment, StepVariant } from '../entities/step-experiment.entity.ts';
import { WorkflowStep } from '../entities/workflow-step.entity.ts';

function reference<T extends { id: string }>(name: string, entity: EntityName<T>) {
  return {
    __resolveReference: async (ref: { id: string }, ctx: RequestContext) => {
      requireAccess(ctx.identity, 'read');
      if (!isUuid(ref.id)) return null;
      return ctx
        .loader<string, T>(name, async (ids, em) => {
          const rows = await em.find(entity, { id: { $in: [...ids] } } as any);
          return byKeys(ids, rows as T[], (r) => r.id);
        })
        .load(ref.id);
    },
  };
}

export const outreachReferences: ReferenceResolvers = {
  Campaign: reference('Campaign', Campaign),
  WorkflowStep: reference('WorkflowStep', WorkflowStep),
  StepExperiment: reference('StepExperiment', StepExperiment),
  StepVariant: reference('StepVariant', StepVariant),
  Enrollment: reference('Enrollment', Enrollment),
  Message: reference('Message', Message),
  // Position belongs to CRM; here it only carries its id to hang enrollments on.
  Position: { __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
};
