// Positions read as plain rows, company and person nested as JSON built by PostgreSQL: one statement and
// no ORM hydration for the lists and references that run on every page.
import type { Person } from '../entities/person.entity.ts';
import type { Position } from '../entities/position.entity.ts';

export const COMPANY_JSON = `json_build_object('id', c.id, 'organisationId', c.organisation_id,
  'pharowCompanyId', c.pharow_company_id, 'name', c.name, 'siren', c.siren, 'hqSiret', c.hq_siret,
  'brandName', c.brand_name, 'domain', c.domain, 'websiteUrl', c.website_url, 'linkedinUrl', c.linkedin_url,
  'mainPhone', c.main_phone, 'nafSector', c.naf_sector, 'nafCode', c.naf_code, 'activity', c.activity,
  'foundingYear', c.founding_year, 'employeeCount', c.employee_count, 'employeeRange', c.employee_range,
  'employeeMin', c.employee_min, 'employeeMax', c.employee_max, 'hqAddress', c.hq_address,
  'annualRevenueEur', c.annual_revenue_eur, 'createdAt', c.created_at, 'updatedAt', c.updated_at)`;

export const PERSON_JSON = `json_build_object('id', pe.id, 'organisationId', pe.organisation_id,
  'firstName', pe.first_name, 'lastName', pe.last_name, 'salutation', pe.salutation,
  'linkedinUrl', pe.linkedin_url, 'mobilePhone', pe.mobile_phone, 'location', pe.location)`;

/**
 * Select list of a position `p` joined to its company `c` and person `pe`: one JSON column, which the
 * driver parses in one native call (timestamps stay ISO strings until the DateTime scalar prints them).
 */
export const POSITION_COLUMNS = `json_build_object('id', p.id, 'organisationId', p.organisation_id,
  'jobTitle', p.job_title, 'email', p.email, 'emailStatus', p.email_status,
  'emailReliability', p.email_reliability, 'pharowListName', p.pharow_list_name,
  'createdAt', p.created_at, 'updatedAt', p.updated_at,
  'company', ${COMPANY_JSON}, 'person', ${PERSON_JSON}) AS position`;

export const POSITION_FROM = `crm.positions p
  JOIN crm.companies c ON c.organisation_id = p.organisation_id AND c.id = p.company_id
  JOIN crm.people pe ON pe.organisation_id = p.organisation_id AND pe.id = p.person_id`;

/** A person row as the GraphQL type reads it (fullName, a getter of the entity, is called on the row). */
export function personOf(row: Omit<Person, 'fullName'>): Person {
  return row as Person;
}

export interface PositionRow {
  position: Omit<Position, 'person'> & { person: Omit<Person, 'fullName'> };
}

/** A position row with its nested company and person. */
export function positionOf(row: PositionRow): Position {
  return row.position as Position;
}
