import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';
import { WorkflowStep } from './workflow-step.entity.ts';

@ObjectType({ description: 'An A/B test on one step' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'step_experiments' })
export class StepExperiment {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @ManyToOne(() => WorkflowStep, { fieldName: 'step_id' })
  step!: WorkflowStep;

  @Field(() => String)
  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}

@ObjectType()
@Directive('@key(fields: "id")')
@Entity({ tableName: 'step_experiment_variants' })
export class StepVariant {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @ManyToOne(() => StepExperiment, { fieldName: 'experiment_id' })
  experiment!: StepExperiment;

  @Field(() => String)
  @Property({ type: 'text' })
  key!: string;

  @Field(() => Int)
  @Property({ type: 'integer' })
  weight!: number;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  subjectTemplate?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  bodyTemplate?: string | null;

  @Property({ type: 'uuid', nullable: true })
  promptId?: string | null;
}
