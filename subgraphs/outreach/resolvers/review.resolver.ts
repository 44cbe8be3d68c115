// The review queue of campaigns that require approval, and the reviewer's decisions.
import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { type Identity, requireAccess } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { notFound } from '../../../lib/errors.ts';
import type { RequestContext } from '../../../lib/graphql/context.ts';
import { inOrder, keysetPage, pageSize } from '../../../lib/graphql/cursor.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Message } from '../entities/message.entity.ts';
import { approveMessage, MAX_SUBJECT_LENGTH, rejectMessage } from '../services/review.ts';

export const MESSAGES_TABLE = 'outreach.messages';

/** The user behind a decision: the session's, or the creator of the API key. */
function reviewerOf(identity: Identity): string | null {
  return identity.kind === 'user' ? identity.userId : identity.createdBy;
}

@Resolver(() => Message)
export class ReviewResolver {
  @Authorized('read')
  @Query(() => [Message], {
    description:
      'Drafts awaiting approval, oldest first, of one campaign or all: `first` (default 50, at most 200) after the `cursor` of the last one seen',
  })
  async reviewQueue(
    @Arg('campaignId', () => ID, { nullable: true }) campaignId: string | undefined,
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Message[]> {
    requireAccess(ctx.identity, 'read');
    const limit = pageSize(first, 50, 200);
    const em = await ctx.em();
    if (campaignId !== undefined && campaignId !== null) {
      if (!isUuid(campaignId) || !(await em.count(Campaign, { id: campaignId }))) throw notFound('Campaign');
    }
    const ids = await keysetPage(ctx, {
      table: MESSAGES_TABLE,
      filter: campaignId
        ? `t.status = 'AWAITING_APPROVAL' AND t.enrollment_id IN
             (SELECT e.id FROM outreach.campaign_enrollments e WHERE e.campaign_id = ?)`
        : `t.status = 'AWAITING_APPROVAL'`,
      params: campaignId ? [campaignId] : [],
      after,
      limit,
    });
    return inOrder(ids, await em.find(Message, { id: { $in: ids } }));
  }

  @Authorized('write')
  @Mutation(() => Message, {
    description: `Sends a draft awaiting approval on its way (QUEUED), with the reviewer's edits if any: a one-line subject of at most ${MAX_SUBJECT_LENGTH} characters, a plain-text body (its HTML is made again)`,
  })
  async approveMessage(
    @Arg('id', () => ID) id: string,
    @Arg('subject', () => String, { nullable: true }) subject: string | undefined,
    @Arg('bodyText', () => String, { nullable: true }) bodyText: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<Message> {
    const identity = requireAccess(ctx.identity, 'write');
    const em = await ctx.em();
    await approveMessage(em, id, { subject, bodyText }, { userId: reviewerOf(identity), at: new Date() });
    return em.findOneOrFail(Message, { id }, { refresh: true, failHandler: () => notFound('Message') });
  }

  @Authorized('write')
  @Mutation(() => Message, {
    description:
      "Rejects a draft awaiting approval: it is never sent, and the enrolment goes on with its next step or stops, as the campaign's onReject says",
  })
  async rejectMessage(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Message> {
    const identity = requireAccess(ctx.identity, 'write');
    const em = await ctx.em();
    await rejectMessage(em, id, { userId: reviewerOf(identity), at: new Date() });
    return em.findOneOrFail(Message, { id }, { refresh: true, failHandler: () => notFound('Message') });
  }
}
