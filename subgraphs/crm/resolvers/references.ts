// Federation entry points for Company, Person and Position: one statement per type per request.
import { type ReferenceResolvers, sqlReference } from '../../../lib/graphql/federation.ts';
import type { Company } from '../entities/company.entity.ts';
import type { Person } from '../entities/person.entity.ts';
import {
  COMPANY_JSON,
  PERSON_JSON,
  POSITION_COLUMNS,
  POSITION_FROM,
  type PositionRow,
  personOf,
  positionOf,
} from './position-rows.ts';

export const crmReferences: ReferenceResolvers = {
  Company: sqlReference(
    'Company',
    `SELECT ${COMPANY_JSON} AS company FROM crm.companies c WHERE c.id = ANY($1::uuid[]) AND c.organisation_id = $2`,
    (row: { company: Company }) => row.company,
  ),
  Person: sqlReference(
    'Person',
    `SELECT ${PERSON_JSON} AS person FROM crm.people pe WHERE pe.id = ANY($1::uuid[]) AND pe.organisation_id = $2`,
    (row: { person: Omit<Person, 'fullName'> }) => personOf(row.person),
  ),
  Position: sqlReference(
    'Position',
    `SELECT ${POSITION_COLUMNS} FROM ${POSITION_FROM} WHERE p.id = ANY($1::uuid[]) AND p.organisation_id = $2`,
    (row: PositionRow) => positionOf(row),
  ),
};
