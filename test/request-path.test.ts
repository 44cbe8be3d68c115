// The subgraphs' request path: how many statements a hot read costs, and that a pooled connection never
// carries one organisation's setting into another request, whichever way a request ends.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOrm } from '../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { TenantTransaction } from '../lib/db/tenant-transaction.ts';
import { MeDocument } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';

/** Statements the subgraph sent for one gateway request, read from its debug endpoint. */
async function statementsOf(subgraph: 'iam' | 'crm' | 'outreach', requestId: string): Promise<number | null> {
  const origin = new URL(inject('subgraphUrls')[subgraph]).origin;
  const counted = (await (await fetch(`${origin}/debug/queries/${requestId}`)).json()) as {
    queries: number | null;
  };
  return counted.queries;
}

/** Companies, people and positions of an organisation, written as the owner. */
async function seedPositions(organisationId: string, count: number, label: string): Promise<void> {
  await withClient(ownerClient(), async (c) => {
    for (let i = 0; i < count; i++) {
      const company = randomUUID();
      const person = randomUUID();
      await c.query('INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, $3)', [
        organisationId,
        company,
        `${label} ${i}`,
      ]);
      await c.query(
        'INSERT INTO crm.people (organisation_id, id, first_name, last_name) VALUES ($1, $2, $3, $4)',
        [organisationId, person, 'Lea', `${label}${i}`],
      );
      await c.query(
        'INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email) VALUES ($1, $2, $3, $4, $5)',
        [organisationId, randomUUID(), company, person, `p${i}@${label.toLowerCase()}.fr`],
      );
    }
  });
}

const PAGE = `query Page { positions(first: 20) { edges { node { id email person { fullName } company { name } enrollments { id status } } } } }`;

describe('statements per hot read', () => {
  it('answers me with one statement in iam, the tenant setting included', async () => {
    const org = await newOrganisation();
    const requestId = `me-${randomUUID()}`;
    const { me } = await ok(
      MeDocument,
      {},
      { token: org.accessToken, headers: { 'x-request-id': requestId } },
    );
    expect(me.email).toBe(org.user.email);
    expect(await statementsOf('iam', requestId)).toBe(1);
  });

  it('answers a 20-row page with one statement in crm and one in outreach, and only its own rows', async () => {
    const org = await newOrganisation();
    const other = await newOrganisation();
    await seedPositions(org.organisation.id, 25, 'Mine');
    await seedPositions(other.organisation.id, 25, 'Theirs');
    const requestId = `page-${randomUUID()}`;
    const data = await ok<
      {
        positions: {
          edges: { node: { email: string; person: { fullName: string }; company: { name: string } } }[];
        };
      },
      Record<string, never>
    >(PAGE, {}, { token: org.accessToken, headers: { 'x-request-id': requestId } });
    const nodes = data.positions.edges.map((e) => e.node);
    expect(nodes).toHaveLength(20);
    expect(nodes.every((n) => n.company.name.startsWith('Mine ') && n.email.endsWith('@mine.fr'))).toBe(true);
    expect(nodes.every((n) => n.person.fullName.startsWith('Lea Mine'))).toBe(true);
    expect(await statementsOf('crm', requestId)).toBe(1);
    expect(await statementsOf('outreach', requestId)).toBe(1);
  });
});

describe('pooled connections between requests', () => {
  // one connection in the pool: every request below gets the very connection the previous one used
  let orm: Awaited<ReturnType<typeof createOrm>>;
  const orgA = randomUUID();
  const orgB = randomUUID();
  beforeAll(async () => {
    orm = await createOrm({
      databaseUrl: serviceDatabaseUrl(inject('databaseUrl'), 'crm'),
      schema: 'crm',
      entities: [],
      tenantEntities: [],
      poolMax: 1,
    });
  });
  afterAll(async () => {
    await orm?.close();
  });

  const SETTING = "SELECT coalesce(current_setting('app.organisation_id', true), '') AS setting";
  /** What the pool's connection holds once no request is using it. */
  async function leftOver(): Promise<string> {
    const [row] = await orm.em.getConnection().execute<{ setting: string }[]>(SETTING, [], 'all');
    return row!.setting;
  }

  it('ends the setting with every read, and keeps organisations apart on one connection', async () => {
    const a = new TenantTransaction(orm, orgA);
    // values that can be literals: one round trip with the setting
    expect(await a.query(`${SETTING}, $1::int AS n`, [7])).toEqual([{ setting: orgA, n: 7 }]);
    expect(await leftOver()).toBe('');
    // a text value: a READ ONLY transaction of its own
    expect(await a.query(`${SETTING}, $1::text AS t`, ["it's"])).toEqual([{ setting: orgA, t: "it's" }]);
    expect(await leftOver()).toBe('');
    await a.finish(true);
    const b = new TenantTransaction(orm, orgB);
    expect(await b.query(SETTING)).toEqual([{ setting: orgB }]);
    await b.finish(true);
    expect(await leftOver()).toBe('');
  });

  it('leaves the connection clean and usable after a failing read, either way', async () => {
    const a = new TenantTransaction(orm, orgA);
    await expect(a.query('SELECT 1 / $1::int', [0])).rejects.toThrow(/division by zero/);
    expect(await leftOver()).toBe('');
    await expect(a.query('SELECT 1 / ($1::text)::int', ['0'])).rejects.toThrow(/division by zero/);
    expect(await leftOver()).toBe('');
    await a.finish(false);
    const b = new TenantTransaction(orm, orgB);
    expect(await b.query(SETTING)).toEqual([{ setting: orgB }]);
  });

  it('refuses writes on the lean path, which is for reads only', async () => {
    const a = new TenantTransaction(orm, orgA);
    // with values that become literals (one round trip), and with a text value (its own transaction)
    const year = 'UPDATE crm.companies SET founding_year = $1 WHERE id = $2';
    await expect(a.query(year, [1999, randomUUID()])).rejects.toThrow(/read-only/);
    const name = 'UPDATE crm.companies SET name = $1 WHERE id = $2';
    await expect(a.query(name, ["it's", randomUUID()])).rejects.toThrow(/read-only/);
    await a.finish(false);
    expect(await leftOver()).toBe('');
  });

  it('ends the ORM transaction and its setting on commit and on rollback', async () => {
    for (const ok of [true, false]) {
      const a = new TenantTransaction(orm, orgA);
      const em = await a.em();
      expect(await a.query(SETTING)).toEqual([{ setting: orgA }]);
      const [row] = await em
        .getConnection()
        .execute<{ setting: string }[]>(SETTING, [], 'all', em.getTransactionContext());
      expect(row!.setting).toBe(orgA);
      await a.finish(ok);
      expect(await leftOver()).toBe('');
    }
  });
});
