// The gateway's short path for known query texts (gateway/known-plans.ts) answers exactly as Apollo
// Gateway does (same status, headers and JSON), keeps every caller to its own organisation, counts each
// request's limits once, and hands anything unusual back to Apollo.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.ts';
import type { SessionFragment } from './generated/graphql.ts';
import { newOrganisation } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { gatewayWith } from './helpers/gateway.ts';
import { addMember } from './helpers/mail.ts';

// a media type only Apollo negotiates: the short path hands such requests to Apollo
const APOLLO_ONLY = 'application/json;q=0.9, text/plain;q=0.1';

const PAGE = `query PositionsPage { positions(first: 20) { edges { node { id email person { fullName } company { name } enrollments { id status } } } } }`;
const ALIASED = `{ list: positions(first: 2) { __typename edges { cursor n: node { __typename id e: enrollments { status id } company { id name } } } } }`;
const ME = 'query Me { me { email id firstName } }';
const COMPANY = 'query Company($id: ID!) { company(id: $id) { id name } }';
const PAGE_SIZE = 'query Sized($n: Int) { positions(first: $n) { edges { node { id } } } }';
const KEYS = 'query Keys { apiKeys { name } }';

interface Answer {
  status: number;
  contentType: string | null;
  cacheControl: string | null;
  text: string;
}

async function post(
  gateway: RunningGateway,
  body: unknown,
  token: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    cacheControl: res.headers.get('cache-control'),
    text: await res.text(),
  };
}

/** Subgraph requests the gateway sent (deduplicated ones not included). */
async function sentCount(gateway: RunningGateway): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
  return [...text.matchAll(/^gateway_subgraph_requests_total\{[^}]*outcome="sent"[^}]*\} (\d+)/gm)]
    .map((m) => Number(m[1]))
    .reduce((x, y) => x + y, 0);
}

async function shortPathCount(gateway: RunningGateway): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('graphql_short_path_total'));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

/** The request through Apollo (which also teaches the plan), then through the short path, then Apollo again. */
async function bothWays(gateway: RunningGateway, body: unknown, token: string) {
  const first = await post(gateway, body, token, { accept: APOLLO_ONLY });
  const before = await shortPathCount(gateway);
  const short = await post(gateway, body, token);
  const took = (await shortPathCount(gateway)) - before;
  const apollo = await post(gateway, body, token, { accept: APOLLO_ONLY });
  return { first, short, apollo, took };
}

interface Tenant {
  session: SessionFragment;
  companyId: string;
  positions: string[];
}

