// Writing campaigns: create, change, archive; and the mailboxes a campaign sends from.
import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { rawQuery } from '../../../lib/db/orm.ts';
import { groupByKeys } from '../../../lib/graphql/context.ts';
import type { OutreachContext } from '../deps.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Mailbox } from '../entities/mailbox.entity.ts';
import { CampaignInput, CampaignUpdateInput } from '../inputs/campaign.input.ts';
import {
  archiveCampaign,
  createCampaign,
  MAX_CAMPAIGN_MAILBOXES,
  updateCampaign,
} from '../services/campaigns.ts';

@Resolver(() => Campaign)
export class CampaignAuthoringResolver {
  @Authorized('write')
  @Mutation(() => Campaign)
  async createCampaign(
    @Arg('input', () => CampaignInput) input: CampaignInput,
    @Ctx() ctx: OutreachContext,
  ): Promise<Campaign> {
    const identity = requireAccess(ctx.identity, 'write');
    return createCampaign(
      await ctx.em(),
      {
        organisationId: identity.organisationId,
        userId: identity.kind === 'user' ? identity.userId : identity.createdBy,
      },
      input,
    );
  }

  @Authorized('write')
  @Mutation(() => Campaign, {
    description:
      'Changes the given settings, from the next message on (a running campaign too); archived campaigns are read-only',
  })
  async updateCampaign(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => CampaignUpdateInput) input: CampaignUpdateInput,
    @Ctx() ctx: OutreachContext,
  ): Promise<Campaign> {
    requireAccess(ctx.identity, 'write');
    return updateCampaign(await ctx.em(), id, input);
  }

  @Authorized('write')
  @Mutation(() => Campaign, {
    description: 'Stops scheduling (tasks not yet picked up are cancelled) and makes the campaign read-only',
  })
  async archiveCampaign(@Arg('id', () => ID) id: string, @Ctx() ctx: OutreachContext): Promise<Campaign> {
    requireAccess(ctx.identity, 'write');
    return archiveCampaign(await ctx.em(), id);
  }

  @FieldResolver(() => [Mailbox], {
    description: `The mailboxes it sends from, by address (at most ${MAX_CAMPAIGN_MAILBOXES})`,
  })
  async mailboxes(@Root() campaign: Campaign, @Ctx() ctx: OutreachContext): Promise<Mailbox[]> {
    const rows = await ctx
      .loader<string, Mailbox[]>('Campaign.mailboxes', async (ids, em) => {
        const links = await rawQuery<{ campaign_id: string; mailbox_id: string }>(
          em,
          'SELECT campaign_id, mailbox_id FROM outreach.campaign_mailboxes WHERE campaign_id = ANY(?::uuid[])',
          [ids],
        );
        const mailboxes = await em.find(
          Mailbox,
          { id: { $in: [...new Set(links.map((l) => l.mailbox_id))] } },
          { orderBy: { email: 'asc' } },
        );
        const campaignsOf = new Map<string, string[]>();
        for (const link of links) {
          campaignsOf.set(link.mailbox_id, [...(campaignsOf.get(link.mailbox_id) ?? []), link.campaign_id]);
        }
        const pairs = mailboxes.flatMap((m) => (campaignsOf.get(m.id) ?? []).map((c) => ({ c, m })));
        return groupByKeys(ids, pairs, (p) => p.c).map((list) =>
          list.slice(0, MAX_CAMPAIGN_MAILBOXES).map((p) => p.m),
        );
      })
      .load(campaign.id);
    return rows ?? [];
  }
}
