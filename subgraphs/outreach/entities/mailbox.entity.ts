import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { MailboxProvider } from './enums.ts';

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

  /** The provider credentials, encrypted (lib/secrets): never returned, never logged. */
  @Property({ type: 'text', nullable: true, hidden: true, lazy: true })
  credentialsEncrypted?: string | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
