import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum SuppressionReason {
  UNSUBSCRIBED = 'UNSUBSCRIBED',
  BOUNCED = 'BOUNCED',
  COMPLAINED = 'COMPLAINED',
  MANUAL = 'MANUAL',
}
registerEnumType(SuppressionReason, { name: 'SuppressionReason' });

@ObjectType({ description: 'An email address or a whole domain that must never be emailed' })
@Entity({ tableName: 'suppressions' })
export class Suppression {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  value!: string;

  @Property({ type: 'text' })
  kind!: 'EMAIL' | 'DOMAIN';

  @Field(() => SuppressionReason)
  @Enum({ type: 'text', items: () => SuppressionReason })
  reason!: SuppressionReason;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
