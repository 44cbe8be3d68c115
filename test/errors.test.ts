// Every error a client can meet carries a code and the request id; production shows nothing it need not.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { type RunningGateway, startGateway } from '../gateway/gateway.ts';
import { gatewayRoutes } from '../gateway/routes.ts';
import { loadConfig } from '../lib/config.ts';
import { type RunningSubgraph, startSubgraph } from '../lib/graphql/subgraph.ts';
import { crmSubgraph } from '../subgraphs/crm/index.ts';
import { CreateApiKeyDocument } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';

const started: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of started.reverse()) await s.stop();
});

interface Answer {
  status: number;
  requestId: string | null;
  errors: { message: string; extensions: Record<string, any> }[];
}

async function call(url: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Answer> {
  const res = await fetch(url, init);
  const body = (await res.json()) as { errors?: Answer['errors'] };
  return { status: res.status, requestId: res.headers.get('x-request-id'), errors: body.errors ?? [] };
}

/** The same request twice: with the caller's x-request-id, then without one. */
async function expectRequestIds(
  send: (headers: Record<string, string>) => Promise<Answer>,
  code: string,
  status: number,
): Promise<Answer> {
  const sent = `trace-${randomUUID()}`;
  const given = await send({ 'x-request-id': sent });
  expect(given.status).toBe(status);
  expect(given.errors[0]?.extensions).toMatchObject({ code, requestId: sent });
  expect(given.requestId).toBe(sent);
  const generated = await send({});
  expect(generated.status).toBe(status);
  expect(generated.errors[0]?.extensions.code).toBe(code);
  expect(generated.errors[0]?.extensions.requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(generated.errors[0]?.extensions.requestId).toBe(generated.requestId);
  return given;
}

const postJson = (url: string, body: string, headers: Record<string, string>) =>
  call(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

async function keyFor(scopes: ('INGEST' | 'READ' | 'WRITE')[]) {
  const org = await newOrganisation();
  const { createApiKey } = await ok(CreateApiKeyDocument, { name: 'k', scopes }, { token: org.accessToken });
  return { org, key: createApiKey.secret };
}

async function jwtKeys(): Promise<{ JWT_PRIVATE_KEY: string; JWT_PUBLIC_KEY: string }> {
  const dir = path.join(inject('dataDir'), 'keys');
  return {
    JWT_PRIVATE_KEY: await readFile(path.join(dir, 'jwt-private.pem'), 'utf8'),
    JWT_PUBLIC_KEY: await readFile(path.join(dir, 'jwt-public.pem'), 'utf8'),
  };
}

describe('errors raised by the gateway itself carry the request id', () => {
  const graphql = () => inject('gatewayUrl');
  const query = JSON.stringify({ query: '{ organisation { id } }' });

  it('401 for a bad access token', async () => {
    const answer = await expectRequestIds(
      (h) => postJson(graphql(), query, { authorization: 'Bearer not.a.token', ...h }),
      'UNAUTHENTICATED',
      401,
    );
    expect(answer.errors[0].message).toMatch(/access token/i);
  });

  it('400 for a body that is not JSON', async () => {
    await expectRequestIds((h) => postJson(graphql(), '{"query": ', h), 'BAD_USER_INPUT', 400);
  });

  it('400 for a request blocked as cross-site (CSRF prevention)', async () => {
    await expectRequestIds(
      (h) => call(`${graphql()}?query=${encodeURIComponent('{ __typename }')}`, { headers: h }),
      'BAD_REQUEST',
      400,
    );
  });

  it('404 for a path that does not exist', async () => {
    await expectRequestIds(
      (h) => call(`${inject('gatewayOrigin')}/nowhere`, { headers: h }),
      'NOT_FOUND',
      404,
    );
  });

  it('webhook errors: no key, wrong method, a key without INGEST, a body that is not JSON', async () => {
    const webhook = `${inject('gatewayOrigin')}/webhooks/pharow`;
    await expectRequestIds((h) => postJson(webhook, '{"data":[]}', h), 'UNAUTHENTICATED', 401);
    await expectRequestIds((h) => call(webhook, { method: 'GET', headers: h }), 'METHOD_NOT_ALLOWED', 405);
    const reader = await keyFor(['READ']);
    await expectRequestIds(
      (h) => postJson(webhook, '{"data":[]}', { 'x-api-key': reader.key, ...h }),
      'FORBIDDEN',
      403,
    );
    const ingest = await keyFor(['INGEST']);
    // refused by the CRM service behind the gateway, with the id the gateway passed on
    await expectRequestIds(
      (h) => postJson(webhook, '{"data": [', { 'x-api-key': ingest.key, ...h }),
      'BAD_USER_INPUT',
      400,
    );
  });

  it('429 when a rate limit is exceeded, on GraphQL and on the webhook', async () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'fatal',
      DATABASE_URL: inject('databaseUrl'),
      DATA_DIR: inject('dataDir'),
      RATE_LIMITS: 'read=1/60,ingestPharow=1/60',
    });
    const gateway = await startGateway(
      { ...config, subgraphUrls: inject('subgraphUrls') as any },
      { port: 0, host: '127.0.0.1', routes: gatewayRoutes },
    );
    started.push(gateway);
    const { org, key } = await keyFor(['INGEST']);
    const bearer = { authorization: `Bearer ${org.accessToken}` };
    expect((await postJson(gateway.url, query, bearer)).errors).toEqual([]);
    await expectRequestIds((h) => postJson(gateway.url, query, { ...bearer, ...h }), 'RATE_LIMITED', 429);
    const webhook = `http://127.0.0.1:${gateway.port}/webhooks/pharow`;
    const first = await postJson(webhook, '{"data":[]}', { 'x-api-key': key });
    expect(first.status).toBe(200);
    await expectRequestIds(
      (h) => postJson(webhook, '{"data":[]}', { 'x-api-key': key, ...h }),
      'RATE_LIMITED',
      429,
    );
  });
});

