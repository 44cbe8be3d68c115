// Enrollments: their position (a CRM reference), their messages, and Position.enrollments.
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { requireIdentity } from '../../../lib/auth/identity.ts';
import { notFound } from '../../../lib/errors.ts';
import { groupByKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { cursorLoader } from '../../../lib/graphql/cursor.ts';
import { Enrollment } from '../entities/enrollment.entity.ts';
import { Message } from '../entities/message.entity.ts';
import { Position } from '../entities/position-ref.ts';

export const ENROLLMENTS_TABLE = 'outreach.campaign_enrollments';
const MAX_MESSAGES = 100;
export const MAX_POSITION_ENROLLMENTS = 100;

// The first enrollments of each position, oldest first, ranked inside PostgreSQL so no position's list is cut short.
const POSITION_ENROLLMENTS_SQL = `SELECT id, "organisationId", "positionId", status, "currentStepIndex", "nextRunAt",
    "stoppedReason", "createdAt", "updatedAt"
  FROM (SELECT e.id, e.organisation_id AS "organisationId", e.position_id AS "positionId", e.status,
          e.current_step_index AS "currentStepIndex", e.next_run_at AS "nextRunAt",
          e.stopped_reason AS "stoppedReason", e.created_at AS "createdAt", e.updated_at AS "updatedAt",
          row_number() OVER (PARTITION BY e.position_id ORDER BY e.created_at, e.id) AS rank
        FROM ${ENROLLMENTS_TABLE} e
        WHERE e.position_id = ANY($1::uuid[]) AND e.organisation_id = $2) ranked
  WHERE rank <= $3
  ORDER BY "createdAt", id`;

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
      .sqlLoader<string, Message[]>('Enrollment.messages', async (ids) => {
        const messages = await ctx.entityRows(
          Message,
          't.enrollment_id = ANY($1::uuid[])',
          [ids],
          't.created_at, t.id',
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
      .sqlLoader<string, Enrollment[]>('Position.enrollments', async (ids) => {
        // plain rows: every position of a prospects page asks, so this batch runs on every page
        const enrollments = await ctx.sql<Enrollment>(POSITION_ENROLLMENTS_SQL, [
          ids,
          requireIdentity(ctx.identity).organisationId,
          MAX_POSITION_ENROLLMENTS,
        ]);
        return groupByKeys(ids, enrollments, (e) => e.positionId);
      })
      .load(position.id);
    return rows ?? [];
  }
}
