// Reading campaigns: the list, one campaign, its steps and enrollments, as plain rows without the ORM.
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { entityTable } from '../../../lib/db/entity-rows.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { notFound } from '../../../lib/errors.ts';
import { groupByKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { cursorLoader, keysetRows, pageSize } from '../../../lib/graphql/cursor.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Enrollment } from '../entities/enrollment.entity.ts';
import { WorkflowStep } from '../entities/workflow-step.entity.ts';
import { ENROLLMENTS_TABLE } from './enrollment.resolver.ts';

const CAMPAIGNS_TABLE = 'outreach.campaigns';
/** Steps a campaign may have: lists of steps are bounded by it. */
export const MAX_STEPS = 20;

@Resolver(() => Campaign)
export class CampaignResolver {
  @Authorized('read')
  @Query(() => [Campaign], {
    description:
      "The organisation's campaigns, newest first (archived ones included): `first` (default 50, at most 200) after the `cursor` of the last one seen",
  })
  async campaigns(
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Campaign[]> {
    requireAccess(ctx.identity, 'read');
    const limit = pageSize(first, 50, 200);
    return keysetRows<Campaign>(ctx, {
      table: CAMPAIGNS_TABLE,
      select: entityTable(ctx.orm, Campaign).columns,
      after,
      order: 'desc',
      limit,
    });
  }

  @Authorized('read')
  @Query(() => Campaign, { nullable: true })
  async campaign(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Campaign | null> {
    requireAccess(ctx.identity, 'read');
    if (!isUuid(id)) return null;
    const [row] = await ctx.entityRows(Campaign, 't.id = $1', [id]);
    return row ?? null;
  }

  @FieldResolver(() => String, { description: 'Pass as `after` to read the campaigns after this one' })
  async cursor(@Root() campaign: Campaign, @Ctx() ctx: RequestContext): Promise<string> {
    const cursor = await cursorLoader(ctx, CAMPAIGNS_TABLE).load(campaign.id);
    if (!cursor) throw notFound('Campaign');
    return cursor;
  }

  @FieldResolver(() => [WorkflowStep], { description: `In order; a campaign has at most ${MAX_STEPS} steps` })
  async steps(@Root() campaign: Campaign, @Ctx() ctx: RequestContext): Promise<WorkflowStep[]> {
    const steps = await ctx
      .sqlLoader<string, WorkflowStep[]>('Campaign.steps', async (ids) => {
        const rows = await ctx.entityRows(WorkflowStep, 't.campaign_id = ANY($1::uuid[])', [ids], 't.index');
        return groupByKeys(ids, rows, (s) => s.campaign.id).map((list) => list.slice(0, MAX_STEPS));
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
    return keysetRows<Enrollment>(ctx, {
      table: ENROLLMENTS_TABLE,
      select: entityTable(ctx.orm, Enrollment).columns,
      filter: 't.campaign_id = ?',
      params: [campaign.id],
      after,
      limit,
    });
  }
}
