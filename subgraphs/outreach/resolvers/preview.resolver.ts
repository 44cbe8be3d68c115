// Previewing a step's email for one prospect, as it would be sent, without drafting anything.
import { Arg, Authorized, Ctx, Field, ID, ObjectType, Query, Resolver } from 'type-graphql';
import { requireAccess } from '../../../lib/auth/identity.ts';
import type { OutreachContext } from '../deps.ts';
import { previewMessage } from '../services/preview.ts';

@ObjectType({ description: 'A step rendered for one prospect' })
export class MessagePreview {
  @Field(() => String, { nullable: true, description: 'Null when the step is written by AI' })
  subject!: string | null;

  @Field(() => String, { nullable: true })
  bodyText!: string | null;

  @Field(() => String, { nullable: true })
  bodyHtml!: string | null;

  @Field(() => Boolean, {
    description: 'The step uses a prompt: its text is written when the message is drafted',
  })
  writtenByAi!: boolean;

  @Field(() => String, { nullable: true, description: 'Why there is no text, when there is none' })
  note!: string | null;
}

@Resolver()
export class PreviewResolver {
  @Authorized('read')
  @Query(() => MessagePreview, {
    description:
      "The step's email for this position, with the campaign's first mailbox as sender; a step with an experiment needs `variantKey`. A variable with no value and no fallback is a BAD_USER_INPUT naming it.",
  })
  async previewMessage(
    @Arg('campaignId', () => ID) campaignId: string,
    @Arg('stepId', () => ID) stepId: string,
    @Arg('positionId', () => ID) positionId: string,
    @Arg('variantKey', () => String, { nullable: true }) variantKey: string | undefined,
    @Ctx() ctx: OutreachContext,
  ): Promise<MessagePreview> {
    requireAccess(ctx.identity, 'read');
    return previewMessage(await ctx.em(), { campaignId, stepId, positionId, variantKey });
  }
}
