import { Field, ID, InputType } from 'type-graphql';
import { EmailStatus } from '../entities/position.entity.ts';

@InputType()
export class PositionFilter {
  @Field(() => String, { nullable: true, description: 'Matches names, email and company name' })
  search?: string | null;

  @Field(() => ID, { nullable: true })
  companyId?: string | null;

  @Field(() => [EmailStatus], { nullable: true })
  emailStatus?: EmailStatus[] | null;
}
