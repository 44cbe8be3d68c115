// Pharow's payload as the contract declares it: (almost) every value a string; the server normalises.
import { Field, InputType } from 'type-graphql';

@InputType()
export class PharowCompanyInput {
  @Field(() => String, { nullable: true })
  pharowCompanyId?: string | null;

  @Field(() => String, { nullable: true })
  companySiren?: string | null;

  @Field(() => String, { nullable: true })
  companyHqSiret?: string | null;

  @Field(() => String)
  companyName!: string;

  @Field(() => String, { nullable: true })
  companyBrandName?: string | null;

  @Field(() => String, { nullable: true })
  companyLinkedinName?: string | null;

  @Field(() => String, { nullable: true })
  companyLinkedinUrl?: string | null;

  @Field(() => String, { nullable: true })
  companyUrl?: string | null;

  @Field(() => String, { nullable: true })
  companyMainPhone?: string | null;

  @Field(() => String, { nullable: true })
  companyGenericEmail?: string | null;

  @Field(() => String, { nullable: true })
  companyNafSector?: string | null;

  @Field(() => String, { nullable: true })
  companyNafCode?: string | null;

  @Field(() => String, { nullable: true })
  companyActivity?: string | null;

  @Field(() => String, { nullable: true })
  companyFoundingYear?: string | null;

  @Field(() => String, { nullable: true })
  companyFoundingDate?: string | null;

  @Field(() => String, { nullable: true })
  companyGrowing?: string | null;

  @Field(() => String, { nullable: true })
  companyNbEmployees?: string | null;

  @Field(() => String, { nullable: true })
  companyEmployeeRangeCorrected?: string | null;

  @Field(() => String, { nullable: true })
  companyHqFullAddress?: string | null;

  @Field(() => String, { nullable: true })
  companyAnnualRevenueEuros?: string | null;

  @Field(() => String, { nullable: true })
  companyAnnualRevenueYear?: string | null;
}

@InputType()
export class PharowPersonInput {
  @Field(() => String, { nullable: true })
  personFirstName?: string | null;

  @Field(() => String, { nullable: true })
  personLastName?: string | null;

  @Field(() => String, { nullable: true })
  personSalutation?: string | null;

  @Field(() => String, { nullable: true })
  personLinkedinUrl?: string | null;

  @Field(() => String, { nullable: true })
  personMobilePhone?: string | null;

  @Field(() => String, { nullable: true })
  personLocation?: string | null;
}

@InputType()
export class PharowPositionInput {
  @Field(() => String, { nullable: true })
  positionJobTitle?: string | null;

  @Field(() => String, { nullable: true })
  positionEmail?: string | null;

  @Field(() => String, { nullable: true })
  positionEmailStatus?: string | null;

  @Field(() => String, { nullable: true })
  positionEmailReliability?: string | null;

  @Field(() => String, { nullable: true })
  pharowListName?: string | null;
}

@InputType()
export class PharowItemInput {
  @Field(() => PharowCompanyInput)
  company!: PharowCompanyInput;

  @Field(() => PharowPersonInput)
  person!: PharowPersonInput;

  @Field(() => PharowPositionInput)
  position!: PharowPositionInput;
}

@InputType()
export class PharowIngestInput {
  @Field(() => String, { nullable: true })
  version?: string | null;

  @Field(() => [PharowItemInput])
  data!: PharowItemInput[];
}
