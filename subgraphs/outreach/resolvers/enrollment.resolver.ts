// Enrollments: their position (a CRM reference), their messages, and Position.enrollments.
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { notFound } from '../../../lib/errors.ts';
import { groupByKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { cursorLoader } from '../../../lib/graphql/cursor.ts';
import { Enrollment } from '../entities/enrollment.entity.ts';
import { Message } from '../entities/message.entity.ts';
import { Position } from '../entities/position-ref.ts';

export const ENROLLMENTS_TABLE = 'outreach.campaign_enrollments';
const MAX_MESSAGES = 100;
const MAX_POSITION_ENROLLMENTS = 100;

@Resolver(() => Enrollment)
export class EnrollmentResolver {
  @FieldResolver(() => String, {
    description: "Pass as `after` to read the campaign's enrollments after this one",
  })
  async cursor(@Root() enrollment: Enrollment, @Ctx() ctx: RequestContext): Promise<string> {
    const cursor = await cursorLoader(ctx, ENROLLMENTS_TABLE).load(enrollment.id);
    if (!cursor) throw notFound('Enrollment');
    return cursor;
  }

  @FieldResolver(() => Position)
  position(@Root() enrollment: Enrollment): Position {
    return { id: enrollment.positionId };
  }

  @FieldResolver(() => [Message], {
    description: `Oldest first, at most ${MAX_MESSAGES} (a sequence's emails and the replies to them)`,
  })
  async messages(@Root() enrollment: Enrollment, @Ctx() ctx: RequestContext): Promise<Message[]> {
    const rows = await ctx
      .loader<string, Message[]>('Enrollment.messages', async (ids, em) => {
        const messages = await em.find(
          Message,
          { enrollmentId: { $in: [...ids] } },
          { orderBy: { createdAt: 'asc' } },
        );
        return groupByKeys(ids, messages, (m) => m.enrollmentId).map((list) => list.slice(0, MAX_MESSAGES));
      })
      .load(enrollment.id);
    return rows ?? [];
  }
}

@Resolver(() => Position)
export class PositionEnrollmentsResolver {
  @FieldResolver(() => [Enrollment], {
    description: `The campaigns this position is enrolled in, oldest first, at most ${MAX_POSITION_ENROLLMENTS}`,
  })
  async enrollments(@Root() position: Position, @Ctx() ctx: RequestContext): Promise<Enrollment[]> {
    const rows = await ctx
      .loader<string, Enrollment[]>('Position.enrollments', async (ids, em) => {
        const enrollments = await em.find(
          Enrollment,
          { positionId: { $in: [...ids] } },
          { orderBy: { createdAt: 'asc' } },
        );
        return groupByKeys(ids, enrollments, (e) => e.positionId).map((list) =>
          list.slice(0, MAX_POSITION_ENROLLMENTS),
        );
      })
      .load(position.id);
    return rows ?? [];
  }
}
