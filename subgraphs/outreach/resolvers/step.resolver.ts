// Steps' experiments and experiments' variants, as plain rows without the ORM.
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
      .sqlLoader<string, StepExperiment>('WorkflowStep.experiment', async (ids) => {
        const rows = await ctx.entityRows(StepExperiment, 't.step_id = ANY($1::uuid[])', [ids]);
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
      .sqlLoader<string, StepVariant[]>('StepExperiment.variants', async (ids) => {
        const variants = await ctx.entityRows(
          StepVariant,
          't.experiment_id = ANY($1::uuid[])',
          [ids],
          't.key',
        );
        return groupByKeys(ids, variants, (v) => v.experiment.id).map((list) => list.slice(0, MAX_VARIANTS));
      })
      .load(experiment.id);
    return rows ?? [];
  }
}
