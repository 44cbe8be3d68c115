import { BigIntType, Entity, PrimaryKey, Property } from '@mikro-orm/postgresql';
import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A company, as known from Pharow or entered by hand' })
@Directive('@key(fields: "id")')
@Entity({ tableName: 'companies' })
export class Company {
  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  organisationId!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  pharowCompanyId?: string | null;

  @Field(() => String)
  @Property({ type: 'text' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'French company number (9 digits)' })
  @Property({ type: 'text', nullable: true })
  siren?: string | null;

  @Field(() => String, { nullable: true, description: 'Head-office establishment number (14 digits)' })
  @Property({ type: 'text', nullable: true })
  hqSiret?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  brandName?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  domain?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  websiteUrl?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  linkedinUrl?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  mainPhone?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  nafSector?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  nafCode?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  activity?: string | null;

  @Field(() => Int, { nullable: true })
  @Property({ type: 'integer', nullable: true })
  foundingYear?: number | null;

  @Field(() => Int, { nullable: true, description: 'Headcount when Pharow gives a number' })
  @Property({ type: 'integer', nullable: true })
  employeeCount?: number | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  employeeRange?: string | null;

  @Field(() => Int, { nullable: true })
  @Property({ type: 'integer', nullable: true })
  employeeMin?: number | null;

  @Field(() => Int, { nullable: true })
  @Property({ type: 'integer', nullable: true })
  employeeMax?: number | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  hqAddress?: string | null;

  @Field(() => Number, { nullable: true, description: 'Annual revenue in euros' })
  @Property({ type: new BigIntType('number'), nullable: true })
  annualRevenueEur?: number | null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();
}
