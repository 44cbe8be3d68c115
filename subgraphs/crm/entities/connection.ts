// Cursor pagination types of the contract.
import { Field, Int, ObjectType } from 'type-graphql';
import { Position } from './position.entity.ts';

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor?: string | null;
}

@ObjectType()
export class PositionEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Position)
  node!: Position;
}

@ObjectType()
export class PositionConnection {
  @Field(() => [PositionEdge])
  edges!: PositionEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  /** may be a getter counting only when the field is selected */
  @Field(() => Int)
  totalCount!: number | Promise<number>;
}
