// Steps' experiments and experiments' variants.
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { byKeys, groupByKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { StepExperiment, StepVariant } from '../entities/step-experiment.entity.ts';
import { WorkflowStep } from '../entities/workflow-step.entity.ts';

/** Variants an experiment may have: lists of variants are bounded by it. */
export const MAX_VARIANTS = 10;

@Resolver(() => WorkflowStep)
export class WorkflowStepResolver {
  @FieldResolver(() => StepExperiment, { nullable: true })
  async experiment(@Root() step: WorkflowStep, @Ctx() ctx: RequestContext): Promise<StepExperiment | null> {
    return ctx
      .loader<string, StepExperiment>('WorkflowStep.experiment', async (ids, em) => {
        const rows = await em.find(StepExperiment, { step: { $in: [...ids] } });
        return byKeys(ids, rows, (e) => e.step.id);
      })
      .load(step.id);
  }
}

@Resolver(() => StepExperiment)
export class StepExperimentResolver {
  @FieldResolver(() => [StepVariant], {
    description: `By key; an experiment has at most ${MAX_VARIANTS} variants`,
  })
  async variants(@Root() experiment: StepExperiment, @Ctx() ctx: RequestContext): Promise<StepVariant[]> {
    const rows = await ctx
      .loader<string, StepVariant[]>('StepExperiment.variants', async (ids, em) => {
        const variants = await em.find(
          StepVariant,
          { experiment: { $in: [...ids] } },
          { orderBy: { key: 'asc' } },
        );
        return groupByKeys(ids, variants, (v) => v.experiment.id).map((list) => list.slice(0, MAX_VARIANTS));
      })
      .load(experiment.id);
    return rows ?? [];
  }
}
