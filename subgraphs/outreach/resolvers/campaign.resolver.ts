// Reading campaigns: the list, one campaign, its steps and enrollments.
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { groupByKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { cursorLoader, cursorOf, keyset, pageSize } from '../../../lib/graphql/cursor.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Enrollment } from '../entities/enrollment.entity.ts';
import { WorkflowStep } from '../entities/workflow-step.entity.ts';
import { ENROLLMENTS_TABLE } from './enrollment.resolver.ts';

@Resolver(() => Campaign)
export class CampaignResolver {
  @Authorized('read')
  @Query(() => [Campaign], {
    description: "The organisation's campaigns, newest first (archived ones included)",
  })
  async campaigns(@Ctx() ctx: RequestContext): Promise<Campaign[]> {
    requireAccess(ctx.identity, 'read');
    const em = await ctx.em();
    return em.find(Campaign, {}, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: 1000 });
  }

  @Authorized('read')
  @Query(() => Campaign, { nullable: true })
  async campaign(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Campaign | null> {
    requireAccess(ctx.identity, 'read');
    if (!isUuid(id)) return null;
    const em = await ctx.em();
    return em.findOne(Campaign, { id });
  }

  @FieldResolver(() => [WorkflowStep])
  async steps(@Root() campaign: Campaign, @Ctx() ctx: RequestContext): Promise<WorkflowStep[]> {
    const steps = await ctx
      .loader<string, WorkflowStep[]>('Campaign.steps', async (ids, em) => {
        const rows = await em.find(
          WorkflowStep,
          { campaign: { $in: [...ids] } },
          { orderBy: { index: 'asc' } },
        );
        return groupByKeys(ids, rows, (s) => s.campaign.id);
      })
      .load(campaign.id);
    return steps ?? [];
  }

  @FieldResolver(() => [Enrollment], {
    description: 'Oldest first; `after` is the `cursor` of the last enrollment already seen',
  })
  async enrollments(
    @Root() campaign: Campaign,
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Enrollment[]> {
    const limit = pageSize(first, 100, 1000);
    const page = keyset('e', after);
    const em = await ctx.em();
    const rows = await rawQuery<{ id: string; cursor_created_at: string }>(
      em,
      `SELECT e.id, ${page.createdAtText} FROM outreach.campaign_enrollments e
       WHERE e.organisation_id = current_organisation_id() AND e.campaign_id = ? AND ${page.where}
       ORDER BY ${page.orderBy} LIMIT ?`,
      [campaign.id, ...page.params, limit],
    );
    const cursors = cursorLoader(ctx, ENROLLMENTS_TABLE);
    for (const row of rows) cursors.prime(row.id, cursorOf(row));
    const found = await em.find(Enrollment, { id: { $in: rows.map((r) => r.id) } });
    const byId = new Map(found.map((e) => [e.id, e]));
    return rows.map((r) => byId.get(r.id)!);
  }
}
