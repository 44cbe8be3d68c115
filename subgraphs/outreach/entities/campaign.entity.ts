import { ArrayType, Entity, Enum, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';
import { CampaignStatus, OnReject } from './enums.ts';

@ObjectType({ description: "When a campaign may send, in the prospect's timezone" })
export class Schedule {
  @Field(() => String)
  timezone!: string;

  @Field(() => [Int], { description: '1 = Monday ... 7 = Sunday' })
  days!: number[];

  @Field(() => Int)
  startHour!: number;

  @Field(() => Int)
  endHour!: number;
}

@ObjectType()
@Directive('@key(fields: "id")')
@Entity({ tableName: 'campaigns' })
export class Campaign {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  name!: string;

  @Field(() => CampaignStatus)
  @Enum({ type: 'text', items: () => CampaignStatus })
  status: CampaignStatus = CampaignStatus.DRAFT;

  @Property({ type: 'text' })
  timezone!: string;

  @Property({ type: new ArrayType((v) => Number(v)) })
  days!: number[];

  @Property({ type: 'integer' })
  startHour!: number;

  @Property({ type: 'integer' })
  endHour!: number;

  @Field(() => Int, { nullable: true })
  @Property({ type: 'integer', nullable: true })
  dailyLimit?: number | null;

  @Field(() => Boolean)
  @Property({ type: 'boolean' })
  trackOpens = true;

  @Field(() => Boolean)
  @Property({ type: 'boolean' })
  trackClicks = true;

  @Field(() => Boolean)
  @Property({ type: 'boolean' })
  requireApproval = false;

  @Field(() => Boolean, {
    description: "Send within the schedule's hours in each prospect's own timezone, where it is known",
  })
  @Property({ type: 'boolean' })
  useProspectTimezone = false;

  @Field(() => OnReject, { description: 'What a rejected draft does to its enrollment' })
  @Enum({ type: 'text', items: () => OnReject })
  onReject: OnReject = OnReject.NEXT_STEP;

  @Property({ type: 'uuid', nullable: true })
  createdBy?: string | null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  archivedAt?: Date | null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  launchedAt?: Date | null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();

  @Field(() => Schedule)
  get schedule(): Schedule {
    return { timezone: this.timezone, days: this.days, startHour: this.startHour, endHour: this.endHour };
  }
}
