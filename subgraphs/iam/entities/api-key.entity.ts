import { ArrayType, Entity, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { ApiKeyScope } from '../../../lib/auth/identity.ts';

export enum ApiKeyScopeEnum {
  INGEST = 'INGEST',
  READ = 'READ',
  WRITE = 'WRITE',
}
registerEnumType(ApiKeyScopeEnum, { name: 'ApiKeyScope' });

@ObjectType({
  description: 'A scoped credential for machine clients such as Pharow; the secret is stored hashed',
})
@Entity({ tableName: 'api_keys' })
export class ApiKey {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @Field(() => String)
  @Property({ type: 'text' })
  name!: string;

  @Field(() => [ApiKeyScopeEnum])
  @Property({ type: ArrayType })
  scopes!: ApiKeyScope[];

  @Property({ type: 'text', hidden: true })
  secretHash!: string;

  @Property({ type: 'uuid', nullable: true })
  createdBy?: string | null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  lastUsedAt?: Date | null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  revokedAt?: Date | null;
}
