// Queries the subgraphs answer in one statement, their JSON built by PostgreSQL, answer exactly as
// execution does (Apollo Server, reached with a media type only it negotiates): the same rows, order, limit,
// tenant and access rules; anything unusual is executed as usual.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CreateApiKeyDocument, type SessionFragment } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';

const APOLLO_ONLY = 'application/json;q=0.9, text/plain;q=0.1';

interface Answer {
  status: number;
  body: {
    data?: Record<string, any> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

async function post(url: string, body: unknown, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

async function counts(url: string): Promise<{ short: number; direct: number }> {
  const text = await (await fetch(`${new URL(url).origin}/metrics`)).text();
  const count = (name: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(name))
        ?.split(' ')
        .at(-1) ?? Number.NaN,
    );
  return { short: count('graphql_short_path_total'), direct: count('graphql_direct_answers_total') };
}

/**
 * The request through the short path and through Apollo, with the same request id; `took` counts the short
 * path's answers, `direct` those built in one statement.
 */
async function bothWays(url: string, body: unknown, headers: Record<string, string>) {
  const before = await counts(url);
  const requestId = `direct-${randomUUID()}`;
  const short = await post(url, body, { ...headers, 'x-request-id': requestId });
  const after = await counts(url);
  const apollo = await post(url, body, { ...headers, 'x-request-id': requestId, accept: APOLLO_ONLY });
  return { short, apollo, took: after.short - before.short, direct: after.direct - before.direct };
}

interface Tenant {
  session: SessionFragment;
  /** positions with 0, 1, 3 and 105 enrollments */
  positions: string[];
  /** each position's enrollment ids in the order they must be listed */
  enrollments: string[][];
}

async function tenant(): Promise<Tenant> {
  const session = await newOrganisation();
  const orgId = session.organisation.id;
  const positions = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const counts = [0, 1, 3, 105];
  const enrollments: string[][] = [];
  await withClient(ownerClient(), async (c) => {
    const company = randomUUID();
    const person = randomUUID();
    await c.query('INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, $3)', [
      orgId,
      company,
      'Direct SA',
    ]);
    await c.query('INSERT INTO crm.people (organisation_id, id, first_name) VALUES ($1, $2, $3)', [
      orgId,
      person,
      'Dora',
    ]);
    for (const [i, position] of positions.entries()) {
      await c.query(
        'INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email) VALUES ($1, $2, $3, $4, $5)',
        [orgId, position, company, person, `dora${i}@direct.fr`],
      );
    }
    const statuses = ['ACTIVE', 'PAUSED', 'COMPLETED', 'STOPPED'];
    for (const [i, position] of positions.entries()) {
      const list: { id: string; at: number }[] = [];
      for (let n = 0; n < counts[i]!; n++) {
        const campaign = randomUUID();
        await c.query(
          `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
           VALUES ($1, $2, $3, 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
          [orgId, campaign, `Direct ${i}-${n}`],
        );
        const id = randomUUID();
        // created in an order other than insertion: the answer lists them oldest first
        const at = (n * 7919) % 1000;
        await c.query(
          `INSERT INTO outreach.campaign_enrollments
             (organisation_id, id, campaign_id, position_id, status, current_step_index, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, now() - make_interval(secs => $7))`,
          [orgId, id, campaign, position, statuses[n % statuses.length], n % 3 === 0 ? null : n, at],
        );
        list.push({ id, at });
      }
      list.sort((a, b) => b.at - a.at);
      enrollments.push(list.slice(0, 100).map((e) => e.id));
    }
  });
  return { session, positions, enrollments };
}

const ENTITIES = `query ($r: [_Any!]!) { _entities(representations: $r) {
  ... on Position { __typename id enrollments { id status currentStepIndex __typename } } } }`;

const representations = (ids: string[]) => ids.map((id) => ({ __typename: 'Position', id }));

describe('Position.enrollments answered in one statement', () => {
  let a: Tenant;
  let b: Tenant;
  let outreach: string;
  beforeAll(async () => {
    outreach = inject('subgraphUrls').outreach;
    [a, b] = await Promise.all([tenant(), tenant()]);
  });

  it('lists each position its enrollments, oldest first and at most 100, exactly as execution does', async () => {
    // a position asked twice is answered twice, in the order asked
    const ids = [...a.positions, a.positions[2]!];
    const { short, apollo, took, direct } = await bothWays(
      outreach,
      { query: ENTITIES, variables: { r: representations(ids) } },
      { authorization: `Bearer ${a.session.accessToken}` },
    );
    expect(took).toBe(1);
    expect(direct).toBe(1);
    expect(short).toEqual(apollo);
    expect(short.body.errors).toBeUndefined();
    const entities = short.body.data!._entities as {
      __typename: string;
      id: string;
      enrollments: { id: string; status: string; currentStepIndex: number | null; __typename: string }[];
    }[];
    expect(entities.map((e) => e.id)).toEqual(ids);
    expect(entities.map((e) => e.enrollments.length)).toEqual([0, 1, 3, 100, 3]);
    for (const [i, entity] of entities.entries()) {
      expect(entity.__typename).toBe('Position');
      expect(entity.enrollments.map((e) => e.id)).toEqual(a.enrollments[i === 4 ? 2 : i]);
    }
    expect(entities[2]!.enrollments.map((e) => [e.status, e.currentStepIndex, e.__typename])).toEqual(
      expect.arrayContaining([['ACTIVE', null, 'Enrollment']]),
    );
  });

  it("never lists another organisation's enrollments", async () => {
    const { short, apollo, took, direct } = await bothWays(
      outreach,
      { query: ENTITIES, variables: { r: representations(b.positions) } },
      { authorization: `Bearer ${a.session.accessToken}` },
    );
    expect(took).toBe(1);
    expect(direct).toBe(1);
    expect(short).toEqual(apollo);
    expect(short.body.data!._entities.map((e: { enrollments: unknown[] }) => e.enrollments)).toEqual([
      [],
      [],
      [],
      [],
    ]);
  });

  it('refuses an INGEST-only key exactly as execution does', async () => {
    const { createApiKey } = await ok(
      CreateApiKeyDocument,
      { name: 'ingest only', scopes: ['INGEST'] },
      { token: a.session.accessToken },
    );
    const { short, apollo, direct } = await bothWays(
      outreach,
      { query: ENTITIES, variables: { r: representations(a.positions) } },
      { authorization: `Bearer ${createApiKey.secret}` },
    );
    expect(short).toEqual(apollo);
    expect(direct).toBe(0);
    expect(short.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(JSON.stringify(short.body.data ?? null)).not.toContain('enrollments":[{');
  });

  it('executes as usual what it does not take: timestamps, upper-case ids, other shapes', async () => {
    const headers = { authorization: `Bearer ${a.session.accessToken}` };
    const timestamps = await bothWays(
      outreach,
      {
        query:
          'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Position { enrollments { id nextRunAt } } } }',
        variables: { r: representations(a.positions.slice(2, 3)) },
      },
      headers,
    );
    expect(timestamps.short).toEqual(timestamps.apollo);
    expect(timestamps.direct).toBe(0);
    expect(timestamps.short.body.data!._entities[0].enrollments).toHaveLength(3);
    const upper = await bothWays(
      outreach,
      { query: ENTITIES, variables: { r: representations(a.positions.map((id) => id.toUpperCase())) } },
      headers,
    );
    expect(upper.short).toEqual(upper.apollo);
    expect(upper.direct).toBe(0);
    expect(upper.short.body.data!._entities[0].id).toBe(a.positions[0]!.toUpperCase());
    const bad = await bothWays(
      outreach,
      { query: ENTITIES, variables: { r: [{ __typename: 'Position', id: 'not-a-uuid' }] } },
      headers,
    );
    expect(bad.short).toEqual(bad.apollo);
    expect(bad.direct).toBe(0);
    expect(bad.short.body.errors?.length).toBeGreaterThan(0);
  });
});

describe('the positions page answered in one statement', () => {
  let crm: string;
  let a: SessionFragment;
  let b: SessionFragment;
  // oldest first, as the page lists them
  const mine: string[] = [];
  const people: [string | null, string | null][] = [
    ['Zoé', 'Lefèvre'],
    [null, 'Martin'],
    ['Élodie', null],
    ['', 'Durand'],
    [null, null],
    ['Jean "JJ"', 'N\\Guyen'],
    ['Ana', ''],
  ];

  async function seed(orgId: string, ids: string[]): Promise<void> {
    await withClient(ownerClient(), async (c) => {
      for (const [i, [first, last]] of people.entries()) {
        const [company, person, position] = [randomUUID(), randomUUID(), randomUUID()];
        await c.query(
          `INSERT INTO crm.companies (organisation_id, id, name, domain, founding_year, employee_count, siren)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [orgId, company, `Société ${i}`, i % 2 ? `s${i}.fr` : null, 1990 + i, i % 3 ? 10 * i : null, null],
        );
        await c.query(
          'INSERT INTO crm.people (organisation_id, id, first_name, last_name, location) VALUES ($1, $2, $3, $4, $5)',
          [orgId, person, first, last, i % 2 ? 'Lyon' : null],
        );
        // two positions share a creation time: the id breaks the tie, as in the cursor
        await c.query(
          `INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email, job_title, email_status,
             email_reliability, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '2026-03-01T09:00:00Z'::timestamptz + make_interval(secs => $9))`,
          [
            orgId,
            position,
            company,
            person,
            i === 4 ? null : `p${i}@direct.fr`,
            i % 2 ? 'CEO' : null,
            ['VALID', 'RISKY', 'INVALID', 'UNKNOWN'][i % 4],
            i % 3 ? 80 + i : null,
            Math.min(i, 5) + 0.123456,
          ],
        );
        ids.push(position);
      }
    });
  }

  beforeAll(async () => {
    crm = inject('subgraphUrls').crm;
    [a, b] = await Promise.all([newOrganisation(), newOrganisation()]);
    await seed(a.organisation.id, mine);
    await seed(b.organisation.id, []);
  });

  // the fetch the gateway sends for the prospects page
  const GATEWAY_PAGE = `{positions(first:20){edges{node{__typename id email person{fullName} company{name}}}}}`;
  const FULL = `query Full($first: Int, $after: String) { list: positions(first: $first, after: $after) {
    __typename
    edges { __typename cursor node { __typename id email jobTitle emailStatus emailReliability pharowListName
      person { __typename id firstName lastName fullName salutation linkedinUrl mobilePhone location }
      owner: company { __typename id name domain foundingYear employeeCount siren } } }
    pageInfo { __typename hasNextPage endCursor } } }`;

  it("answers the gateway's page exactly as execution does, oldest first, in the caller's organisation", async () => {
    const { short, apollo, took, direct } = await bothWays(
      crm,
      { query: GATEWAY_PAGE },
      { authorization: `Bearer ${a.accessToken}` },
    );
    expect(took).toBe(1);
    expect(direct).toBe(1);
    expect(short).toEqual(apollo);
    const nodes = short.body.data!.positions.edges.map(
      (e: { node: { id: string; person: { fullName: string } } }) => e.node,
    );
    expect(nodes.map((n: { id: string }) => n.id)).toEqual(
      [...mine].sort((x, y) => {
        const [ix, iy] = [mine.indexOf(x), mine.indexOf(y)].map((i) => Math.min(i, 5));
        return ix - iy || (x < y ? -1 : 1);
      }),
    );
    expect(nodes.map((n: { person: { fullName: string } }) => n.person.fullName).sort()).toEqual(
      ['', 'Ana', 'Durand', 'Jean "JJ" N\\Guyen', 'Martin', 'Zoé Lefèvre', 'Élodie'].sort(),
    );
  });

  it('pages with cursors, aliases and every field it takes exactly as execution does, to the end', async () => {
    let after: string | null = null;
    const seen: string[] = [];
    for (let round = 0; round < 5; round++) {
      const { short, apollo, took, direct } = await bothWays(
        crm,
        { query: FULL, variables: { first: 3, after }, operationName: 'Full' },
        { authorization: `Bearer ${a.accessToken}` },
      );
      expect(took).toBe(1);
      expect(direct).toBe(1);
      expect(short).toEqual(apollo);
      const list = short.body.data!.list;
      seen.push(...list.edges.map((e: { node: { id: string } }) => e.node.id));
      expect(list.pageInfo.endCursor).toBe(list.edges.at(-1)?.cursor ?? null);
      if (!list.pageInfo.hasNextPage) break;
      after = list.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual([...mine].sort());
  });

  it('refuses, or leaves to execution, what execution words: a key without READ, bad arguments, other fields', async () => {
    const { createApiKey } = await ok(
      CreateApiKeyDocument,
      { name: 'ingest only', scopes: ['INGEST'] },
      { token: a.accessToken },
    );
    const refused = await bothWays(
      crm,
      { query: GATEWAY_PAGE },
      { authorization: `Bearer ${createApiKey.secret}` },
    );
    expect(refused.short).toEqual(refused.apollo);
    expect(refused.direct).toBe(0);
    expect(refused.short.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(JSON.stringify(refused.short.body)).not.toContain('direct.fr');
    const headers = { authorization: `Bearer ${a.accessToken}` };
    for (const variables of [{ first: 0 }, { first: 501 }, { first: 2, after: 'bm90LWEtY3Vyc29y' }]) {
      const bad = await bothWays(crm, { query: FULL, variables, operationName: 'Full' }, headers);
      expect(bad.took).toBe(1);
      expect(bad.direct).toBe(0);
      expect(bad.short).toEqual(bad.apollo);
      expect(bad.short.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
    // a variable's default is execution's to apply
    const defaulted = await bothWays(
      crm,
      { query: 'query ($n: Int = 2) { positions(first: $n) { edges { node { id } } } }' },
      headers,
    );
    expect(defaulted.short).toEqual(defaulted.apollo);
    expect(defaulted.direct).toBe(0);
    expect(defaulted.short.body.data!.positions.edges).toHaveLength(2);
    // so is refusing a required variable left out
    const required = await bothWays(
      crm,
      { query: 'query ($n: Int!) { positions(first: $n) { edges { node { id } } } }' },
      headers,
    );
    expect(required.short).toEqual(required.apollo);
    expect(required.direct).toBe(0);
    expect(required.short.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const others = await bothWays(
      crm,
      {
        query:
          '{ positions(first: 2, filter: { emailStatus: [VALID] }) { totalCount edges { node { createdAt suppressed } } } }',
      },
      headers,
    );
    expect(others.short).toEqual(others.apollo);
    expect(others.direct).toBe(0);
    expect(others.short.body.data!.positions.edges).toHaveLength(2);
  });
});