describe('clear codes for bad input', () => {
  it('says "invalid API key" for a malformed API key, not "access token"', async () => {
    for (const key of ['pfk_nope_nope', 'pfk_', `pfk_${'0'.repeat(32)}_short`]) {
      const ways: Record<string, string>[] = [{ 'x-api-key': key }, { authorization: `Bearer ${key}` }];
      for (const headers of ways) {
        const answer = await postJson(inject('gatewayUrl'), '{"query":"{ organisation { id } }"}', headers);
        expect(answer.status).toBe(401);
        expect(answer.errors[0].extensions.code).toBe('UNAUTHENTICATED');
        expect(answer.errors[0].message).toMatch(/invalid API key/i);
        expect(answer.errors[0].message).not.toMatch(/access token/i);
      }
    }
  });

  it('answers BAD_USER_INPUT to a NUL byte in a search', async () => {
    const org = await newOrganisation();
    const answer = await postJson(
      inject('gatewayUrl'),
      JSON.stringify({
        query: 'query ($s: String) { positions(filter: { search: $s }) { totalCount } }',
        variables: { s: 'abc\u0000def' },
      }),
      { authorization: `Bearer ${org.accessToken}` },
    );
    expect(answer.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(answer.errors[0].message).toMatch(/search/);
  });
});

describe('in production', () => {
  const METRICS_TOKEN = `metrics-${randomUUID()}`;
  let gateway: RunningGateway;
  let crm: RunningSubgraph;

  async function production(extra: Record<string, string> = {}) {
    return loadConfig({
      NODE_ENV: 'production',
      LOG_LEVEL: 'fatal',
      DATABASE_URL: inject('databaseUrl'),
      DATA_DIR: inject('dataDir'),
      TRACKING_SECRET: 'production-tracking-secret-0123456789abcdef',
      ...(await jwtKeys()),
      ...extra,
    });
  }

  it('starts a production gateway and CRM service', async () => {
    const config = await production({ METRICS_TOKEN });
    crm = await startSubgraph(crmSubgraph, config, { port: 0, host: '127.0.0.1' });
    started.push(crm);
    gateway = await startGateway(
      { ...config, subgraphUrls: { ...(inject('subgraphUrls') as any), crm: crm.url } },
      { port: 0, host: '127.0.0.1', routes: gatewayRoutes },
    );
    started.push(gateway);
  });

  it('suggests no field names ("Did you mean") for a misspelt field', async () => {
    const answer = await postJson(gateway.url, JSON.stringify({ query: '{ organisatio { id } }' }), {});
    expect(answer.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(answer.errors[0].message).toMatch(/organisatio/);
    expect(JSON.stringify(answer.errors)).not.toMatch(/did you mean/i);
    // nor on a subgraph asked directly, nor for a misspelt enum value in variables
    const direct = await postJson(crm.url, JSON.stringify({ query: '{ positons { totalCount } }' }), {});
    expect(JSON.stringify(direct.errors)).not.toMatch(/did you mean/i);
    const org = await newOrganisation();
    const enumValue = await postJson(
      gateway.url,
      JSON.stringify({
        query: 'query ($s: [EmailStatus!]) { positions(filter: { emailStatus: $s }) { totalCount } }',
        variables: { s: ['VALD'] },
      }),
      { authorization: `Bearer ${org.accessToken}` },
    );
    expect(enumValue.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(enumValue.errors)).not.toMatch(/did you mean/i);
  });

  it('names no internal service in errors', async () => {
    // raised inside the IAM and CRM services, relayed by the gateway
    const answer = await postJson(
      gateway.url,
      JSON.stringify({ query: '{ me { id } positions { totalCount } }' }),
      { 'x-request-id': 'prod-trace-1' },
    );
    expect(answer.errors.length).toBeGreaterThan(0);
    for (const error of answer.errors) {
      expect(error.extensions.code).toBe('UNAUTHENTICATED');
      expect(error.extensions.requestId).toBe('prod-trace-1');
      expect(error.extensions).not.toHaveProperty('serviceName');
    }
  });

  it('serves no landing page to a browser', async () => {
    const res = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    const text = await res.text();
    expect(res.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(text).not.toMatch(/<html|<!doctype|sandbox|embeddable/i);
  });

  it('serves /metrics only with the metrics token, on the gateway and on the services', async () => {
    const origins = [`http://127.0.0.1:${gateway.port}`, new URL(crm.url).origin];
    for (const origin of origins) {
      const anonymous = await fetch(`${origin}/metrics`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.text()).not.toMatch(/http_request_duration_seconds/);
      const wrong = await fetch(`${origin}/metrics`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const allowed = await fetch(`${origin}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toContain('http_request_duration_seconds');
    }
  });

  it('turns /metrics off when no metrics token is configured', async () => {
    const config = await production();
    const bare = await startGateway(
      { ...config, subgraphUrls: inject('subgraphUrls') as any },
      { port: 0, host: '127.0.0.1' },
    );
    started.push(bare);
    const res = await fetch(`http://127.0.0.1:${bare.port}/metrics`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toMatch(/http_request_duration_seconds/);
  });

  it('refuses a metrics token that is too short to be a secret', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
  });
});
