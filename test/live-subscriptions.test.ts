// Live campaign subscriptions over graphql-ws on the gateway's /graphql, fed from RabbitMQ: who may
// connect, what each organisation hears, and payload fields resolved through the federated graph.
import { randomUUID } from 'node:crypto';
import { type Client, createClient } from 'graphql-ws';
import { decodeJwt } from 'jose';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningGateway, startGateway } from '../gateway/gateway.ts';
import { loadOrCreateKeys } from '../lib/auth/keys.ts';
import { createTokenService } from '../lib/auth/tokens.ts';
import { type Bus, createBus, eventRoutingKey } from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { ownerClient } from './helpers/db.ts';
import { type CampaignSeed, seedDraftCampaign } from './helpers/drafts.ts';
import { type SentSeed, seedSent } from './helpers/inbound-mail.ts';
import { addMember } from './helpers/mail.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const silent = { warn() {}, error() {} };

let bus: Bus;
let gateway: RunningGateway;
let wsUrl: string;
let db: pg.Client;
const clients: Client[] = [];

interface Org {
  token: string;
  organisationId: string;
  seed: CampaignSeed;
  sent: SentSeed;
}
let a: Org;
let b: Org;

async function organisationWithCampaign(): Promise<Org> {
  const session = await newOrganisation();
  const organisationId = session.organisation.id;
  const seed = await seedDraftCampaign(db, {
    organisationId,
    steps: [{ subject: 'Vos fournils', body: 'Bonjour' }],
    people: [{ firstName: 'Léa', companyName: 'Boulangerie Léa' }],
  });
  const sent = await seedSent(db, seed, 0);
  return { token: session.accessToken, organisationId, seed, sent };
}

beforeAll(async () => {
  db = ownerClient();
  await db.connect();
  bus = await createBus({ amqpUrl: AMQP_URL, prefix: `live-${randomUUID().slice(0, 8)}.`, logger: silent });
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'fatal',
    DATABASE_URL: inject('databaseUrl'),
    DATA_DIR: inject('dataDir'),
    AUTH_CACHE_SECONDS: '1',
  });
  gateway = await startGateway(
    { ...config, subgraphUrls: inject('subgraphUrls') as any },
    {
      port: 0,
      host: '127.0.0.1',
      bus,
      live: { statsIntervalMs: 1000, maxSubscriptionsPerSocket: 3, recheckMs: 300 },
    },
  );
  wsUrl = `ws://127.0.0.1:${gateway.port}/graphql`;
  [a, b] = await Promise.all([organisationWithCampaign(), organisationWithCampaign()]);
});

// every test starts with no subscriber left from the one before
afterEach(async () => {
  for (const client of clients.splice(0)) await client.dispose();
  await waitFor(() => gateway.live.hub.subscriberCount === 0);
});

afterAll(async () => {
  await gateway?.stop();
  await bus?.close();
  await db?.end();
});

function client(authorization: string): Client {
  const c = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization },
    retryAttempts: 0,
    lazy: true,
  });
  clients.push(c);
  return c;
}

/** Collects a subscription's results; `next(n)` waits for the n-th. */
function subscribe(c: Client, query: string, variables: Record<string, unknown>) {
  const results: any[] = [];
  const errors: any[] = [];
  let wake = () => {};
  const stop = c.subscribe(
    { query, variables },
    {
      next: (r) => {
        results.push(r);
        wake();
      },
      error: (e) => {
        errors.push(e);
        wake();
      },
      complete: () => {},
    },
  );
  return {
    results,
    errors,
    stop,
    async until(check: () => boolean, withinMs = 5000) {
      const deadline = Date.now() + withinMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify({ results, errors })}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

/** Opens a raw graphql-ws socket, sends connection_init, and reports how it ended. */
function connectRaw(payload: unknown): Promise<{ acked: boolean; code?: number; socket: WebSocket }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve({ acked: true, socket });
    });
    socket.on('close', (code) => resolve({ acked: false, code, socket }));
    socket.on('error', reject);
  });
}

function publish(campaignId: string, name: string, event: { organisationId: string; [id: string]: string }) {
  return bus.publishEvent(eventRoutingKey(campaignId, name), {
    type: name,
    at: new Date().toISOString(),
    ...event,
  });
}

