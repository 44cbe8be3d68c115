import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Directive, Field, ID, ObjectType } from 'type-graphql';
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

  @Property({ type: 'text', nullable: true })
  rfcMessageId?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  threadId?: string | null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  sentAt?: Date | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  error?: string | null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
