import { Field, ID, InputType, Int } from 'type-graphql';

@InputType({
  description: 'An email written from templates (subject and body), or by AI from a prompt: one of the two',
})
export class WorkflowStepInput {
  @Field(() => Int, { description: 'Days after the previous step (0-365)' })
  delayDays!: number;

  @Field(() => String, { nullable: true })
  subjectTemplate?: string | null;

  @Field(() => String, { nullable: true })
  bodyTemplate?: string | null;

  @Field(() => ID, { nullable: true, description: 'A prompt version (its id): the step keeps that version' })
  promptId?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Reply in the thread of the previous step (default true)',
  })
  threadWithPrevious?: boolean | null;
}

@InputType({
  description:
    'The fields to change; absent or null ones stay as they are. Templates replace a prompt and a prompt replaces templates.',
})
export class WorkflowStepUpdateInput {
  @Field(() => Int, { nullable: true })
  delayDays?: number | null;

  @Field(() => String, { nullable: true })
  subjectTemplate?: string | null;

  @Field(() => String, { nullable: true })
  bodyTemplate?: string | null;

  @Field(() => ID, { nullable: true })
  promptId?: string | null;

  @Field(() => Boolean, { nullable: true })
  threadWithPrevious?: boolean | null;
}

@InputType({
  description: 'One arm of an A/B test: templates or a prompt, drawn in proportion to its weight',
})
export class VariantInput {
  @Field(() => String, { description: '1-40 characters, unique in the experiment (A, B, short-subject...)' })
  key!: string;

  @Field(() => Int, { description: '1-10000' })
  weight!: number;

  @Field(() => String, { nullable: true })
  subjectTemplate?: string | null;

  @Field(() => String, { nullable: true })
  bodyTemplate?: string | null;

  @Field(() => ID, { nullable: true })
  promptId?: string | null;
}
