// Outreach's Message as seen from tracking: a key to extend with engagement figures.
import { Directive, Field, ID, ObjectType } from 'type-graphql';

@ObjectType()
@Directive('@key(fields: "id")')
export class Message {
  @Field(() => ID)
  id!: string;
}
