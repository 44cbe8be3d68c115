import { Entity, Enum, ManyToOne, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Field, ObjectType, registerEnumType } from 'type-graphql';
import type { Role } from '../../../lib/auth/identity.ts';
import { User } from './user.entity.ts';

export enum RoleEnum {
  OWNER = 'OWNER',
  ADMIN = 'ADMIN',
  MEMBER = 'MEMBER',
  VIEWER = 'VIEWER',
}
registerEnumType(RoleEnum, { name: 'Role' });

@ObjectType({ description: "A user's place in an organisation" })
@Entity({ tableName: 'organisation_users' })
export class Membership {
  @PrimaryKey({ type: 'uuid' })
  organisationId!: string;

  @Field(() => User)
  @ManyToOne(() => User, { primary: true, fieldName: 'user_id' })
  user!: User;

  @Field(() => RoleEnum)
  @Enum({ type: 'text', items: () => RoleEnum })
  role!: Role;

  @Field(() => String, { description: 'ACTIVE, INVITED or DISABLED' })
  @Property({ type: 'text' })
  status: 'ACTIVE' | 'INVITED' | 'DISABLED' = 'ACTIVE';

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
