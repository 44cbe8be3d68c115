// WorkflowStep.stats and StepExperiment.result: a step's figures, and which of its A/B variants leads.
import { Ctx, Directive, FieldResolver, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../../../lib/graphql/context.ts';
import { DeliveryStats, ExperimentResult } from '../entities/figures.ts';
import { StepExperiment, WorkflowStep } from '../entities/outreach-refs.ts';
import { experimentLeader } from '../services/experiment.ts';
import { statsOf } from './delivery-stats.ts';

@Resolver(() => WorkflowStep)
export class StepFiguresResolver {
  @FieldResolver(() => DeliveryStats)
  stats(@Root() step: WorkflowStep, @Ctx() ctx: RequestContext): Promise<DeliveryStats> {
    return statsOf(ctx, 'step', step.id);
  }
}

@Resolver(() => StepExperiment)
export class ExperimentResultResolver {
  @FieldResolver(() => ExperimentResult, {
    description: "Each variant's figures, the leader on reply rate and how sure that lead is",
  })
  @Directive('@requires(fields: "variants { id }")')
  async result(@Root() experiment: StepExperiment, @Ctx() ctx: RequestContext): Promise<ExperimentResult> {
    const variants = await Promise.all(
      (experiment.variants ?? []).map(async (v) => ({
        variant: { id: v.id },
        stats: await statsOf(ctx, 'variant', v.id),
      })),
    );
    const { leaderId, confidence } = experimentLeader(
      variants.map((v) => ({ id: v.variant.id, sent: v.stats.sent, replied: v.stats.replied })),
    );
    return { variants, leader: leaderId ? { id: leaderId } : null, confidence };
  }
}
