// Prospects written straight into the CRM tables (as the owner), for outreach tests that need real positions.
import { randomUUID } from 'node:crypto';
import { ownerClient, withClient } from './db.ts';

export interface ProspectSeed {
  firstName?: string | null;
  lastName?: string | null;
  jobTitle?: string | null;
  email?: string | null;
  company?: { name?: string; domain?: string | null; employeeRange?: string | null };
  linkedinUrl?: string | null;
}

/** One position (a person at a company) per seed; returns the position ids in order. */
export async function seedProspects(organisationId: string, seeds: ProspectSeed[]): Promise<string[]> {
  return withClient(ownerClient(), async (c) => {
    const ids: string[] = [];
    for (const seed of seeds) {
      const [companyId, personId, positionId] = [randomUUID(), randomUUID(), randomUUID()];
      await c.query(
        'INSERT INTO crm.companies (organisation_id, id, name, domain, employee_range) VALUES ($1, $2, $3, $4, $5)',
        [
          organisationId,
          companyId,
          seed.company?.name ?? 'Acme',
          seed.company?.domain ?? null,
          seed.company?.employeeRange ?? null,
        ],
      );
      await c.query(
        'INSERT INTO crm.people (organisation_id, id, first_name, last_name, linkedin_url) VALUES ($1, $2, $3, $4, $5)',
        [organisationId, personId, seed.firstName ?? null, seed.lastName ?? null, seed.linkedinUrl ?? null],
      );
      await c.query(
        `INSERT INTO crm.positions (organisation_id, id, company_id, person_id, job_title, email, email_status)
         VALUES ($1, $2, $3, $4, $5, $6, 'VALID')`,
        [
          organisationId,
          positionId,
          companyId,
          personId,
          seed.jobTitle ?? null,
          seed.email === undefined ? `${positionId}@example.fr` : seed.email,
        ],
      );
      ids.push(positionId);
    }
    return ids;
  });
}
