// Message.opens / clicks / firstOpenedAt, from the per-message aggregate (one query per request).
import { Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { isUuid } from '../../../lib/db/orm.ts';
import { byKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import { Message } from '../entities/message-ref.ts';
import { MessageStats } from '../entities/message-stats.entity.ts';

function statsOf(ctx: RequestContext, messageId: string) {
  return ctx
    .loader<string, MessageStats>('MessageStats', async (ids, em) => {
      const rows = await em.find(MessageStats, { messageId: { $in: ids.filter(isUuid) } });
      return byKeys(ids, rows, (r) => r.messageId);
    })
    .load(messageId);
}

@Resolver(() => Message)
export class MessageEngagementResolver {
  @FieldResolver(() => Int, { description: 'Every open, machine opens included' })
  async opens(@Root() message: Message, @Ctx() ctx: RequestContext): Promise<number> {
    return (await statsOf(ctx, message.id))?.opens ?? 0;
  }

  @FieldResolver(() => Int)
  async clicks(@Root() message: Message, @Ctx() ctx: RequestContext): Promise<number> {
    return (await statsOf(ctx, message.id))?.clicks ?? 0;
  }

  @FieldResolver(() => Date, { nullable: true })
  async firstOpenedAt(@Root() message: Message, @Ctx() ctx: RequestContext): Promise<Date | null> {
    return (await statsOf(ctx, message.id))?.firstOpenedAt ?? null;
  }
}
