// Outreach's campaigns, steps and A/B tests as seen from tracking: keys to hang figures on, plus the few outreach
// fields the figures need (@requires: the gateway fetches them from outreach first).
import { Directive, Field, ID, ObjectType } from 'type-graphql';

@ObjectType('Schedule')
export class ScheduleRef {
  @Field(() => String)
  @Directive('@external')
  timezone!: string;
}

@ObjectType()
@Directive('@key(fields: "id")')
export class Campaign {
  @Field(() => ID)
  id!: string;

  @Field(() => ScheduleRef)
  @Directive('@external')
  schedule?: ScheduleRef;
}

@ObjectType()
@Directive('@key(fields: "id")')
export class WorkflowStep {
  @Field(() => ID)
  id!: string;
}

@ObjectType()
@Directive('@key(fields: "id")')
export class StepVariant {
  @Field(() => ID)
  id!: string;
}

@ObjectType()
@Directive('@key(fields: "id")')
export class StepExperiment {
  @Field(() => ID)
  id!: string;

  @Field(() => [StepVariant])
  @Directive('@external')
  variants?: StepVariant[];
}
