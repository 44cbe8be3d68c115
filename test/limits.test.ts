// Limits through the gateway: rate buckets counted on the root fields that run (fragments, aliases),
// logins per email and client IP, trusted proxies, the Redis prefix, cost with variables, response size.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { MyOrganisationDocument, type PharowItemInput } from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok, PASSWORD, uniqueEmail } from './helpers/client.ts';
import { gatewayWith } from './helpers/gateway.ts';
import { pharowItem, validSiren } from './helpers/pharow.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const INGEST_RESULT = 'received positions { created }';

async function positionCount(token: string): Promise<number> {
  const data = await ok<{ positions: { totalCount: number } }, object>(
    '{ positions(first: 1) { totalCount } }',
    {},
    { token },
  );
  return data.positions.totalCount;
}

describe('rate buckets count the root fields that run', () => {
  it('counts ingestPharow inside an inline fragment or a named fragment against its own bucket', async () => {
    const gateway = await gatewayWith({ RATE_LIMITS: 'ingestPharow=2/60' });
    const org = await newOrganisation();
    const options = { token: org.accessToken, url: gateway.url };
    const input = { version: 'V2', data: [pharowItem()] };
    const inline = `mutation ($input: PharowIngestInput!) { ... on Mutation { ingestPharow(input: $input) { ${INGEST_RESULT} } } }`;
    const named = `mutation ($input: PharowIngestInput!) { ...Ingest }
      fragment Ingest on Mutation { ...Inner } fragment Inner on Mutation { ingestPharow(input: $input) { ${INGEST_RESULT} } }`;
    expect((await gql(inline, { input }, options)).errors).toBeUndefined();
    expect((await gql(named, { input }, options)).errors).toBeUndefined();
    for (const document of [inline, named]) {
      const limited = await gql(document, { input }, options);
      expect(limited.status).toBe(429);
      expect(errorCode(limited)).toBe('RATE_LIMITED');
    }
  });

  it('refuses 20 aliases of ingestPharow in one request and stores nothing', async () => {
    const org = await newOrganisation();
    const data: PharowItemInput[] = [pharowItem(), pharowItem()];
    const aliases = Array.from(
      { length: 20 },
      (_, i) => `a${i}: ingestPharow(input: $input) { ${INGEST_RESULT} }`,
    ).join('\n');
    const res = await gql(
      `mutation ($input: PharowIngestInput!) { ${aliases} }`,
      { input: { version: 'V2', data } },
      { token: org.accessToken },
    );
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0].message).toMatch(/ingestPharow may appear only once per request/);
    expect(await positionCount(org.accessToken)).toBe(0);
  });

  it('refuses two logins or two sign-ups in one request', async () => {
    const owner = await newOrganisation();
    const twoLogins = await gql(
      `mutation { a: login(email: "${owner.user.email}", password: "${PASSWORD}") { accessToken }
                  ... on Mutation { b: login(email: "${owner.user.email}", password: "wrong") { accessToken } } }`,
    );
    expect(errorCode(twoLogins)).toBe('BAD_USER_INPUT');
    expect(twoLogins.data ?? null).toBeNull();
    const email = uniqueEmail('twice');
    const signUp = (alias: string) =>
      `${alias}: signUp(input: { organisationName: "Org ${alias}", email: "${email}", password: "${PASSWORD}" }) { accessToken }`;
    const twoSignUps = await gql(`mutation { ${signUp('a')} ${signUp('b')} }`);
    expect(errorCode(twoSignUps)).toBe('BAD_USER_INPUT');
    const login = await gql(`mutation { login(email: "${email}", password: "${PASSWORD}") { accessToken } }`);
    expect(errorCode(login)).toBe('UNAUTHENTICATED');
  });
});

