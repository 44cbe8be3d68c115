// The subgraphs' request path: how many statements a hot read costs, and that a pooled connection never
// carries one organisation's setting into another request, whichever way a request ends.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createOrm } from '../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { PREPARED_PER_CONNECTION, TenantTransaction } from '../lib/db/tenant-transaction.ts';
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

/** A campaign with two steps (stored out of order), an A/B test on the first, an enrollment and two messages. */
async function seedCampaign(organisationId: string, label: string) {
  const ids = {
    campaign: randomUUID(),
    steps: [randomUUID(), randomUUID()],
    experiment: randomUUID(),
    enrollment: randomUUID(),
    messages: [randomUUID(), randomUUID()],
  };
  await seedPositions(organisationId, 1, label);
  await withClient(ownerClient(), async (c) => {
    const { rows } = await c.query('SELECT id FROM crm.positions WHERE organisation_id = $1', [
      organisationId,
    ]);
    const position = rows[0].id as string;
    await c.query(
      `INSERT INTO outreach.campaigns (organisation_id, id, name, status, timezone, days, start_hour, end_hour,
         daily_limit, require_approval, launched_at)
       VALUES ($1, $2, $3, 'RUNNING', 'Europe/Paris', '{1,3,5}', 8, 17, 40, true, '2026-03-01T09:30:00.123456Z')`,
      [organisationId, ids.campaign, `${label} campaign`],
    );
    for (const index of [1, 0]) {
      await c.query(
        `INSERT INTO outreach.workflow_steps (organisation_id, id, campaign_id, index, delay_days, subject_template)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [organisationId, ids.steps[index], ids.campaign, index, index * 3, `Step ${index}`],
      );
    }
    await c.query(
      'INSERT INTO outreach.step_experiments (organisation_id, id, step_id, name) VALUES ($1, $2, $3, $4)',
      [organisationId, ids.experiment, ids.steps[0], 'Subject test'],
    );
    for (const [key, weight] of [
      ['b', 30],
      ['a', 70],
    ] as const) {
      await c.query(
        `INSERT INTO outreach.step_experiment_variants (organisation_id, id, experiment_id, key, weight)
         VALUES ($1, $2, $3, $4, $5)`,
        [organisationId, randomUUID(), ids.experiment, key, weight],
      );
    }
    await c.query(
      `INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id, current_step_index)
       VALUES ($1, $2, $3, $4, 1)`,
      [organisationId, ids.enrollment, ids.campaign, position],
    );
    for (const [i, id] of ids.messages.entries()) {
      await c.query(
        `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, position_id, step_id, status, subject, created_at)
         VALUES ($1, $2, $3, $4, $5, 'SENT', $6, now() + make_interval(secs => $7))`,
        [organisationId, id, ids.enrollment, position, ids.steps[i], `Hello ${i}`, i],
      );
    }
  });
  return ids;
}

const DEEP_CAMPAIGN = `query Deep($id: ID!) { campaign(id: $id) {
  id name status dailyLimit trackOpens requireApproval launchedAt cursor
  schedule { timezone days startHour endHour }
  steps { id index delayDays subjectTemplate threadWithPrevious experiment { name variants { key weight } } }
  enrollments { id status currentStepIndex cursor messages { id status subject } }
} }`;

describe('campaign reads', () => {
  it('reads a campaign and everything under it with one statement per list in outreach, only its own', async () => {
    const org = await newOrganisation();
    const other = await newOrganisation();
    const mine = await seedCampaign(org.organisation.id, 'Camp');
    const theirs = await seedCampaign(other.organisation.id, 'Other');
    const requestId = `campaign-${randomUUID()}`;
    const { campaign } = await ok<{ campaign: any }, { id: string }>(
      DEEP_CAMPAIGN,
      { id: mine.campaign },
      { token: org.accessToken, headers: { 'x-request-id': requestId } },
    );
    expect(campaign).toMatchObject({
      id: mine.campaign,
      name: 'Camp campaign',
      status: 'RUNNING',
      dailyLimit: 40,
      trackOpens: true,
      requireApproval: true,
      launchedAt: '2026-03-01T09:30:00.123Z',
      schedule: { timezone: 'Europe/Paris', days: [1, 3, 5], startHour: 8, endHour: 17 },
      steps: [
        {
          id: mine.steps[0],
          index: 0,
          delayDays: 0,
          subjectTemplate: 'Step 0',
          threadWithPrevious: true,
          experiment: {
            name: 'Subject test',
            variants: [
              { key: 'a', weight: 70 },
              { key: 'b', weight: 30 },
            ],
          },
        },
        { id: mine.steps[1], index: 1, delayDays: 3, experiment: null },
      ],
      enrollments: [
        {
          id: mine.enrollment,
          status: 'ACTIVE',
          currentStepIndex: 1,
          messages: [
            { id: mine.messages[0], status: 'SENT', subject: 'Hello 0' },
            { id: mine.messages[1], status: 'SENT', subject: 'Hello 1' },
          ],
        },
      ],
    });
    expect(campaign.cursor).toEqual(expect.any(String));
    expect(campaign.enrollments[0].cursor).toEqual(expect.any(String));
    // campaign, its cursor, steps, experiments, variants, enrollments (cursors primed) and messages:
    // seven reads, each carrying the tenant setting, and no BEGIN or COMMIT
    expect(await statementsOf('outreach', requestId)).toBe(7);
    const foreign = await ok<{ campaign: unknown }, { id: string }>(
      DEEP_CAMPAIGN,
      { id: theirs.campaign },
      { token: org.accessToken },
    );
    expect(foreign.campaign).toBeNull();
  });

  it('lists campaigns newest first in one statement, and answers entity references only for its own', async () => {
    const org = await newOrganisation();
    const other = await newOrganisation();
    const older = await seedCampaign(org.organisation.id, 'Older');
    const newer = await seedCampaign(org.organisation.id, 'Newer');
    const theirs = await seedCampaign(other.organisation.id, 'Theirs');
    const requestId = `campaigns-${randomUUID()}`;
    const { campaigns } = await ok<{ campaigns: { id: string; schedule: { days: number[] } }[] }, object>(
      'query { campaigns { id name schedule { days } } }',
      {},
      { token: org.accessToken, headers: { 'x-request-id': requestId } },
    );
    expect(campaigns.map((c) => c.id)).toEqual([newer.campaign, older.campaign]);
    expect(campaigns[0]!.schedule.days).toEqual([1, 3, 5]);
    expect(await statementsOf('outreach', requestId)).toBe(1);

    // straight to the subgraph, as the gateway asks: another organisation's ids are no entity at all
    const { _entities } = await ok<{ _entities: unknown[] }, { representations: unknown[] }>(
      `query ($representations: [_Any!]!) { _entities(representations: $representations) {
        ... on Campaign { id name schedule { startHour } }
        ... on WorkflowStep { id index }
        ... on Enrollment { id currentStepIndex }
        ... on Message { id subject }
      } }`,
      {
        representations: [
          { __typename: 'Campaign', id: older.campaign },
          { __typename: 'Campaign', id: theirs.campaign },
          { __typename: 'WorkflowStep', id: older.steps[1] },
          { __typename: 'Enrollment', id: newer.enrollment },
          { __typename: 'Message', id: newer.messages[1] },
          { __typename: 'Message', id: theirs.messages[0] },
        ],
      },
      { token: org.accessToken, url: inject('subgraphUrls').outreach },
    );
    expect(_entities).toEqual([
      { id: older.campaign, name: 'Older campaign', schedule: { startHour: 8 } },
      null,
      { id: older.steps[1], index: 1 },
      { id: newer.enrollment, currentStepIndex: 1 },
      { id: newer.messages[1], subject: 'Hello 1' },
      null,
    ]);
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

  /** The read statements prepared on the pool's connection, and how often each was planned which way. */
  async function preparedReads(): Promise<{ statement: string; generic: number; custom: number }[]> {
    return orm.em.getConnection().execute<{ statement: string; generic: number; custom: number }[]>(
      `SELECT statement, generic_plans::int AS generic, custom_plans::int AS custom
           FROM pg_prepared_statements WHERE name LIKE 'pf\\_read\\_%'`,
      [],
      'all',
    );
  }

  it('prepares each read once per connection, and keeps each organisation to its own rows with it', async () => {
    const orgs = [(await newOrganisation()).organisation.id, (await newOrganisation()).organisation.id];
    await withClient(ownerClient(), async (c) => {
      for (const org of orgs)
        for (const name of ['one', 'two'])
          await c.query('INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, $3)', [
            org,
            randomUUID(),
            `${name} ${org}`,
          ]);
    });
    const read = 'SELECT name FROM crm.companies WHERE name LIKE $1 ORDER BY name';
    for (let round = 0; round < 8; round++) {
      for (const org of orgs) {
        const t = new TenantTransaction(orm, org);
        // every organisation's rows are asked for: row-level security alone keeps the others' out
        expect(await t.query(read, ['%'])).toEqual([{ name: `one ${org}` }, { name: `two ${org}` }]);
        await t.finish(true);
        expect(await leftOver()).toBe('');
      }
    }
    const prepared = await preparedReads();
    const mine = prepared.filter((p) => p.statement === read);
    expect(mine).toHaveLength(1);
    // 16 runs, and once PostgreSQL keeps a plan it stops planning for each run
    expect(mine[0]!.generic + mine[0]!.custom).toBe(16);
    expect(mine[0]!.generic).toBeGreaterThan(0);
  });

  it('keeps at most PREPARED_PER_CONNECTION reads prepared on a connection, the latest ones', async () => {
    const t = new TenantTransaction(orm, orgA);
    const count = PREPARED_PER_CONNECTION + 10;
    for (let i = 0; i < count; i++)
      expect(await t.query(`SELECT $1::int + ${i} AS n`, [1])).toEqual([{ n: i + 1 }]);
    await t.finish(true);
    const prepared = (await preparedReads()).map((p) => p.statement);
    expect(prepared.length).toBeLessThanOrEqual(PREPARED_PER_CONNECTION);
    expect(prepared).toContain(`SELECT $1::int + ${count - 1} AS n`);
    expect(prepared).not.toContain('SELECT $1::int + 0 AS n');
  });

  it('reads again with statements a failed round trip had prepared, and after a statement that does not parse', async () => {
    const a = new TenantTransaction(orm, orgA);
    const divide = 'SELECT 10 / $1::int AS n, current_setting($2) AS setting';
    await expect(a.query(divide, [0, 'app.organisation_id'])).rejects.toThrow(/division by zero/);
    expect(await a.query(divide, [5, 'app.organisation_id'])).toEqual([{ n: 2, setting: orgA }]);
    await expect(a.query('SELEC 1')).rejects.toThrow(/syntax error/);
    expect(await a.query(divide, [2, 'app.organisation_id'])).toEqual([{ n: 5, setting: orgA }]);
    // a value pg cannot send fails before anything is written
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(a.query('SELECT $1::json AS j', [circular])).rejects.toThrow();
    expect(await a.query(SETTING)).toEqual([{ setting: orgA }]);
    await a.finish(false);
    expect(await leftOver()).toBe('');
  });

  it('prepares a read afresh once its table has changed under it', async () => {
    const table = `crm.prepared_probe_${randomUUID().replaceAll('-', '')}`;
    await withClient(ownerClient(), async (c) => {
      await c.query(`CREATE TABLE ${table} (organisation_id uuid NOT NULL, a int)`);
      await c.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`);
      await c.query(
        `CREATE POLICY tenant_isolation ON ${table} USING (organisation_id = public.current_organisation_id())`,
      );
      await c.query(`GRANT SELECT ON ${table} TO prospectflow_crm`);
      await c.query(`INSERT INTO ${table} VALUES ($1, 1), ($2, 2)`, [orgA, orgB]);
    });
    try {
      const a = new TenantTransaction(orm, orgA);
      const read = `SELECT * FROM ${table}`;
      expect(await a.query(read)).toEqual([{ organisation_id: orgA, a: 1 }]);
      await withClient(ownerClient(), (c) => c.query(`ALTER TABLE ${table} ADD COLUMN b int DEFAULT 3`));
      // PostgreSQL may refuse the kept statement once (its result changed shape); it is prepared again
      await a.query(read).catch(() => undefined);
      expect(await a.query(read)).toEqual([{ organisation_id: orgA, a: 1, b: 3 }]);
      await a.finish(true);
    } finally {
      await withClient(ownerClient(), (c) => c.query(`DROP TABLE ${table}`));
    }
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

  it('sends one statement at a time on a request transaction, however many resolvers ask at once', async () => {
    // how many statements pg's client was handed while another was still running
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const query = proto.query;
    let running = 0;
    let most = 0;
    proto.query = function (this: unknown, ...args: unknown[]) {
      const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
      running++;
      most = Math.max(most, running);
      const done = (query.apply(this, args) as Promise<unknown>).finally(() => running--);
      if (!callback) return done;
      done.then(
        (result) => (callback as (e: unknown, r?: unknown) => void)(null, result),
        (error) => (callback as (e: unknown) => void)(error),
      );
      return undefined;
    };
    try {
      const a = new TenantTransaction(orm, orgA);
      const em = await a.em();
      const ormRead = (n: number) =>
        em
          .getConnection()
          .execute<{ n: number }[]>(
            `SELECT ${n}::int AS n, pg_sleep(0.005)::text AS slept`,
            [],
            'all',
            em.getTransactionContext(),
          );
      const answers = await Promise.all([
        ormRead(1),
        a.query<{ n: number }>('SELECT $1::int AS n', [2]),
        ormRead(3),
        ormRead(4),
        a.query<{ n: number }>('SELECT $1::int AS n', [5]),
      ]);
      expect(answers.map(([row]) => row!.n)).toEqual([1, 2, 3, 4, 5]);
      await a.finish(true);
      expect(await leftOver()).toBe('');
    } finally {
      proto.query = query;
    }
    expect(most).toBe(1);
  });
});
