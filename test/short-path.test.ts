// A subgraph's short path for queries answers exactly as Apollo Server does, and leaves to Apollo what
// only Apollo words (invalid documents, introspection, mutations, other media types).
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { newOrganisation } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';

// a media type only Apollo negotiates: the short path hands such requests to Apollo
const APOLLO_ONLY = 'application/json;q=0.9, text/plain;q=0.1';
const HIVE_ACCEPT = 'application/graphql-response+json, application/json, multipart/mixed';

interface Answer {
  status: number;
  contentType: string | null;
  body: unknown;
}

async function post(body: unknown, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(inject('subgraphUrls').crm, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.json() };
}

/** How many queries the crm subgraph answered on its short path so far. */
async function shortPathCount(): Promise<number> {
  const text = await (await fetch(`${new URL(inject('subgraphUrls').crm).origin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('graphql_short_path_total'));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

/** The same request answered by the short path (default accept header) and by Apollo. */
async function bothWays(body: unknown, headers: Record<string, string> = {}) {
  const before = await shortPathCount();
  const requestId = `short-${randomUUID()}`;
  const short = await post(body, { ...headers, 'x-request-id': requestId });
  const took = (await shortPathCount()) - before;
  const apollo = await post(body, { ...headers, 'x-request-id': requestId, accept: APOLLO_ONLY });
  return { short, apollo, took };
}

describe('the subgraph short path', () => {
  let token: string;
  beforeAll(async () => {
    const org = await newOrganisation();
    token = org.accessToken;
    await withClient(ownerClient(), async (c) => {
      for (let i = 0; i < 3; i++) {
        const [company, person] = [randomUUID(), randomUUID()];
        await c.query('INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, $3)', [
          org.organisation.id,
          company,
          `Short ${i}`,
        ]);
        await c.query('INSERT INTO crm.people (organisation_id, id, first_name) VALUES ($1, $2, $3)', [
          org.organisation.id,
          person,
          `Ana${i}`,
        ]);
        await c.query(
          'INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email) VALUES ($1, $2, $3, $4, $5)',
          [org.organisation.id, randomUUID(), company, person, `ana${i}@short.fr`],
        );
      }
    });
  });

  const PAGE = `query Page($first: Int) { positions(first: $first) {
    totalCount edges { node { email suppressed person { fullName } company { name } } } } }`;

  it('answers a query with variables, the ORM joining for a field, exactly as Apollo', async () => {
    const { short, apollo, took } = await bothWays(
      { query: PAGE, variables: { first: 2 }, operationName: 'Page' },
      { authorization: `Bearer ${token}` },
    );
    expect(took).toBe(1);
    expect(short).toEqual(apollo);
    expect(short.status).toBe(200);
    expect(short.contentType).toBe('application/json; charset=utf-8');
    const page = (short.body as { data: { positions: { totalCount: number; edges: unknown[] } } }).data;
    expect(page.positions.totalCount).toBe(3);
    expect(page.positions.edges).toHaveLength(2);
  });

  it('words errors as Apollo does: codes, paths, request ids, no partial data where a root field failed', async () => {
    for (const [body, headers, code] of [
      [{ query: PAGE, variables: { first: 9999 } }, { authorization: `Bearer ${token}` }, 'BAD_USER_INPUT'],
      [{ query: PAGE, variables: { first: 1 } }, {}, 'UNAUTHENTICATED'],
    ] as const) {
      const { short, apollo, took } = await bothWays(body, headers);
      expect(took).toBe(1);
      expect(short).toEqual(apollo);
      const errors = (short.body as { errors: { extensions: Record<string, unknown> }[] }).errors;
      expect(errors[0]!.extensions.code).toBe(code);
      expect(errors[0]!.extensions.requestId).toMatch(/^short-/);
    }
  });

  it("gives Hive Gateway's accept header the media type Apollo negotiates for it", async () => {
    const body = { query: PAGE, variables: { first: 1 } };
    const headers = { authorization: `Bearer ${token}` };
    const before = await shortPathCount();
    const short = await post(body, { ...headers, accept: HIVE_ACCEPT });
    expect((await shortPathCount()) - before).toBe(1);
    const apollo = await post(body, { ...headers, accept: 'application/graphql-response+json;q=0.9' });
    expect(short).toEqual(apollo);
    expect(short.contentType).toBe('application/graphql-response+json; charset=utf-8');
  });

  it('leaves invalid documents, introspection, mutations and bad variables to Apollo', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const before = await shortPathCount();
    const invalid = await post({ query: '{ positions { nope } }' }, headers);
    const syntax = await post({ query: '{ positions {' }, headers);
    const badVariable = await post({ query: PAGE, variables: { first: 'ten' } }, headers);
    const introspection = await post({ query: '{ __schema { queryType { name } } }' }, headers);
    const mutation = await post(
      { query: 'mutation { ingestPharow(input: { data: [] }) { received } }' },
      headers,
    );
    expect((await shortPathCount()) - before).toBe(0);
    expect(invalid.status).toBe(400);
    expect(syntax.status).toBe(400);
    expect(badVariable.status).toBe(400);
    for (const answer of [invalid, syntax, badVariable]) {
      expect((answer.body as { errors: unknown[] }).errors).toHaveLength(1);
    }
    expect(introspection.status).toBeLessThan(500);
    expect(mutation.status).toBe(200);
    expect(mutation.body).toMatchObject({ data: { ingestPharow: { received: 0 } } });
  });
});
