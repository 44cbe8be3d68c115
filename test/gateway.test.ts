// The gateway's guard rails: health, metrics, Sandbox, CSRF, body size, depth and cost limits, rate limits.
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { CampaignDocument, MyOrganisationDocument } from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { gatewayWith } from './helpers/gateway.ts';

describe('operations endpoints', () => {
  it('serves /health and /metrics on the gateway and on every subgraph', async () => {
    const health = await (await fetch(`${inject('gatewayOrigin')}/health`)).json();
    expect(health).toEqual({
      status: 'ok',
      database: 'ok',
      iam: 'ok',
      crm: 'ok',
      outreach: 'ok',
      tracking: 'ok',
    });
    await gql(MyOrganisationDocument, {});
    const metrics = await (await fetch(`${inject('gatewayOrigin')}/metrics`)).text();
    expect(metrics).toContain('http_request_duration_seconds_bucket');
    expect(metrics).toMatch(/graphql_operations_total\{[^}]*operation="MyOrganisation"/);
    for (const url of Object.values(inject('subgraphUrls'))) {
      const origin = new URL(url).origin;
      expect(await (await fetch(`${origin}/health`)).json()).toEqual({ status: 'ok', database: 'ok' });
      expect(await (await fetch(`${origin}/metrics`)).text()).toContain('db_queries_total');
    }
  });

  it('shows Apollo Sandbox to a browser and echoes the request id', async () => {
    const page = await fetch(inject('gatewayUrl'), { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/sandbox/i);
    const res = await fetch(inject('gatewayUrl'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-12345' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(res.headers.get('x-request-id')).toBe('req-12345');
  });
});

describe('request ids', () => {
  it('carries the caller request id to the subgraph and back on its errors', async () => {
    const res = await fetch(inject('gatewayUrl'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-12345' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    const body = (await res.json()) as any;
    // raised by the IAM subgraph, with the id the gateway forwarded to it
    expect(body.errors[0].extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      requestId: 'trace-12345',
      serviceName: 'iam',
    });
  });

  it('gives every error an id, the one echoed in x-request-id when the caller sent none', async () => {
    const res = await fetch(inject('gatewayUrl'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ nope }' }),
    });
    const body = (await res.json()) as any;
    expect(body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors[0].extensions.requestId).toBe(res.headers.get('x-request-id'));
  });
});

describe('request guards', () => {
  it('blocks simple cross-site requests (CSRF prevention)', async () => {
    const get = await fetch(`${inject('gatewayUrl')}?query=${encodeURIComponent('{ __typename }')}`);
    expect(get.status).toBe(400);
    const textPlain = await fetch(inject('gatewayUrl'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"query":"{ __typename }"}',
    });
    expect(textPlain.status).toBe(400);
  });

  it('refuses a body over the limit with 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await fetch(inject('gatewayUrl'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(16_500_000) } }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses queries that are too deep or too costly, with QUERY_TOO_COMPLEX', async () => {
    const org = await newOrganisation();
    let nested = 'id';
    for (let i = 0; i < 7; i++) nested = `positions { company { ${nested} } }`;
    const deep = await gql(
      `query { company(id: "${randomUUID()}") { ${nested} } }`,
      {},
      { token: org.accessToken },
    );
    expect(errorCode(deep)).toBe('QUERY_TOO_COMPLEX');
    expect(deep.errors?.[0].message).toMatch(/depth \d+ exceeds the limit of 12/);

    const costly = await gql(
      'query { positions(first: 500) { edges { node { company { positions { company { positions { id } } } } } } } }',
      {},
      { token: org.accessToken },
    );
    expect(errorCode(costly)).toBe('QUERY_TOO_COMPLEX');
    expect(costly.errors?.[0].message).toMatch(/cost \d+ exceeds the limit/);

    const fine = await gql(
      'query { positions(first: 10) { totalCount edges { node { id } } } }',
      {},
      { token: org.accessToken },
    );
    expect(fine.errors).toBeUndefined();
  });
});

describe('rate limits', () => {
  it('limits per organisation and operation, answering 429 RATE_LIMITED with a retry-after', async () => {
    const gateway = await gatewayWith({ RATE_LIMITS: 'read=3/60' });
    const a = await newOrganisation();
    const b = await newOrganisation();
    for (let i = 0; i < 3; i++)
      await ok(MyOrganisationDocument, {}, { token: a.accessToken, url: gateway.url });
    const limited = await gql(MyOrganisationDocument, {}, { token: a.accessToken, url: gateway.url });
    expect(limited.status).toBe(429);
    expect(errorCode(limited)).toBe('RATE_LIMITED');
    expect(limited.errors?.[0].extensions?.retryAfter).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // another organisation has its own budget
    await ok(MyOrganisationDocument, {}, { token: b.accessToken, url: gateway.url });
  });

  it('shares the budget across gateway instances through Redis', async () => {
    const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
    const one = await gatewayWith({ RATE_LIMITS: 'read=4/60', REDIS_URL: redisUrl });
    const two = await gatewayWith({ RATE_LIMITS: 'read=4/60', REDIS_URL: redisUrl });
    const org = await newOrganisation();
    for (const g of [one, two, one, two])
      await ok(MyOrganisationDocument, {}, { token: org.accessToken, url: g.url });
    expect(errorCode(await gql(MyOrganisationDocument, {}, { token: org.accessToken, url: one.url }))).toBe(
      'RATE_LIMITED',
    );
    expect(errorCode(await gql(MyOrganisationDocument, {}, { token: org.accessToken, url: two.url }))).toBe(
      'RATE_LIMITED',
    );
  });
});

describe('entity references are batched', () => {
  it('resolves 40 enrollments positions across subgraphs with a handful of queries, not one per row', async () => {
    const org = await newOrganisation();
    const orgId = org.organisation.id;
    const campaignId = randomUUID();
    await withClient(ownerClient(), async (c) => {
      const company = randomUUID();
      await c.query('INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, $3)', [
        orgId,
        company,
        'Batch SA',
      ]);
      await c.query(
        `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
        VALUES ($1, $2, 'Batch', 'Europe/Paris', '{1,2,3,4,5}', 9, 18)`,
        [orgId, campaignId],
      );
      for (let i = 0; i < 40; i++) {
        const person = randomUUID();
        const position = randomUUID();
        await c.query('INSERT INTO crm.people (organisation_id, id, first_name) VALUES ($1, $2, $3)', [
          orgId,
          person,
          `P${i}`,
        ]);
        await c.query(
          'INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email) VALUES ($1, $2, $3, $4, $5)',
          [orgId, position, company, person, `p${i}@batch.fr`],
        );
        await c.query(
          'INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id) VALUES ($1, $2, $3, $4)',
          [orgId, randomUUID(), campaignId, position],
        );
      }
    });
    // Counted by the CRM subgraph for this request id only, whatever other tests run meanwhile.
    const requestId = `batch-${randomUUID()}`;
    const { campaign } = await ok(
      CampaignDocument,
      { id: campaignId },
      { token: org.accessToken, headers: { 'x-request-id': requestId } },
    );
    const crmOrigin = new URL(inject('subgraphUrls').crm).origin;
    const counted = (await (await fetch(`${crmOrigin}/debug/queries/${requestId}`)).json()) as {
      queries: number | null;
    };
    expect(campaign?.enrollments).toHaveLength(40);
    expect(campaign?.enrollments.every((e) => e.position.company.name === 'Batch SA')).toBe(true);
    // one positions query (company and person joined in) and COMMIT: nowhere near one per row
    expect(counted.queries).toBeGreaterThanOrEqual(1);
    expect(counted.queries).toBeLessThanOrEqual(3);
  });
});
