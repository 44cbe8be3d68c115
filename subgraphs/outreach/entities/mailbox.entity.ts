import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { MailboxAuthKind, MailboxProvider, MailboxStatus } from './enums.ts';

@ObjectType({ description: 'A sending mailbox (Gmail, or OUTBOX which keeps mail on the machine)' })
@Entity({ tableName: 'mailboxes' })
export class Mailbox {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  email!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  displayName?: string | null;

  @Field(() => MailboxProvider)
  @Enum({ type: 'text', items: () => MailboxProvider })
  provider!: MailboxProvider;

  @Field(() => Int)
  @Property({ type: 'integer' })
  dailyLimit = 200;

  @Field(() => Int, { description: 'Seconds at least between two messages this mailbox sends' })
  @Property({ type: 'integer' })
  minIntervalSeconds = 90;

  @Field(() => MailboxStatus)
  @Enum({ type: 'text', items: () => MailboxStatus })
  status: MailboxStatus = MailboxStatus.ACTIVE;

  @Field(() => String, {
    nullable: true,
    description: "Why the mailbox needs reconnecting: Google's answer when it refused the credentials",
  })
  @Property({ type: 'text', nullable: true })
  statusReason?: string | null;

  @Field(() => String, {
    description: "IANA timezone: the mailbox's day (its daily limit) starts at its local midnight",
  })
  @Property({ type: 'text' })
  timezone = 'UTC';

  @Enum({ type: 'text', items: () => MailboxAuthKind })
  authKind: MailboxAuthKind = MailboxAuthKind.NONE;

  @Property({ type: 'uuid', nullable: true })
  createdBy?: string | null;

  /** The provider credentials, encrypted (lib/secrets): never returned, never logged. */
  @Property({ type: 'text', nullable: true, hidden: true, lazy: true })
  credentialsEncrypted?: string | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
