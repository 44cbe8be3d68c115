// What an ingest reports: counts per entity, and the items it refused with why.
import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType()
export class UpsertCounts {
  @Field(() => Int)
  created!: number;

  @Field(() => Int)
  updated!: number;

  @Field(() => Int)
  unchanged!: number;
}

@ObjectType()
export class IngestRejection {
  @Field(() => Int, { description: 'Position of the item in data' })
  index!: number;

  @Field(() => String, { description: 'The Pharow field at fault, e.g. position.positionEmail' })
  field!: string;

  @Field(() => String)
  message!: string;
}

@ObjectType()
export class IngestResult {
  @Field(() => Int)
  received!: number;

  @Field(() => UpsertCounts)
  companies!: UpsertCounts;

  @Field(() => UpsertCounts)
  people!: UpsertCounts;

  @Field(() => UpsertCounts)
  positions!: UpsertCounts;

  @Field(() => [IngestRejection])
  rejected!: IngestRejection[];
}