describe('logins count per email and per client IP', () => {
  const login = (email: string, url: string, headers: Record<string, string> = {}) =>
    gql(
      'mutation ($email: String!) { ...Login } fragment Login on Mutation { login(email: $email, password: "wrong password") { accessToken } }',
      { email },
      { url, headers },
    );

  it('counts per email whatever token is attached', async () => {
    const gateway = await gatewayWith({ RATE_LIMITS: 'login=3/60' });
    const victim = uniqueEmail('victim');
    // a token of a fresh organisation each time buys no fresh budget
    for (let i = 0; i < 3; i++) {
      const attacker = await newOrganisation();
      const res = await login(victim.toUpperCase(), gateway.url, {
        authorization: `Bearer ${attacker.accessToken}`,
      });
      expect(errorCode(res)).toBe('UNAUTHENTICATED');
    }
    const attacker = await newOrganisation();
    const limited = await login(victim, gateway.url, { authorization: `Bearer ${attacker.accessToken}` });
    expect(limited.status).toBe(429);
    expect(errorCode(limited)).toBe('RATE_LIMITED');
  });

  it('behind a trusted proxy, counts per email across addresses and per address across emails', async () => {
    const gateway = await gatewayWith({ RATE_LIMITS: 'login=3/60', TRUST_PROXY: '127.0.0.1/32,::1' });
    const victim = uniqueEmail('victim');
    for (let i = 1; i <= 3; i++) {
      const res = await login(victim, gateway.url, { 'x-forwarded-for': `198.51.100.${i}` });
      expect(errorCode(res)).toBe('UNAUTHENTICATED');
    }
    expect(errorCode(await login(victim, gateway.url, { 'x-forwarded-for': '198.51.100.4' }))).toBe(
      'RATE_LIMITED',
    );
    // one address trying many emails
    for (let i = 0; i < 3; i++) {
      expect(errorCode(await login(uniqueEmail(), gateway.url, { 'x-forwarded-for': '203.0.113.9' }))).toBe(
        'UNAUTHENTICATED',
      );
    }
    expect(errorCode(await login(uniqueEmail(), gateway.url, { 'x-forwarded-for': '203.0.113.9' }))).toBe(
      'RATE_LIMITED',
    );
    // another address and another email are untouched
    expect(errorCode(await login(uniqueEmail(), gateway.url, { 'x-forwarded-for': '203.0.113.10' }))).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('ignores X-Forwarded-For when no proxy is trusted', async () => {
    const gateway = await gatewayWith({ RATE_LIMITS: 'login=3/60' });
    for (let i = 1; i <= 3; i++) {
      const res = await login(uniqueEmail(), gateway.url, { 'x-forwarded-for': `192.0.2.${i}` });
      expect(errorCode(res)).toBe('UNAUTHENTICATED');
    }
    expect(errorCode(await login(uniqueEmail(), gateway.url, { 'x-forwarded-for': '192.0.2.99' }))).toBe(
      'RATE_LIMITED',
    );
  });
});

describe('Pharow webhook', () => {
  it('counts refused keys per client IP, taken from the trusted proxy hop', async () => {
    const gateway = await gatewayWith({ RATE_LIMITS: 'write=2/60', TRUST_PROXY: '1' });
    const post = (forwardedFor: string) =>
      fetch(`http://127.0.0.1:${gateway.port}/webhooks/pharow`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': 'pfk_guess_guess',
          'x-forwarded-for': forwardedFor,
        },
        body: JSON.stringify({ data: [] }),
      });
    expect((await post('spoofed, 198.51.100.20')).status).toBe(401);
    expect((await post('other, 198.51.100.20')).status).toBe(401);
    const limited = await post('198.51.100.20');
    expect(limited.status).toBe(429);
    expect(((await limited.json()) as any).errors[0].extensions.code).toBe('RATE_LIMITED');
    expect((await post('198.51.100.20, 198.51.100.21')).status).toBe(401);
  });
});

describe('Redis keys', () => {
  it('carry the configured prefix', async () => {
    const prefix = `pf-test-${randomUUID().slice(0, 8)}:`;
    const gateway = await gatewayWith({ REDIS_URL, REDIS_KEY_PREFIX: prefix, RATE_LIMITS: 'read=5/60' });
    const org = await newOrganisation();
    await ok(MyOrganisationDocument, {}, { token: org.accessToken, url: gateway.url });
    const redis = new Redis(REDIS_URL);
    try {
      const keys = await redis.keys(`${prefix}*`);
      expect(keys).toEqual([`${prefix}ratelimit:org:${org.organisation.id}:read`]);
    } finally {
      await redis.quit();
    }
  });
});

