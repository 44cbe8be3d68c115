// The figures tracking serves: value types, not stored entities.
import { Directive, Field, Float, Int, ObjectType } from 'type-graphql';
import { StepVariant } from './outreach-refs.ts';

@ObjectType({ description: 'Counts of messages (not of hits) and their rates' })
// the live subscription schema declares the same value type
@Directive('@shareable')
export class DeliveryStats {
  @Field(() => Int, { description: 'Emails sent' })
  sent!: number;

  @Field(() => Int, { description: 'Sent emails opened at least once, machine opens included' })
  opened!: number;

  @Field(() => Int, {
    description:
      "Sent emails opened at least once by a person (not Apple's proxy, a scanner, or within 10 s of sending)",
  })
  humanOpened!: number;

  @Field(() => Int, { description: 'Sent emails with a link clicked by a person' })
  clicked!: number;

  @Field(() => Int, { description: 'Sent emails answered' })
  replied!: number;

  @Field(() => Int)
  bounced!: number;

  @Field(() => Int, { description: 'Sent emails whose recipient unsubscribed through them' })
  unsubscribed!: number;

  @Field(() => Float, { description: 'humanOpened / sent (0 before anything is sent)' })
  openRate!: number;

  @Field(() => Float, { description: 'replied / sent (0 before anything is sent)' })
  replyRate!: number;
}

@ObjectType({ description: "One bucket of a campaign's timeline, in the campaign's timezone" })
export class StatsBucket {
  @Field(() => Date, { description: 'Start of the hour or of the local day' })
  start!: Date;

  @Field(() => Int, { description: 'Emails sent in the bucket' })
  sent!: number;

  @Field(() => Int, { description: 'Emails first opened in the bucket (any open)' })
  opened!: number;

  @Field(() => Int, { description: 'Emails first clicked by a person in the bucket' })
  clicked!: number;

  @Field(() => Int, { description: 'Emails answered in the bucket' })
  replied!: number;
}

@ObjectType()
export class VariantResult {
  @Field(() => StepVariant)
  variant!: StepVariant;

  @Field(() => DeliveryStats)
  stats!: DeliveryStats;
}

@ObjectType()
export class ExperimentResult {
  @Field(() => [VariantResult])
  variants!: VariantResult[];

  @Field(() => StepVariant, {
    nullable: true,
    description:
      'The variant with the best reply rate so far; null while any variant has fewer than 20 sends',
  })
  leader!: StepVariant | null;

  @Field(() => Float, {
    nullable: true,
    description:
      "Posterior probability (Beta posteriors) that the leader's reply rate beats every other variant's",
  })
  confidence!: number | null;
}
