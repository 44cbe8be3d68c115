import { Entity, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Directive, Field, ID, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A tenant: every piece of data belongs to exactly one organisation' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'organisations' })
export class Organisation {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  name!: string;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