/** An organisation with three positions, enrolled 0, 1 and 3 times. */
async function tenant(): Promise<Tenant> {
  const session = await newOrganisation();
  const orgId = session.organisation.id;
  const companyId = randomUUID();
  const person = randomUUID();
  const positions = [randomUUID(), randomUUID(), randomUUID()];
  await withClient(ownerClient(), async (c) => {
    await c.query('INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, $3)', [
      orgId,
      companyId,
      `Known ${orgId.slice(0, 8)}`,
    ]);
    await c.query(
      'INSERT INTO crm.people (organisation_id, id, first_name, last_name) VALUES ($1, $2, $3, $4)',
      [orgId, person, 'Kim', 'Plan'],
    );
    for (const [i, position] of positions.entries()) {
      await c.query(
        'INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email) VALUES ($1, $2, $3, $4, $5)',
        [orgId, position, companyId, person, `kim${i}-${orgId.slice(0, 8)}@known.fr`],
      );
      for (let n = 0; n < i * i - i + 1 && i > 0; n++) {
        const campaign = randomUUID();
        await c.query(
          `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
           VALUES ($1, $2, $3, 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
          [orgId, campaign, `Known ${i}-${n}`],
        );
        await c.query(
          `INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id, status)
           VALUES ($1, $2, $3, $4, $5)`,
          [orgId, randomUUID(), campaign, position, n % 2 ? 'PAUSED' : 'ACTIVE'],
        );
      }
    }
  });
  return { session, companyId, positions };
}

describe('the gateway short path for known query texts', () => {
  let gateway: RunningGateway;
  let a: Tenant;
  let b: Tenant;
  beforeAll(async () => {
    gateway = await gatewayWith({});
    [a, b] = await Promise.all([tenant(), tenant()]);
  });

  it('answers the positions page, with enrollments from another subgraph, exactly as Apollo does', async () => {
    const { first, short, apollo, took } = await bothWays(gateway, { query: PAGE }, a.session.accessToken);
    expect(took).toBe(1);
    expect(short).toEqual(apollo);
    expect(first).toEqual(apollo);
    const edges = JSON.parse(short.text).data.positions.edges as {
      node: { id: string; enrollments: unknown[]; person: { fullName: string } };
    }[];
    expect(edges.map((e) => e.node.id).sort()).toEqual([...a.positions].sort());
    expect(edges.map((e) => e.node.enrollments.length).sort()).toEqual([0, 1, 3]);
    expect(edges[0]!.node.person.fullName).toBe('Kim Plan');
  });

  it('keeps aliases, __typename and the order asked, and single-subgraph and variable queries', async () => {
    for (const [body, token] of [
      [{ query: ALIASED }, a.session.accessToken],
      [{ query: ME }, a.session.accessToken],
      [{ query: COMPANY, variables: { id: a.companyId } }, a.session.accessToken],
      [{ query: PAGE_SIZE, variables: { n: 2 } }, b.session.accessToken],
    ] as const) {
      const { short, apollo, took } = await bothWays(gateway, body, token);
      expect(took, body.query).toBe(1);
      expect(short, body.query).toEqual(apollo);
      expect(short.status).toBe(200);
      expect(JSON.parse(short.text).errors).toBeUndefined();
    }
  });

  it('gives each caller its own organisation, with many callers of one text in flight at once', async () => {
    await post(gateway, { query: PAGE }, b.session.accessToken);
    const before = await shortPathCount(gateway);
    const callers = [a, b, a, b, b, a, a, b];
    const answers = await Promise.all(
      callers.flatMap((t) =>
        Array.from({ length: 5 }, async () => ({
          tenant: t,
          answer: await post(gateway, { query: PAGE }, t.session.accessToken),
        })),
      ),
    );
    expect((await shortPathCount(gateway)) - before).toBe(answers.length);
    for (const { tenant: t, answer } of answers) {
      const ids = (JSON.parse(answer.text).data.positions.edges as { node: { id: string } }[]).map(
        (e) => e.node.id,
      );
      expect(ids.sort()).toEqual([...t.positions].sort());
    }
  });

  it("answers null for another organisation's company, as Apollo does", async () => {
    const body = { query: COMPANY, variables: { id: b.companyId } };
    const { short, apollo, took } = await bothWays(gateway, body, a.session.accessToken);
    expect(took).toBe(1);
    expect(short).toEqual(apollo);
    expect(JSON.parse(short.text)).toEqual({ data: { company: null } });
  });

  it('hands errors back to Apollo, which words them as before', async () => {
    const viewer = await addMember(a.session.accessToken, 'VIEWER');
    // taught by an owner, refused to a viewer
    await post(gateway, { query: KEYS }, a.session.accessToken);
    const before = await shortPathCount(gateway);
    const sent = await sentCount(gateway);
    const refused = await post(gateway, { query: KEYS }, viewer.accessToken);
    expect((await shortPathCount(gateway)) - before).toBe(0);
    // Apollo words the error from the answer already read: iam was asked once
    expect((await sentCount(gateway)) - sent).toBe(1);
    const strip = (answer: Answer) => ({
      ...answer,
      text: JSON.stringify(JSON.parse(answer.text), (k, v) => (k === 'requestId' ? undefined : v)),
    });
    expect(strip(refused)).toEqual(
      strip(await post(gateway, { query: KEYS }, viewer.accessToken, { accept: APOLLO_ONLY })),
    );
    expect(JSON.parse(refused.text).errors[0].extensions.code).toBe('FORBIDDEN');

    // variables that do not coerce, a cost past the limit with these variables, a bad token
    for (const [body, token] of [
      [{ query: PAGE_SIZE, variables: { n: 'twenty' } }, a.session.accessToken],
      [{ query: PAGE_SIZE, variables: { n: 10_000_000 } }, a.session.accessToken],
      [{ query: PAGE }, 'not-a-token'],
    ] as const) {
      const start = await shortPathCount(gateway);
      const short = await post(gateway, body, token);
      expect((await shortPathCount(gateway)) - start, body.query).toBe(0);
      const apollo = await post(gateway, body, token, { accept: APOLLO_ONLY });
      expect(strip(short), body.query).toEqual(strip(apollo));
      expect(short.status, body.query).toBeGreaterThanOrEqual(400);
    }
  });

  it('counts a request once against the rate limits, also when it is handed back to Apollo', async () => {
    const limited = await gatewayWith({ RATE_LIMITS: 'read=4/60' });
    const org = await tenant();
    const viewer = await addMember(org.session.accessToken, 'VIEWER');
    // teaches both texts (2 reads)
    expect((await post(limited, { query: KEYS }, org.session.accessToken)).status).toBe(200);
    expect((await post(limited, { query: ME }, org.session.accessToken)).status).toBe(200);
    // a hand-back (refused to a viewer) and a short-path answer: 2 more reads, 4 in all
    const before = await shortPathCount(limited);
    const refused = JSON.parse((await post(limited, { query: KEYS }, viewer.accessToken)).text);
    expect(refused.errors[0].extensions.code).toBe('FORBIDDEN');
    expect((await post(limited, { query: ME }, viewer.accessToken)).status).toBe(200);
    expect((await shortPathCount(limited)) - before).toBe(1);
    // the fifth is refused
    const fifth = await post(limited, { query: ME }, org.session.accessToken);
    expect(fifth.status).toBe(429);
    expect(JSON.parse(fifth.text).errors[0].extensions.code).toBe('RATE_LIMITED');
  });
});
