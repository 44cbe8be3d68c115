// Identical subgraph queries in flight at the same time are sent once, and only ever shared by requests
// of exactly the same caller: never across users, roles, organisations, API keys or tokens.
import { describe, expect, it } from 'vitest';
import { dedupeKeyOf } from '../gateway/subgraph-source.ts';
import type { Identity } from '../lib/auth/identity.ts';
import { ApiKeysDocument, CreateApiKeyDocument } from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok } from './helpers/client.ts';
import { gatewayWith } from './helpers/gateway.ts';
import { addMember } from './helpers/mail.ts';

const ME = 'query Me { me { email } }';
const KEYS = 'query Keys { apiKeys { name } }';
const POSITIONS = 'query Positions { positions(first: 1) { edges { node { id } } } }';

/** The gateway's subgraph request counter, by outcome (sent / shared), summed over subgraphs. */
async function subgraphRequests(origin: string): Promise<{ sent: number; shared: number }> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const sum = (outcome: string) =>
    [
      ...text.matchAll(
        new RegExp(`^gateway_subgraph_requests_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`, 'gm'),
      ),
    ]
      .map((m) => Number(m[1]))
      .reduce((a, b) => a + b, 0);
  return { sent: sum('sent'), shared: sum('shared') };
}

describe('in-flight deduplication of subgraph requests', () => {
  it('gives each user, role and organisation its own answer to the same concurrent queries, sharing only within one caller', async () => {
    const gateway = await gatewayWith({});
    const origin = `http://127.0.0.1:${gateway.port}`;
    const orgA = await newOrganisation();
    const viewer = await addMember(orgA.accessToken, 'VIEWER');
    const orgB = await newOrganisation();
    await ok(CreateApiKeyDocument, { name: 'key of A', scopes: ['READ'] }, { token: orgA.accessToken });
    await ok(CreateApiKeyDocument, { name: 'key of B', scopes: ['READ'] }, { token: orgB.accessToken });
    const callers = [
      { name: 'owner of A', token: orgA.accessToken, email: orgA.user.email, keys: ['key of A'] },
      { name: 'viewer of A', token: viewer.accessToken, email: viewer.user.email, keys: undefined },
      { name: 'owner of B', token: orgB.accessToken, email: orgB.user.email, keys: ['key of B'] },
    ];
    const before = await subgraphRequests(origin);

    const ROUNDS = 25;
    const calls = [];
    for (let i = 0; i < ROUNDS; i++) {
      for (const caller of callers) {
        const options = { token: caller.token, url: gateway.url };
        calls.push(
          gql<{ me: { email: string } }, never>(ME, undefined, options).then((res) => ({
            caller,
            query: ME,
            res,
          })),
        );
        calls.push(
          gql<{ apiKeys: { name: string }[] }, never>(KEYS, undefined, options).then((res) => ({
            caller,
            query: KEYS,
            res,
          })),
        );
      }
    }
    const answers = await Promise.all(calls);

    for (const { caller, query, res } of answers) {
      if (query === ME) {
        expect(res.errors, caller.name).toBeUndefined();
        expect((res.data as { me: { email: string } }).me.email, caller.name).toBe(caller.email);
      } else if (caller.keys) {
        expect(res.errors, caller.name).toBeUndefined();
        expect(
          (res.data as { apiKeys: { name: string }[] }).apiKeys.map((k) => k.name),
          caller.name,
        ).toEqual(caller.keys);
      } else {
        // a viewer may not list keys, however many owners ask for them at the same moment
        expect(errorCode(res), caller.name).toBe('FORBIDDEN');
      }
    }
    const after = await subgraphRequests(origin);
    const total = callers.length * ROUNDS * 2;
    // every request needed one IAM call: some of each caller's went out once and were shared
    expect(after.sent - before.sent + after.shared - before.shared).toBe(total);
    expect(after.shared - before.shared).toBeGreaterThan(0);
  });

  it('shares nothing between API keys of one organisation with different scopes', async () => {
    const gateway = await gatewayWith({});
    const org = await newOrganisation();
    const reader = await ok(
      CreateApiKeyDocument,
      { name: 'reader', scopes: ['READ'] },
      { token: org.accessToken },
    );
    const ingester = await ok(
      CreateApiKeyDocument,
      { name: 'ingest', scopes: ['INGEST'] },
      { token: org.accessToken },
    );
    const calls = [];
    for (let i = 0; i < 20; i++) {
      for (const [name, secret] of [
        ['reader', reader.createApiKey.secret],
        ['ingester', ingester.createApiKey.secret],
      ] as const) {
        calls.push(
          gql(POSITIONS, undefined, { url: gateway.url, headers: { 'x-api-key': secret } }).then((res) => ({
            name,
            res,
          })),
        );
      }
    }
    for (const { name, res } of await Promise.all(calls)) {
      if (name === 'reader') {
        expect(res.errors).toBeUndefined();
        expect(res.data).toEqual({ positions: { edges: [] } });
      } else {
        expect(errorCode(res)).toBe('FORBIDDEN');
      }
    }
  });

  it('never shares a mutation: identical concurrent ones each run', async () => {
    const gateway = await gatewayWith({});
    const origin = `http://127.0.0.1:${gateway.port}`;
    const org = await newOrganisation();
    const before = await subgraphRequests(origin);
    const created = await Promise.all(
      Array.from({ length: 10 }, () =>
        ok(
          CreateApiKeyDocument,
          { name: 'same name', scopes: ['READ'] },
          { token: org.accessToken, url: gateway.url },
        ),
      ),
    );
    const ids = new Set(created.map((c) => c.createApiKey.apiKey.id));
    expect(ids.size).toBe(10);
    const { apiKeys } = await ok(ApiKeysDocument, {}, { token: org.accessToken, url: gateway.url });
    expect(apiKeys.filter((k) => k.name === 'same name')).toHaveLength(10);
    const after = await subgraphRequests(origin);
    expect(after.shared - before.shared).toBe(0);
  });

  it('the requests of two callers match only when the whole identity and the credentials match', () => {
    const user: Identity = {
      kind: 'user',
      userId: '5b0a4bb8-3f53-4c1c-9d55-0c7f2e8e6a01',
      email: 'camille@example.fr',
      organisationId: '0f7a2a52-3c39-4a1b-8e39-1f1d2d3e4f50',
      role: 'OWNER',
    };
    const token = { authorization: 'Bearer token-1', 'x-request-id': 'a' };
    const key = dedupeKeyOf(user, token);
    // the request id is not part of who is asking
    expect(dedupeKeyOf(user, { ...token, 'x-request-id': 'b' })).toBe(key);
    expect(dedupeKeyOf({ ...user, role: 'VIEWER' }, token)).not.toBe(key);
    expect(dedupeKeyOf({ ...user, userId: '5b0a4bb8-3f53-4c1c-9d55-0c7f2e8e6a02' }, token)).not.toBe(key);
    expect(dedupeKeyOf({ ...user, organisationId: '0f7a2a52-3c39-4a1b-8e39-1f1d2d3e4f51' }, token)).not.toBe(
      key,
    );
    // the same user with another token (one since revoked, say) never rides on this one's request
    expect(dedupeKeyOf(user, { ...token, authorization: 'Bearer token-2' })).not.toBe(key);
    expect(dedupeKeyOf(undefined, token)).toBeUndefined();

    const apiKey: Identity = {
      kind: 'apiKey',
      apiKeyId: '6c1b5cc9-4064-4d2d-8e66-1d803f9f7b02',
      organisationId: user.organisationId,
      scopes: ['READ', 'WRITE'],
      createdBy: user.userId,
    };
    const secret = { 'x-api-key': 'pfk_secret' };
    const keyed = dedupeKeyOf(apiKey, secret);
    expect(dedupeKeyOf({ ...apiKey, scopes: ['WRITE', 'READ'] }, secret)).toBe(keyed);
    expect(dedupeKeyOf({ ...apiKey, scopes: ['READ'] }, secret)).not.toBe(keyed);
    expect(dedupeKeyOf({ ...apiKey, apiKeyId: '6c1b5cc9-4064-4d2d-8e66-1d803f9f7b03' }, secret)).not.toBe(
      keyed,
    );
    expect(dedupeKeyOf(apiKey, { 'x-api-key': 'pfk_other' })).not.toBe(keyed);
  });
});
