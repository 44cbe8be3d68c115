// loadProspects as the outreach service and the workers run it: through crm.prospects_for_outreach, inside
// one organisation's tenant transaction, under each service's own database role.
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOrm, withTenant } from '../lib/db/orm.ts';
import { type DatabaseService, serviceDatabaseUrl } from '../lib/db/roles.ts';
import { loadProspects } from '../subgraphs/outreach/services/prospects.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { seedProspects } from './helpers/prospects.ts';

const orms: Partial<Record<DatabaseService, MikroORM>> = {};
const orgA = randomUUID();
const orgB = randomUUID();
let jeanne: string;
let unsubscribed: string;
let domainSuppressed: string;
let otherOrgs: string;

beforeAll(async () => {
  for (const service of ['outreach', 'worker'] as const) {
    orms[service] = await createOrm({
      databaseUrl: serviceDatabaseUrl(inject('databaseUrl'), service),
      schema: 'outreach',
      entities: [],
      tenantEntities: [],
      poolMax: 2,
    });
  }
  await withClient(ownerClient(), async (c) => {
    await c.query(`INSERT INTO iam.organisations (id, name) VALUES ($1, 'A'), ($2, 'B')`, [orgA, orgB]);
  });
  [jeanne, unsubscribed, domainSuppressed] = await seedProspects(orgA, [
    {
      firstName: 'Jeanne',
      lastName: 'Martin',
      jobTitle: 'Head of Sales',
      email: 'jeanne@acme.fr',
      company: { name: 'Acme', domain: 'acme.fr', employeeRange: '50-99' },
      linkedinUrl: 'https://linkedin.com/in/jeanne',
    },
    { firstName: 'Paul', email: 'paul@acme.fr' },
    { firstName: 'Zoé', email: 'zoe@blocked.fr' },
  ]);
  [otherOrgs] = await seedProspects(orgB, [{ firstName: 'Other' }]);
  await withClient(ownerClient(), async (c) => {
    await c.query(
      `INSERT INTO crm.suppressions (organisation_id, id, value, kind, reason)
       VALUES ($1, gen_random_uuid(), 'PAUL@acme.fr', 'EMAIL', 'UNSUBSCRIBED'),
              ($1, gen_random_uuid(), 'blocked.fr', 'DOMAIN', 'MANUAL')`,
      [orgA],
    );
  });
});
afterAll(async () => {
  for (const orm of Object.values(orms)) await orm?.close();
});

describe('loadProspects', () => {
  for (const service of ['outreach', 'worker'] as const) {
    it(`gives the ${service} role a prospect's address, suppression and camelCased rows`, async () => {
      const prospects = await withTenant(orms[service]!, orgA, (em) =>
        loadProspects(em, [jeanne, unsubscribed, domainSuppressed]),
      );
      expect(prospects.size).toBe(3);
      const p = prospects.get(jeanne)!;
      expect(p).toMatchObject({
        positionId: jeanne,
        email: 'jeanne@acme.fr',
        emailStatus: 'VALID',
        suppressed: null,
      });
      expect(p.data.person).toMatchObject({
        firstName: 'Jeanne',
        lastName: 'Martin',
        linkedinUrl: 'https://linkedin.com/in/jeanne',
      });
      expect(p.data.position).toMatchObject({ jobTitle: 'Head of Sales' });
      expect(p.data.company).toMatchObject({ name: 'Acme', domain: 'acme.fr', employeeRange: '50-99' });
      // bookkeeping columns stay inside the CRM
      expect(p.data.company).not.toHaveProperty('sourceHash');
      expect(p.data.company).not.toHaveProperty('organisationId');
      expect(prospects.get(unsubscribed)?.suppressed).toBe('UNSUBSCRIBED');
      expect(prospects.get(domainSuppressed)?.suppressed).toBe('MANUAL');
    });
  }

  it("leaves out another organisation's, unknown and malformed ids", async () => {
    const prospects = await withTenant(orms.outreach!, orgA, (em) =>
      loadProspects(em, [jeanne, otherOrgs, randomUUID(), 'not-a-uuid', jeanne]),
    );
    expect([...prospects.keys()]).toEqual([jeanne]);
    const fromB = await withTenant(orms.outreach!, orgB, (em) => loadProspects(em, [jeanne, otherOrgs]));
    expect([...fromB.keys()]).toEqual([otherOrgs]);
  });

  it('refuses more than 10,000 ids at once', async () => {
    const ids = Array.from({ length: 10_001 }, () => randomUUID());
    await expect(withTenant(orms.outreach!, orgA, (em) => loadProspects(em, ids))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
  });
});
