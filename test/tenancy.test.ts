// The two walls between organisations: composite foreign keys and row-level security.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  CampaignDocument,
  CampaignsDocument,
  CompanyDocument,
  PositionDocument,
  PositionsDocument,
} from './generated/graphql.ts';
import { gql, newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, serviceClient, withClient } from './helpers/db.ts';

async function asTenant<T>(c: pg.Client, organisationId: string, fn: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    await c.query("SELECT set_config('app.organisation_id', $1, true)", [organisationId]);
    return await fn();
  } finally {
    await c.query('ROLLBACK');
  }
}

/** Seeds one company, person, position and campaign with an enrollment for an organisation, as the owner role. */
async function seed(organisationId: string, label: string) {
  const ids = {
    company: randomUUID(),
    person: randomUUID(),
    position: randomUUID(),
    campaign: randomUUID(),
    enrollment: randomUUID(),
  };
  await withClient(ownerClient(), async (c) => {
    await c.query('INSERT INTO crm.companies (organisation_id, id, name, domain) VALUES ($1, $2, $3, $4)', [
      organisationId,
      ids.company,
      `${label} SAS`,
      `${label}.fr`,
    ]);
    await c.query(
      'INSERT INTO crm.people (organisation_id, id, first_name, last_name) VALUES ($1, $2, $3, $4)',
      [organisationId, ids.person, 'Jeanne', label],
    );
    await c.query(
      'INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email) VALUES ($1, $2, $3, $4, $5)',
      [organisationId, ids.position, ids.company, ids.person, `jeanne@${label}.fr`],
    );
    await c.query(
      `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
      VALUES ($1, $2, $3, 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
      [organisationId, ids.campaign, `${label} campaign`],
    );
    await c.query(
      'INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id) VALUES ($1, $2, $3, $4)',
      [organisationId, ids.enrollment, ids.campaign, ids.position],
    );
  });
  return ids;
}

describe('database walls', () => {
  it('a composite foreign key refuses to link organisation A rows to organisation B rows, across schemas too', async () => {
    const a = await newOrganisation();
    const b = await newOrganisation();
    const bRows = await seed(b.organisation.id, `b${randomUUID().slice(0, 6)}`);
    const aRows = await seed(a.organisation.id, `a${randomUUID().slice(0, 6)}`);
    await withClient(ownerClient(), async (c) => {
      await expect(
        c.query(
          'INSERT INTO crm.positions (organisation_id, id, company_id, person_id) VALUES ($1, $2, $3, $4)',
          [a.organisation.id, randomUUID(), bRows.company, aRows.person],
        ),
      ).rejects.toThrow(/foreign key/);
      await expect(
        c.query(
          'INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id) VALUES ($1, $2, $3, $4)',
          [a.organisation.id, randomUUID(), aRows.campaign, bRows.position],
        ),
      ).rejects.toThrow(/foreign key/);
    });
  });

  it('with organisation A set, an unfiltered SELECT returns none of B; with nothing set it returns nothing', async () => {
    const a = await newOrganisation();
    const b = await newOrganisation();
    await seed(a.organisation.id, `a${randomUUID().slice(0, 6)}`);
    await seed(b.organisation.id, `b${randomUUID().slice(0, 6)}`);
    await withClient(serviceClient('crm'), async (c) => {
      const rows = await asTenant(
        c,
        a.organisation.id,
        async () => (await c.query('SELECT organisation_id FROM crm.positions')).rows,
      );
      expect(rows.length).toBe(1);
      expect(rows.every((r) => r.organisation_id === a.organisation.id)).toBe(true);
      const none = await c.query('SELECT count(*)::int AS n FROM crm.positions');
      expect(none.rows[0].n).toBe(0);
      // writing into another organisation is refused by the policy's WITH CHECK
      await expect(
        asTenant(c, a.organisation.id, () =>
          c.query('INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, $3)', [
            b.organisation.id,
            randomUUID(),
            'Intrus',
          ]),
        ),
      ).rejects.toThrow(/row-level security/);
    });
    await withClient(serviceClient('iam'), async (c) => {
      const orgs = await c.query('SELECT count(*)::int AS n FROM iam.organisations');
      expect(orgs.rows[0].n).toBe(0);
    });
  });

  it('every table with organisation_id has forced row-level security, and no service role can bypass it', async () => {
    await withClient(ownerClient(), async (c) => {
      const { rows } = await c.query(`
        SELECT n.nspname || '.' || t.relname AS name, t.relrowsecurity, t.relforcerowsecurity
        FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE t.relkind = 'r' AND EXISTS (
          SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = 'organisation_id' AND NOT a.attisdropped)`);
      expect(rows.length).toBeGreaterThanOrEqual(20);
      const open = rows.filter((r) => !r.relrowsecurity || !r.relforcerowsecurity).map((r) => r.name);
      expect(open).toEqual([]);
      const roles = await c.query(
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname LIKE 'prospectflow\\_%' ORDER BY rolname",
      );
      expect(roles.rows.map((r) => r.rolname)).toEqual(
        expect.arrayContaining(['prospectflow_crm', 'prospectflow_gateway', 'prospectflow_iam']),
      );
      expect(roles.rows.filter((r) => r.rolsuper || r.rolbypassrls)).toEqual([]);
      const owned = await c.query(
        "SELECT count(*)::int AS n FROM pg_tables WHERE tableowner LIKE 'prospectflow\\_%'",
      );
      expect(owned.rows[0].n).toBe(0);
    });
  });
});

describe('isolation through the gateway', () => {
  it('organisation A cannot read B data by id or by list; B can', async () => {
    const a = await newOrganisation();
    const b = await newOrganisation();
    const label = `b${randomUUID().slice(0, 6)}`;
    const bRows = await seed(b.organisation.id, label);

    for (const [doc, vars] of [
      [PositionDocument, { id: bRows.position }],
      [CompanyDocument, { id: bRows.company }],
      [CampaignDocument, { id: bRows.campaign }],
    ] as const) {
      const res = await gql(doc as any, vars, { token: a.accessToken });
      expect(res.errors).toBeUndefined();
      expect(Object.values(res.data as object)[0]).toBeNull();
    }
    const aList = await ok(PositionsDocument, { filter: { search: label } }, { token: a.accessToken });
    expect(aList.positions.totalCount).toBe(0);
    const aCampaigns = await ok(CampaignsDocument, {}, { token: a.accessToken });
    expect(aCampaigns.campaigns).toEqual([]);

    const bPosition = await ok(PositionDocument, { id: bRows.position }, { token: b.accessToken });
    expect(bPosition.position).toMatchObject({
      id: bRows.position,
      email: `jeanne@${label}.fr`,
      company: { name: `${label} SAS` },
    });
    const bCampaign = await ok(CampaignDocument, { id: bRows.campaign }, { token: b.accessToken });
    // the enrollment's position resolves through the CRM subgraph
    expect(bCampaign.campaign?.enrollments[0].position).toMatchObject({
      id: bRows.position,
      company: { name: `${label} SAS` },
    });
  });
});
