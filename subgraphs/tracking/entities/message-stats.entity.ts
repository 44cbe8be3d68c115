import { Entity, PrimaryKey, Property } from '@mikro-orm/postgresql';

// Per-message aggregate of tracking events, kept by the events consumer.
@Entity({ tableName: 'message_stats' })
export class MessageStats {
  @PrimaryKey({ type: 'uuid' })
  messageId!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @Property({ type: 'uuid' })
  campaignId!: string;

  @Property({ type: 'uuid', nullable: true })
  stepId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  variantId?: string | null;

  @Property({ type: 'integer' })
  opens = 0;

  @Property({ type: 'integer' })
  humanOpens = 0;

  @Property({ type: 'integer' })
  clicks = 0;

  @Property({ type: 'timestamptz', nullable: true })
  firstOpenedAt?: Date | null;
}
