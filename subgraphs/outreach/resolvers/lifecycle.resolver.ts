// A campaign's lifecycle through the API: enrolling positions, launching, pausing, unenrolling.
import { Arg, Authorized, Ctx, Field, ID, Int, Mutation, ObjectType, Resolver } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import { notFound } from '../../../lib/errors.ts';
import type { RequestContext } from '../../../lib/graphql/context.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Enrollment } from '../entities/enrollment.entity.ts';
import {
  enrollPositions,
  launchCampaign,
  MAX_ENROLL,
  pauseCampaign,
  unenroll,
} from '../services/campaign-lifecycle.ts';

@ObjectType({ description: 'A position that was not enrolled, and why' })
export class EnrollSkip {
  @Field(() => ID)
  positionId!: string;

  @Field(() => String, {
    description:
      'NOT_FOUND, NO_EMAIL, INVALID_EMAIL, SUPPRESSED (the address or its domain), ALREADY_ENROLLED (in this campaign), IN_OTHER_CAMPAIGN (active in another running or paused campaign), BOUNCED_BEFORE',
  })
  reason!: string;
}

@ObjectType()
export class EnrollResult {
  @Field(() => Int)
  enrolled!: number;

  @Field(() => [EnrollSkip], { description: `At most ${MAX_ENROLL}: one per position given` })
  skipped!: EnrollSkip[];
}

@Resolver()
export class LifecycleResolver {
  @Authorized('write')
  @Mutation(() => EnrollResult, {
    description: `Enrols up to ${MAX_ENROLL} positions; into a running campaign their first step is scheduled at once`,
  })
  async enrollPositions(
    @Arg('campaignId', () => ID) campaignId: string,
    @Arg('positionIds', () => [ID]) positionIds: string[],
    @Ctx() ctx: RequestContext,
  ): Promise<EnrollResult> {
    requireAccess(ctx.identity, 'write');
    return enrollPositions(await ctx.em(), campaignId, positionIds, new Date());
  }

  @Authorized('write')
  @Mutation(() => Campaign, {
    description:
      'DRAFT or PAUSED to RUNNING (needs a step, an active mailbox and a usable schedule); resuming keeps the limits and spacing',
  })
  async launchCampaign(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Campaign> {
    requireAccess(ctx.identity, 'write');
    const em = await ctx.em();
    await launchCampaign(em, id, new Date());
    return em.findOneOrFail(Campaign, { id }, { refresh: true, failHandler: () => notFound('Campaign') });
  }

  @Authorized('write')
  @Mutation(() => Campaign, {
    description: 'RUNNING to PAUSED: no new draft is dispatched until launched again',
  })
  async pauseCampaign(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<Campaign> {
    requireAccess(ctx.identity, 'write');
    const em = await ctx.em();
    await pauseCampaign(em, id, new Date());
    return em.findOneOrFail(Campaign, { id }, { refresh: true, failHandler: () => notFound('Campaign') });
  }

  @Authorized('write')
  @Mutation(() => Enrollment, {
    description: 'Takes a position out of its campaign (STOPPED); nothing more is sent',
  })
  async unenroll(
    @Arg('enrollmentId', () => ID) enrollmentId: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Enrollment> {
    requireAccess(ctx.identity, 'write');
    const em = await ctx.em();
    await unenroll(em, enrollmentId);
    return em.findOneOrFail(
      Enrollment,
      { id: enrollmentId },
      { refresh: true, failHandler: () => notFound('Enrollment') },
    );
  }
}
