// Sending mailboxes: connecting one (an administrator's act: it sends in the organisation's name with
// credentials everyone's campaigns then use), listing them, and what each sent today.
import { Arg, Authorized, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireAccess, requireIdentity, requireRole } from '../../../lib/auth/identity.ts';
import { byKeys } from '../../../lib/graphql/context.ts';
import { pageSize } from '../../../lib/graphql/cursor.ts';
import { JSONScalar } from '../../../lib/graphql/scalars.ts';
import type { OutreachContext } from '../deps.ts';
import { MailboxProvider } from '../entities/enums.ts';
import { Mailbox } from '../entities/mailbox.entity.ts';
import { connectMailbox } from '../services/mailboxes.ts';

// Messages sent since the mailbox's own midnight (its timezone), for a batch of mailboxes.
const SENT_TODAY_SQL = `SELECT m.id, count(x.id)::int AS sent
  FROM outreach.mailboxes m
  LEFT JOIN outreach.messages x ON x.organisation_id = m.organisation_id AND x.mailbox_id = m.id
    AND x.direction = 'OUTBOUND' AND x.sent_at IS NOT NULL
    AND x.sent_at >= date_trunc('day', now() AT TIME ZONE m.timezone) AT TIME ZONE m.timezone
  WHERE m.organisation_id = $1 AND m.id = ANY($2::uuid[])
  GROUP BY m.id`;

@Resolver(() => Mailbox)
export class MailboxResolver {
  @Authorized('role:ADMIN')
  @Mutation(() => Mailbox, {
    description:
      'Connects a mailbox (ADMIN). GMAIL credentials: {"clientId","clientSecret","refreshToken"} or {"delegated": true}, ' +
      'checked with Google now and stored encrypted, never returned. Connecting an address the organisation already has reconnects it: new credentials and settings, same mailbox, status ACTIVE.',
  })
  async connectMailbox(
    @Arg('email', () => String) email: string,
    @Arg('displayName', () => String, { nullable: true }) displayName: string | undefined,
    @Arg('provider', () => MailboxProvider) provider: MailboxProvider,
    @Arg('dailyLimit', () => Int, { nullable: true, description: '1-2000, default 200' }) dailyLimit:
      | number
      | undefined,
    @Arg('credentials', () => JSONScalar, { nullable: true }) credentials: unknown,
    @Arg('minIntervalSeconds', () => Int, { nullable: true, description: '0-86400, default 90' })
    minIntervalSeconds: number | undefined,
    @Arg('timezone', () => String, { nullable: true, description: 'IANA, default UTC' }) timezone:
      | string
      | undefined,
    @Ctx() ctx: OutreachContext,
  ): Promise<Mailbox> {
    const user = requireRole(ctx.identity, 'ADMIN');
    return connectMailbox(
      () => ctx.em(),
      ctx.deps,
      { organisationId: user.organisationId, userId: user.userId },
      { email, displayName, provider, dailyLimit, credentials, minIntervalSeconds, timezone },
    );
  }

  @Authorized('read')
  @Query(() => [Mailbox], {
    description: "The organisation's mailboxes by address: `first` (default 50, at most 200)",
  })
  async mailboxes(
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Ctx() ctx: OutreachContext,
  ): Promise<Mailbox[]> {
    requireAccess(ctx.identity, 'read');
    const limit = pageSize(first, 50, 200);
    const em = await ctx.em();
    return em.find(Mailbox, {}, { orderBy: { email: 'asc' }, limit });
  }

  @FieldResolver(() => Int, { description: "Messages sent since the mailbox's local midnight" })
  async sentToday(@Root() mailbox: Mailbox, @Ctx() ctx: OutreachContext): Promise<number> {
    const sent = await ctx
      .sqlLoader<string, number>('Mailbox.sentToday', async (ids) => {
        const rows = await ctx.sql<{ id: string; sent: number }>(SENT_TODAY_SQL, [
          requireIdentity(ctx.identity).organisationId,
          ids,
        ]);
        return byKeys(ids, rows, (r) => r.id).map((r) => r?.sent ?? 0);
      })
      .load(mailbox.id);
    return sent ?? 0;
  }
}