const ACTIVITY = `subscription Activity($id: ID!) {
  campaignActivity(campaignId: $id) {
    kind
    at
    campaign { id name }
    message { subject opens }
    enrollment { position { email company { name } } }
  }
}`;

describe('graphql-ws authentication', () => {
  it('closes with 4401 without credentials or with a bad token, and acknowledges a valid one', async () => {
    expect((await connectRaw({})).code).toBe(4401);
    expect((await connectRaw({ authorization: 'Bearer not-a-token' })).code).toBe(4401);
    const good = await connectRaw({ authorization: `Bearer ${a.token}` });
    expect(good.acked).toBe(true);
    good.socket.close();
    // as Apollo Sandbox sends it: its headers, named as typed
    const sandbox = await connectRaw({ Authorization: `Bearer ${a.token}` });
    expect(sandbox.acked).toBe(true);
    sandbox.socket.close();
    expect((await connectRaw({ Authorization: 'Bearer not-a-token' })).code).toBe(4401);
  });

  it('closes with 4403 for an API key without the READ scope', async () => {
    const created = await ok<any, any>(
      'mutation { createApiKey(name: "ingest only", scopes: [INGEST]) { secret } }',
      {},
      { token: a.token },
    );
    expect((await connectRaw({ authorization: `Bearer ${created.createApiKey.secret}` })).code).toBe(4403);
  });

  it('closes with 4401 when the access token expires, so the client comes back with a fresh one', async () => {
    const keys = await loadOrCreateKeys({ dataDir: inject('dataDir') });
    const shortLived = await createTokenService({ ...keys, ttlSeconds: 2 });
    const claims = decodeJwt(a.token) as any;
    const { token } = await shortLived.sign({
      sub: claims.sub,
      email: claims.email,
      organisation_id: claims.organisation_id,
      role: claims.role,
      sg: claims.sg,
    });
    const started = Date.now();
    const { acked, socket } = await connectRaw({ authorization: `Bearer ${token}` });
    expect(acked).toBe(true);
    const code = await new Promise<number>((resolve) => socket.on('close', resolve));
    expect(code).toBe(4401);
    expect(Date.now() - started).toBeLessThan(3500);
  });

  it('closes with 4401 once the membership is removed', async () => {
    const member = await addMember(a.token, 'VIEWER');
    const { acked, socket } = await connectRaw({ authorization: `Bearer ${member.accessToken}` });
    expect(acked).toBe(true);
    const closed = new Promise<number>((resolve) => socket.on('close', resolve));
    await ok<any, any>(
      'mutation($id: ID!) { removeMember(userId: $id) { status } }',
      { id: member.user.id },
      {
        token: a.token,
      },
    );
    expect(await closed).toBe(4401);
  });

  it('closes every socket of an API key once it is revoked, and only those', async () => {
    const created = await ok<any, any>(
      'mutation { createApiKey(name: "dashboards", scopes: [READ]) { apiKey { id } secret } }',
      {},
      { token: a.token },
    );
    const withKey = await Promise.all(
      [1, 2, 3].map(() => connectRaw({ authorization: `Bearer ${created.createApiKey.secret}` })),
    );
    const withToken = await connectRaw({ authorization: `Bearer ${a.token}` });
    expect([...withKey, withToken].every((s) => s.acked)).toBe(true);
    const closed = withKey.map(({ socket }) => new Promise<number>((resolve) => socket.on('close', resolve)));
    await ok<any, any>(
      'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
      { id: created.createApiKey.apiKey.id },
      { token: a.token },
    );
    expect(await Promise.all(closed)).toEqual([4401, 4401, 4401]);
    // the owner's own socket stays open through the next checks
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(withToken.socket.readyState).toBe(WebSocket.OPEN);
    withToken.socket.close();
  });
});

