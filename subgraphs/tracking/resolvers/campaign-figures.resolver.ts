// Campaign.stats and Campaign.timeline, from the roll-ups and the per-message facts.
import { Arg, Ctx, Directive, FieldResolver, Resolver, Root } from 'type-graphql';
import { requireIdentity } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import type { RequestContext } from '../../../lib/graphql/context.ts';
import { DeliveryStats, StatsBucket } from '../entities/figures.ts';
import { Campaign } from '../entities/outreach-refs.ts';
import { type TimelineRow, timelineQuery, timelineSql } from '../services/timeline.ts';
import { statsOf } from './delivery-stats.ts';

@Resolver(() => Campaign)
export class CampaignFiguresResolver {
  @FieldResolver(() => DeliveryStats)
  stats(@Root() campaign: Campaign, @Ctx() ctx: RequestContext): Promise<DeliveryStats> {
    return statsOf(ctx, 'campaign', campaign.id);
  }

  @FieldResolver(() => [StatsBucket], {
    description:
      'Emails sent, first opened, first clicked by a person and answered per hour or per day ("hour" | "day") of ' +
      "the campaign's timezone, empty buckets included; at most 2,000 buckets",
  })
  @Directive('@requires(fields: "schedule { timezone }")')
  async timeline(
    @Root() campaign: Campaign,
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date) to: Date,
    @Arg('bucket', () => String) bucket: string,
    @Ctx() ctx: RequestContext,
  ): Promise<StatsBucket[]> {
    const query = timelineQuery({ from, to, bucket }, campaign.schedule?.timezone ?? 'UTC');
    if (!isUuid(campaign.id)) return [];
    return ctx.sql<TimelineRow>(timelineSql(query.bucket), [
      query.from,
      query.to,
      query.timezone,
      campaign.id,
      requireIdentity(ctx.identity).organisationId,
    ]);
  }
}
