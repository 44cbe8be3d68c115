// simulateInbound: an email "received" by an OUTBOX mailbox, handled exactly as the inbox worker handles a Gmail
// mailbox's mail, so replies, out-of-office answers and bounces can be shown and tested on one machine.
import {
  Arg,
  Authorized,
  Ctx,
  Field,
  ID,
  Mutation,
  ObjectType,
  Resolver,
  registerEnumType,
} from 'type-graphql';
import { requireRole } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { badInput, notFound } from '../../../lib/errors.ts';
import type { InboundKind as ClassifiedKind } from '../../../lib/mail/classify.ts';
import type { OutreachContext } from '../deps.ts';
import { Enrollment } from '../entities/enrollment.entity.ts';
import { MailboxProvider } from '../entities/enums.ts';
import { Mailbox } from '../entities/mailbox.entity.ts';
import { Message } from '../entities/message.entity.ts';
import { type InboundEffect as Effect, receiveInbound } from '../services/inbound.ts';

/** The largest raw email simulateInbound takes. */
export const MAX_SIMULATED_BYTES = 1_000_000;

export enum InboundKind {
  REPLY = 'REPLY',
  AUTO_REPLY = 'AUTO_REPLY',
  BOUNCE = 'BOUNCE',
  SOFT_BOUNCE = 'SOFT_BOUNCE',
  UNSUBSCRIBE_REQUEST = 'UNSUBSCRIBE_REQUEST',
}
export enum InboundEffect {
  /** The enrolment stopped, paused, or the bounced email will be sent again. */
  HANDLED = 'HANDLED',
  /** The same email was received before in this mailbox: nothing done again. */
  DUPLICATE = 'DUPLICATE',
  /** It answers no email sent from this mailbox: ignored, not stored. */
  UNMATCHED = 'UNMATCHED',
  /** A delivery delay notice, or nothing left to do for its enrolment. */
  NO_ACTION = 'NO_ACTION',
}
registerEnumType(InboundKind, { name: 'InboundKind', description: 'What an inbound email is' });
registerEnumType(InboundEffect, { name: 'InboundEffect', description: 'What an inbound email did' });

const KINDS: Record<ClassifiedKind, InboundKind> = {
  reply: InboundKind.REPLY,
  'auto-reply': InboundKind.AUTO_REPLY,
  bounce: InboundKind.BOUNCE,
  'soft-bounce': InboundKind.SOFT_BOUNCE,
  'unsubscribe-request': InboundKind.UNSUBSCRIBE_REQUEST,
};
const EFFECTS: Record<Effect, InboundEffect> = {
  handled: InboundEffect.HANDLED,
  duplicate: InboundEffect.DUPLICATE,
  unmatched: InboundEffect.UNMATCHED,
  'no-action': InboundEffect.NO_ACTION,
};

@ObjectType({ description: 'What an inbound email was and what it did' })
export class InboundResult {
  @Field(() => InboundKind)
  kind!: InboundKind;

  @Field(() => InboundEffect)
  effect!: InboundEffect;

  @Field(() => Message, {
    nullable: true,
    description: 'Our email it answers (the bounced one for a bounce)',
  })
  message?: Message | null;

  @Field(() => Enrollment, { nullable: true, description: 'The enrolment, as it is now' })
  enrollment?: Enrollment | null;
}

@Resolver()
export class InboundResolver {
  @Authorized('role:ADMIN')
  @Mutation(() => InboundResult, {
    description: `Handles a raw RFC 5322 email (at most ${MAX_SIMULATED_BYTES} bytes) as if an OUTBOX mailbox had received it (ADMIN): a reply stops the sequence, an out-of-office pauses it for 3 schedule days, a bounce stops it and suppresses the address. Gmail mailboxes read their own inbox.`,
  })
  async simulateInbound(
    @Arg('mailboxId', () => ID) mailboxId: string,
    @Arg('raw', () => String) raw: string,
    @Ctx() ctx: OutreachContext,
  ): Promise<InboundResult> {
    requireRole(ctx.identity, 'ADMIN');
    if (Buffer.byteLength(raw, 'utf8') > MAX_SIMULATED_BYTES)
      throw badInput(`raw must be at most ${MAX_SIMULATED_BYTES} bytes`, { field: 'raw' });
    if (raw.trim() === '')
      throw badInput('raw must be an email (headers, a blank line, a body)', { field: 'raw' });
    const em = await ctx.em();
    const mailbox = isUuid(mailboxId) ? await em.findOne(Mailbox, { id: mailboxId }) : null;
    if (!mailbox) throw notFound('Mailbox');
    if (mailbox.provider !== MailboxProvider.OUTBOX)
      throw badInput('simulateInbound is for OUTBOX mailboxes: a Gmail mailbox reads its own inbox', {
        field: 'mailboxId',
      });
    const outcome = await receiveInbound(em, mailbox.id, raw, { receivedAt: new Date() });
    return {
      kind: KINDS[outcome.kind],
      effect: EFFECTS[outcome.effect],
      message: outcome.matchedMessageId
        ? await em.findOne(Message, { id: outcome.matchedMessageId }, { refresh: true })
        : null,
      enrollment: outcome.enrollmentId
        ? await em.findOne(Enrollment, { id: outcome.enrollmentId }, { refresh: true })
        : null,
    };
  }
}
