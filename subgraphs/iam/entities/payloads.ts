// GraphQL-only result types of IAM mutations.
import { Field, ObjectType } from 'type-graphql';
import { ApiKey } from './api-key.entity.ts';
import { Organisation } from './organisation.entity.ts';
import { User } from './user.entity.ts';

@ObjectType()
export class AuthPayload {
  @Field(() => String)
  accessToken!: string;

  @Field(() => String, {
    description: 'Rotating: each refreshSession returns a new one and retires this one',
  })
  refreshToken!: string;

  @Field(() => Date, { description: 'When the access token expires' })
  expiresAt!: Date;

  @Field(() => User)
  user!: User;

  @Field(() => Organisation)
  organisation!: Organisation;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKey)
  apiKey!: ApiKey;

  @Field(() => String, { description: 'Shown once; only its hash is stored' })
  secret!: string;
}
