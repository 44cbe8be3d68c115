// A message's place in its campaign: its enrolment, step and A/B variant, and its cursor in the review queue.
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { notFound } from '../../../lib/errors.ts';
import { byKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { cursorLoader } from '../../../lib/graphql/cursor.ts';
import { Enrollment } from '../entities/enrollment.entity.ts';
import { Message } from '../entities/message.entity.ts';
import { StepVariant } from '../entities/step-experiment.entity.ts';
import { WorkflowStep } from '../entities/workflow-step.entity.ts';
import { MESSAGES_TABLE } from './review.resolver.ts';

@Resolver(() => Message)
export class MessageResolver {
  @FieldResolver(() => String, { description: 'Pass as `after` to read the review queue after this message' })
  async cursor(@Root() message: Message, @Ctx() ctx: RequestContext): Promise<string> {
    const cursor = await cursorLoader(ctx, MESSAGES_TABLE).load(message.id);
    if (!cursor) throw notFound('Message');
    return cursor;
  }

  @FieldResolver(() => Enrollment, { description: 'The prospect in the campaign this message belongs to' })
  async enrollment(@Root() message: Message, @Ctx() ctx: RequestContext): Promise<Enrollment> {
    const enrollment = await ctx
      .loader<string, Enrollment>('Message.enrollment', async (ids, em) =>
        byKeys(ids, await em.find(Enrollment, { id: { $in: [...ids] } }), (e) => e.id),
      )
      .load(message.enrollmentId);
    if (!enrollment) throw notFound('Enrollment');
    return enrollment;
  }

  @FieldResolver(() => WorkflowStep, {
    nullable: true,
    description: 'The step that wrote it (none for replies)',
  })
  async step(@Root() message: Message, @Ctx() ctx: RequestContext): Promise<WorkflowStep | null> {
    if (!message.stepId) return null;
    return ctx
      .loader<string, WorkflowStep>('Message.step', async (ids, em) =>
        byKeys(ids, await em.find(WorkflowStep, { id: { $in: [...ids] } }), (s) => s.id),
      )
      .load(message.stepId);
  }

  @FieldResolver(() => StepVariant, {
    nullable: true,
    description: 'The A/B variant it was written from, if any',
  })
  async variant(@Root() message: Message, @Ctx() ctx: RequestContext): Promise<StepVariant | null> {
    if (!message.variantId) return null;
    return ctx
      .loader<string, StepVariant>('Message.variant', async (ids, em) =>
        byKeys(ids, await em.find(StepVariant, { id: { $in: [...ids] } }), (v) => v.id),
      )
      .load(message.variantId);
  }
}
