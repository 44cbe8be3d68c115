// The CRM's Position as seen from outreach: a key to extend with enrollments.
import { Directive, Field, ID, ObjectType } from 'type-graphql';

@ObjectType()
@Directive('@key(fields: "id")')
export class Position {
  @Field(() => ID)
  id!: string;
}