describe('cost reflects what is returned', () => {
  /** An organisation with one company holding `count` positions. */
  async function companyWithPositions(count: number) {
    const org = await newOrganisation();
    const company = {
      pharowCompanyId: `ph-${randomUUID().slice(0, 8)}`,
      companySiren: validSiren(),
      companyName: `Grande Maison ${randomUUID().slice(0, 6)}`,
    };
    const data = Array.from({ length: count }, () => pharowItem({ company }));
    await ok(
      'mutation ($input: PharowIngestInput!) { ingestPharow(input: $input) { received } }',
      {
        input: { version: 'V2', data },
      },
      { token: org.accessToken },
    );
    const { positions } = await ok<{ positions: { edges: { node: { company: { id: string } } }[] } }, object>(
      '{ positions(first: 1) { edges { node { company { id } } } } }',
      {},
      { token: org.accessToken },
    );
    return { org, companyId: positions.edges[0].node.company.id };
  }

  it('refuses with QUERY_TOO_COMPLEX the query that returned 86 MB: a variable page of every position, each with the whole company twice', async () => {
    const { org } = await companyWithPositions(120);
    const huge = `query Huge($n: Int) {
      positions(first: $n) { edges { node { company { a: positions { ...P } b: positions { ...P } } } } }
    }
    fragment P on Position { id email jobTitle person { fullName } company { name } }`;
    const res = await gql(huge, { n: 120 }, { token: org.accessToken });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('QUERY_TOO_COMPLEX');
    expect(res.errors?.[0].message).toMatch(/cost \d+ exceeds the limit of 50000/);
    // the same shape on a small page is fine
    const small = await gql(huge, { n: 2 }, { token: org.accessToken });
    expect(small.errors).toBeUndefined();
  });

  it('pages Company.positions with first and after, at most 100 a page', async () => {
    const { org, companyId } = await companyWithPositions(130);
    const page = (first: number | null, after: string | null) =>
      gql<{ company: { positions: { id: string }[] } }, object>(
        'query ($id: ID!, $first: Int, $after: String) { company(id: $id) { positions(first: $first, after: $after) { id } } }',
        { id: companyId, first, after },
        { token: org.accessToken },
      );
    expect((await page(null, null)).data?.company.positions).toHaveLength(50);
    const first = (await page(100, null)).data!.company.positions;
    expect(first).toHaveLength(100);
    const rest = (await page(100, first.at(-1)!.id)).data!.company.positions;
    expect(rest).toHaveLength(30);
    expect(new Set([...first, ...rest].map((p) => p.id)).size).toBe(130);
    expect(errorCode(await page(101, null))).toBe('BAD_USER_INPUT');
    expect(errorCode(await page(10, 'not-a-cursor'))).toBe('BAD_USER_INPUT');
  });

  it('refuses a response over MAX_RESPONSE_BYTES with a clear error instead of sending it', async () => {
    const { org, companyId } = await companyWithPositions(100);
    const gateway = await gatewayWith({ MAX_RESPONSE_BYTES: '5000' });
    const query = `query ($id: ID!) { company(id: $id) { positions(first: 100) { id email jobTitle person { fullName } } } }`;
    const res = await gql(query, { id: companyId }, { token: org.accessToken, url: gateway.url });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('QUERY_TOO_COMPLEX');
    expect(res.errors?.[0].extensions?.maxResponseBytes).toBe(5000);
    expect(res.data ?? null).toBeNull();
    const fits = await gql<{ company: { positions: { id: string }[] } }, object>(
      `query ($id: ID!) { company(id: $id) { positions(first: 5) { id } } }`,
      { id: companyId },
      { token: org.accessToken, url: gateway.url },
    );
    expect(fits.data?.company.positions).toHaveLength(5);
  });
});
