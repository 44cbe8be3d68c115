import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';
import { MessageStatus } from './enums.ts';

@ObjectType({ description: 'One email, drafted, sent or received' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'messages' })
export class Message {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @Property({ type: 'uuid' })
  enrollmentId!: string;

  @Property({ type: 'uuid', nullable: true })
  stepId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  variantId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  mailboxId?: string | null;

  @Property({ type: 'uuid' })
  positionId!: string;

  @Property({ type: 'text' })
  direction: 'OUTBOUND' | 'INBOUND' = 'OUTBOUND';

  @Field(() => MessageStatus)
  @Enum({ type: 'text', items: () => MessageStatus })
  status!: MessageStatus;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  subject?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  bodyText?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  bodyHtml?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The email's Message-ID header, angle brackets included (set when it is first sent; a reply names it in In-Reply-To)",
  })
  @Property({ type: 'text', nullable: true })
  rfcMessageId?: string | null;

  @Field(() => String, { nullable: true, description: 'Who wrote it, for a RECEIVED message (a reply)' })
  @Property({ type: 'text', nullable: true })
  fromEmail?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  threadId?: string | null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  sentAt?: Date | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  error?: string | null;

  /** The draft task that wrote it: one message per task. */
  @Property({ type: 'uuid', nullable: true })
  taskId?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'The index of its step in the sequence (0 = first email)',
  })
  @Property({ type: 'integer', nullable: true })
  stepIndex?: number | null;

  @Field(() => Date, {
    nullable: true,
    description: "Not sent before then: the mailbox's spacing and the campaign's window, as scheduled",
  })
  @Property({ type: 'timestamptz', nullable: true })
  sendAt?: Date | null;

  @Field(() => String, { nullable: true, description: 'The model that wrote it (prompt steps)' })
  @Property({ type: 'text', nullable: true })
  model?: string | null;

  @Field(() => Int, { nullable: true, description: 'Tokens of the request that wrote it (prompt steps)' })
  @Property({ type: 'integer', nullable: true })
  promptTokens?: number | null;

  @Field(() => Int, { nullable: true, description: 'Tokens of the answer that wrote it (prompt steps)' })
  @Property({ type: 'integer', nullable: true })
  completionTokens?: number | null;

  /** The user who approved or rejected it. */
  @Property({ type: 'uuid', nullable: true })
  reviewedBy?: string | null;

  @Field(() => Date, { nullable: true, description: 'When it was approved or rejected' })
  @Property({ type: 'timestamptz', nullable: true })
  reviewedAt?: Date | null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
