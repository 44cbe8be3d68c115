import { Entity, Enum, ManyToOne, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';
import { Campaign } from './campaign.entity.ts';
import { EnrollmentStatus } from './enums.ts';

@ObjectType({ description: 'A position going through a campaign' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'campaign_enrollments' })
export class Enrollment {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @ManyToOne(() => Campaign, { fieldName: 'campaign_id' })
  campaign!: Campaign;

  @Property({ type: 'uuid' })
  positionId!: string;

  @Field(() => EnrollmentStatus)
  @Enum({ type: 'text', items: () => EnrollmentStatus })
  status: EnrollmentStatus = EnrollmentStatus.ACTIVE;

  @Field(() => Int, { nullable: true })
  @Property({ type: 'integer', nullable: true })
  currentStepIndex?: number | null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  nextRunAt?: Date | null;

  @Property({ type: 'text', nullable: true })
  stoppedReason?: string | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
