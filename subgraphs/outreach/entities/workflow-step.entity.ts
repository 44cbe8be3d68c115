import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';
import { Campaign } from './campaign.entity.ts';

@ObjectType({ description: 'One email of a campaign sequence, sent delayDays after the previous one' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'workflow_steps' })
export class WorkflowStep {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @ManyToOne(() => Campaign, { fieldName: 'campaign_id' })
  campaign!: Campaign;

  @Field(() => Int)
  @Property({ type: 'integer' })
  index!: number;

  @Field(() => Int)
  @Property({ type: 'integer' })
  delayDays!: number;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  subjectTemplate?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  bodyTemplate?: string | null;

  @Property({ type: 'uuid', nullable: true })
  promptId?: string | null;

  @Field(() => Boolean)
  @Property({ type: 'boolean' })
  threadWithPrevious = true;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
