import { Field, ID, InputType, Int } from 'type-graphql';
import { OnReject } from '../entities/enums.ts';

@InputType({ description: 'When a campaign may send' })
export class ScheduleInput {
  @Field(() => String, { description: 'IANA timezone, e.g. Europe/Paris' })
  timezone!: string;

  @Field(() => [Int], { description: '1 = Monday ... 7 = Sunday; at least one, each once' })
  days!: number[];

  @Field(() => Int, { description: '0-23, the first hour of the window' })
  startHour!: number;

  @Field(() => Int, { description: '1-24, the hour the window closes; after startHour' })
  endHour!: number;
}

@InputType()
export class CampaignInput {
  @Field(() => String, { description: '1-200 characters' })
  name!: string;

  @Field(() => [ID], { description: "The organisation's mailboxes it sends from (1-50)" })
  mailboxIds!: string[];

  @Field(() => ScheduleInput)
  schedule!: ScheduleInput;

  @Field(() => Int, {
    nullable: true,
    description: 'At most this many first messages a day (none: no limit)',
  })
  dailyLimit?: number | null;

  @Field(() => Boolean, { nullable: true })
  trackOpens?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  trackClicks?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: 'Drafts wait for a person to approve them' })
  requireApproval?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  useProspectTimezone?: boolean | null;

  @Field(() => OnReject, { nullable: true })
  onReject?: OnReject | null;
}

@InputType({
  description: 'The fields to change; absent or null ones stay as they are (dailyLimit: null removes it)',
})
export class CampaignUpdateInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => [ID], { nullable: true })
  mailboxIds?: string[] | null;

  @Field(() => ScheduleInput, { nullable: true })
  schedule?: ScheduleInput | null;

  @Field(() => Int, { nullable: true })
  dailyLimit?: number | null;

  @Field(() => Boolean, { nullable: true })
  trackOpens?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  trackClicks?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  requireApproval?: boolean | null;

  @Field(() => Boolean, { nullable: true })
  useProspectTimezone?: boolean | null;

  @Field(() => OnReject, { nullable: true })
  onReject?: OnReject | null;
}
