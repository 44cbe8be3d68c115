// Writing a campaign's sequence: steps and their A/B experiments; the prompt version a step or variant keeps.
import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { byKeys } from '../../../lib/graphql/context.ts';
import type { OutreachContext } from '../deps.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Prompt } from '../entities/prompt.entity.ts';
import { StepExperiment, StepVariant } from '../entities/step-experiment.entity.ts';
import { WorkflowStep } from '../entities/workflow-step.entity.ts';
import { VariantInput, WorkflowStepInput, WorkflowStepUpdateInput } from '../inputs/step.input.ts';
import {
  addStepExperiment,
  addWorkflowStep,
  removeWorkflowStep,
  updateWorkflowStep,
} from '../services/steps.ts';

/** The prompt versions behind steps and variants, one query per request. */
async function promptOf(ctx: OutreachContext, promptId: string | null | undefined): Promise<Prompt | null> {
  if (!promptId) return null;
  return ctx
    .loader<string, Prompt>('Prompt.byId', async (ids, em) => {
      const rows = await em.find(Prompt, { id: { $in: [...ids] } });
      return byKeys(ids, rows, (p) => p.id);
    })
    .load(promptId);
}

@Resolver(() => WorkflowStep)
export class StepAuthoringResolver {
  @Authorized('write')
  @Mutation(() => WorkflowStep, { description: 'Appends a step to the sequence (at most 20)' })
  async addWorkflowStep(
    @Arg('campaignId', () => ID) campaignId: string,
    @Arg('input', () => WorkflowStepInput) input: WorkflowStepInput,
    @Ctx() ctx: OutreachContext,
  ): Promise<WorkflowStep> {
    requireAccess(ctx.identity, 'write');
    return addWorkflowStep(await ctx.em(), ctx.deps, campaignId, input);
  }

  @Authorized('write')
  @Mutation(() => WorkflowStep, { description: 'Applies to messages not yet drafted' })
  async updateWorkflowStep(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => WorkflowStepUpdateInput) input: WorkflowStepUpdateInput,
    @Ctx() ctx: OutreachContext,
  ): Promise<WorkflowStep> {
    requireAccess(ctx.identity, 'write');
    return updateWorkflowStep(await ctx.em(), ctx.deps, id, input);
  }

  @Authorized('write')
  @Mutation(() => Campaign, {
    description:
      'Removes a step and moves the later ones up; refused once the step, or a later one, has messages or scheduled work',
  })
  async removeWorkflowStep(@Arg('id', () => ID) id: string, @Ctx() ctx: OutreachContext): Promise<Campaign> {
    requireAccess(ctx.identity, 'write');
    const em = await ctx.em();
    const campaignId = await removeWorkflowStep(em, id);
    return em.findOneOrFail(Campaign, { id: campaignId });
  }

  @Authorized('write')
  @Mutation(() => StepExperiment, { description: 'An A/B test on a step: 2-10 variants with weights' })
  async addStepExperiment(
    @Arg('stepId', () => ID) stepId: string,
    @Arg('name', () => String) name: string,
    @Arg('variants', () => [VariantInput]) variants: VariantInput[],
    @Ctx() ctx: OutreachContext,
  ): Promise<StepExperiment> {
    requireAccess(ctx.identity, 'write');
    return addStepExperiment(await ctx.em(), ctx.deps, stepId, name, variants);
  }

  @FieldResolver(() => Prompt, {
    nullable: true,
    description: 'The prompt version that writes this step, if any',
  })
  prompt(@Root() step: WorkflowStep, @Ctx() ctx: OutreachContext): Promise<Prompt | null> {
    return promptOf(ctx, step.promptId);
  }
}

@Resolver(() => StepVariant)
export class VariantPromptResolver {
  @FieldResolver(() => Prompt, {
    nullable: true,
    description: 'The prompt version that writes this variant, if any',
  })
  prompt(@Root() variant: StepVariant, @Ctx() ctx: OutreachContext): Promise<Prompt | null> {
    return promptOf(ctx, variant.promptId);
  }
}
