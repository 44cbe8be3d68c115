import { Entity, Enum, ManyToOne, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Directive, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Company } from './company.entity.ts';
import { Person } from './person.entity.ts';

export enum EmailStatus {
  VALID = 'VALID',
  RISKY = 'RISKY',
  INVALID = 'INVALID',
  UNKNOWN = 'UNKNOWN',
}
registerEnumType(EmailStatus, { name: 'EmailStatus' });

@ObjectType({ description: 'A person at a company, with the email to reach them there' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'positions' })
export class Position {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @Field(() => Company)
  @ManyToOne(() => Company, { fieldName: 'company_id' })
  company!: Company;

  @Field(() => Person)
  @ManyToOne(() => Person, { fieldName: 'person_id' })
  person!: Person;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  jobTitle?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  email?: string | null;

  @Field(() => EmailStatus)
  @Enum({ type: 'text', items: () => EmailStatus })
  emailStatus: EmailStatus = EmailStatus.UNKNOWN;

  @Field(() => Int, { nullable: true, description: 'Pharow reliability score, 0-100' })
  @Property({ type: 'smallint', nullable: true })
  emailReliability?: number | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  pharowListName?: string | null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