describe('campaignActivity', () => {
  it('resolves payload fields through the graph and keeps each organisation to its own events', async () => {
    const ownA = subscribe(client(`Bearer ${a.token}`), ACTIVITY, { id: a.seed.campaignId });
    const ownB = subscribe(client(`Bearer ${b.token}`), ACTIVITY, { id: b.seed.campaignId });
    // each organisation tries the other's campaign: refused, nothing subscribed
    const crossA = subscribe(client(`Bearer ${a.token}`), ACTIVITY, { id: b.seed.campaignId });
    const crossB = subscribe(client(`Bearer ${b.token}`), ACTIVITY, { id: a.seed.campaignId });
    await crossA.until(() => crossA.errors.length > 0);
    await crossB.until(() => crossB.errors.length > 0);
    expect(crossA.errors[0][0].extensions.code).toBe('NOT_FOUND');
    expect(crossB.errors[0][0].extensions.code).toBe('NOT_FOUND');
    await waitFor(() => gateway.live.hub.subscriberCount === 2);

    // B's event on B's campaign, and a forged one claiming A's campaign under B's organisation
    await publish(b.seed.campaignId, 'SENT', {
      organisationId: b.organisationId,
      enrollmentId: b.sent.enrollmentId,
      messageId: b.sent.messageId,
    });
    await publish(a.seed.campaignId, 'SENT', {
      organisationId: b.organisationId,
      enrollmentId: b.sent.enrollmentId,
      messageId: b.sent.messageId,
    });
    await publish(a.seed.campaignId, 'SENT', {
      organisationId: a.organisationId,
      enrollmentId: a.sent.enrollmentId,
      messageId: a.sent.messageId,
    });
    await ownA.until(() => ownA.results.length >= 1);
    await ownB.until(() => ownB.results.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(ownA.results).toHaveLength(1);
    expect(ownB.results).toHaveLength(1);
    const payload = ownA.results[0];
    expect(payload.errors).toBeUndefined();
    expect(payload.data.campaignActivity).toEqual({
      kind: 'SENT',
      at: expect.any(String),
      campaign: { id: a.seed.campaignId, name: 'Spring' },
      message: { subject: 'Vos fournils', opens: 0 },
      enrollment: { position: { email: a.sent.email, company: { name: 'Boulangerie Léa' } } },
    });
    expect(ownB.results[0].data.campaignActivity.enrollment.position.email).toBe(b.sent.email);
    ownA.stop();
    ownB.stop();
  });

  it('keeps aliases and fragments, and gives null message for an enrolment change', async () => {
    const query = `subscription S($id: ID!) {
      live: campaignActivity(campaignId: $id) { what: kind ...Who __typename }
    }
    fragment Who on CampaignActivity { m: message { subject } enrollment { ...E } }
    fragment E on Enrollment { status position { email } }`;
    const sub = subscribe(client(`Bearer ${a.token}`), query, { id: a.seed.campaignId });
    await waitFor(() => gateway.live.hub.subscriberCount === 1);
    await publish(a.seed.campaignId, 'ENROLLMENT_CHANGED', {
      organisationId: a.organisationId,
      enrollmentId: a.sent.enrollmentId,
    });
    await sub.until(() => sub.results.length >= 1);
    expect(sub.results[0].data.live).toEqual({
      what: 'ENROLLMENT_CHANGED',
      __typename: 'CampaignActivity',
      m: null,
      enrollment: { status: expect.any(String), position: { email: a.sent.email } },
    });
    sub.stop();
  });

  it('shares one resolution per event between subscribers with the same selection and identity', async () => {
    const replied = () =>
      publish(a.seed.campaignId, 'REPLIED', {
        organisationId: a.organisationId,
        enrollmentId: a.sent.enrollmentId,
        messageId: a.sent.messageId,
      });
    // the subgraph calls of one resolution, with one subscriber
    const first = subscribe(client(`Bearer ${a.token}`), ACTIVITY, { id: a.seed.campaignId });
    await waitFor(() => gateway.live.hub.subscriberCount === 1);
    let before = await subgraphRequests();
    await replied();
    await first.until(() => first.results.length >= 1);
    const single = (await subgraphRequests()) - before;
    expect(single).toBeGreaterThan(0);

    // four more with the same selection, another socket each: still one resolution for all five
    const subs = [
      first,
      ...Array.from({ length: 4 }, () =>
        subscribe(client(`Bearer ${a.token}`), ACTIVITY, { id: a.seed.campaignId }),
      ),
    ];
    await waitFor(() => gateway.live.hub.subscriberCount === 5);
    expect(gateway.live.hub.groupCount).toBe(1);
    before = await subgraphRequests();
    await replied();
    for (const s of subs)
      await s.until(() => s.results.filter((r) => r.data).length >= (s === first ? 2 : 1));
    expect((await subgraphRequests()) - before).toBe(single);
    for (const s of subs) expect(s.results.at(-1).data.campaignActivity.kind).toBe('REPLIED');
  });

  it('resolves the events of one moment on several campaigns together, each to its own subscribers', async () => {
    const other = await seedDraftCampaign(db, {
      organisationId: a.organisationId,
      steps: [{ subject: 'Vos fournils', body: 'Bonjour' }],
      people: [{ firstName: 'Marc', companyName: 'Fournil Marc' }],
    });
    const otherSent = await seedSent(db, other, 0);
    const first = subscribe(client(`Bearer ${a.token}`), ACTIVITY, { id: a.seed.campaignId });
    const second = subscribe(client(`Bearer ${a.token}`), ACTIVITY, { id: other.campaignId });
    await waitFor(() => gateway.live.hub.subscriberCount === 2);
    await Promise.all([
      publish(a.seed.campaignId, 'SENT', {
        organisationId: a.organisationId,
        enrollmentId: a.sent.enrollmentId,
        messageId: a.sent.messageId,
      }),
      publish(other.campaignId, 'SENT', {
        organisationId: a.organisationId,
        enrollmentId: otherSent.enrollmentId,
        messageId: otherSent.messageId,
      }),
    ]);
    await first.until(() => first.results.length >= 1);
    await second.until(() => second.results.length >= 1);
    expect(first.results[0].errors).toBeUndefined();
    expect(second.results[0].errors).toBeUndefined();
    expect(first.results[0].data.campaignActivity.enrollment.position.company.name).toBe('Boulangerie Léa');
    expect(second.results[0].data.campaignActivity.enrollment.position).toEqual({
      email: otherSent.email,
      company: { name: 'Fournil Marc' },
    });
  });

  it('refuses other operations, several live fields, a bad id and too many subscriptions on one socket', async () => {
    const c = client(`Bearer ${a.token}`);
    const query = subscribe(c, '{ campaigns { id } }', {});
    const two = subscribe(
      c,
      'subscription($id: ID!) { x: campaignActivity(campaignId: $id) { kind } y: campaignStats(campaignId: $id) { sent } }',
      { id: a.seed.campaignId },
    );
    const badId = subscribe(c, 'subscription { campaignActivity(campaignId: "nope") { kind } }', {});
    for (const s of [query, two, badId]) await s.until(() => s.errors.length > 0);
    expect(query.errors[0][0].extensions.code).toBe('BAD_USER_INPUT');
    // a subscription has one root field (a GraphQL rule)
    expect(two.errors[0][0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(badId.errors[0][0].extensions.code).toBe('BAD_USER_INPUT');

    const many = Array.from({ length: 4 }, () =>
      subscribe(c, 'subscription($id: ID!) { campaignActivity(campaignId: $id) { kind } }', {
        id: a.seed.campaignId,
      }),
    );
    await many[3]!.until(() => many.some((s) => s.errors.length > 0));
    const refused = many.filter((s) => s.errors.length > 0);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.errors[0][0].extensions.code).toBe('RATE_LIMITED');
    for (const s of many) s.stop();
  });
});

describe('campaignStats', () => {
  it('sends the totals on subscribe, then at most one push a second however many changes', async () => {
    const sub = subscribe(
      client(`Bearer ${a.token}`),
      'subscription($id: ID!) { campaignStats(campaignId: $id) { sent replied openRate } }',
      { id: a.seed.campaignId },
    );
    await sub.until(() => sub.results.length >= 1);
    expect(sub.results[0].errors).toBeUndefined();
    expect(sub.results[0].data.campaignStats).toEqual({
      sent: expect.any(Number),
      replied: expect.any(Number),
      openRate: expect.any(Number),
    });
    const started = Date.now();
    for (let i = 0; i < 10; i++) {
      await publish(a.seed.campaignId, 'STATS_CHANGED', {
        organisationId: a.organisationId,
        campaignId: a.seed.campaignId,
      });
    }
    await sub.until(() => sub.results.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1500 - (Date.now() - started))));
    // ten changes within a second: one push at once, at most one more for the rest
    expect(sub.results.length).toBeGreaterThanOrEqual(2);
    expect(sub.results.length).toBeLessThanOrEqual(3);
    sub.stop();
  });
});

async function waitFor(check: () => boolean) {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('the gateway did not get there in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function subgraphRequests(): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${gateway.port}/metrics`);
  const text = await res.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('gateway_subgraph_requests_total{')) total += Number(line.split(' ').pop());
  }
  return total;
}
