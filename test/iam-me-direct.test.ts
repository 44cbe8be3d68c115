// iam answers `me` in one statement (subgraphs/iam/resolvers/me.direct.ts) exactly as execution does
// (Apollo Server, reached with a media type only it negotiates); callers execution refuses, and fields it
// prints otherwise, are executed as usual.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CreateApiKeyDocument, RemoveMemberDocument, type SessionFragment } from './generated/graphql.ts';
import { newOrganisation, ok } from './helpers/client.ts';
import { addMember } from './helpers/mail.ts';

const APOLLO_ONLY = 'application/json;q=0.9, text/plain;q=0.1';

async function post(body: unknown, headers: Record<string, string>) {
  const res = await fetch(inject('subgraphUrls').iam, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function directCount(): Promise<number> {
  const text = await (await fetch(`${new URL(inject('subgraphUrls').iam).origin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('graphql_direct_answers_total'));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

async function bothWays(query: string, headers: Record<string, string>) {
  const before = await directCount();
  const requestId = `me-${randomUUID()}`;
  const direct = await post({ query }, { ...headers, 'x-request-id': requestId });
  const took = (await directCount()) - before;
  const apollo = await post({ query }, { ...headers, 'x-request-id': requestId, accept: APOLLO_ONLY });
  return { direct, apollo, took };
}

describe('me answered in one statement', () => {
  let owner: SessionFragment;
  beforeAll(async () => {
    owner = await newOrganisation();
  });

  it('answers the caller its own user, with the fields asked in their order, as execution does', async () => {
    for (const query of [
      '{ me { email } }',
      'query Me { me { __typename lastName id who: email firstName } }',
    ]) {
      const { direct, apollo, took } = await bothWays(query, {
        authorization: `Bearer ${owner.accessToken}`,
      });
      expect(took, query).toBe(1);
      expect(direct, query).toEqual(apollo);
      expect(direct.body.data.me).toMatchObject(query.includes('who') ? { who: owner.user.email } : {});
    }
    const member = await addMember(owner.accessToken, 'MEMBER');
    const { direct, took } = await bothWays('{ me { id email } }', {
      authorization: `Bearer ${member.accessToken}`,
    });
    expect(took).toBe(1);
    expect(direct.body.data.me).toEqual({ id: member.user.id, email: member.user.email });
  });

  it('executes as usual a removed member, an API key and a timestamp field', async () => {
    const member = await addMember(owner.accessToken, 'MEMBER');
    const { createApiKey } = await ok(
      CreateApiKeyDocument,
      { name: 'me key', scopes: ['READ'] },
      { token: owner.accessToken },
    );
    const cases: [string, Record<string, string>][] = [
      ['{ me { email createdAt } }', { authorization: `Bearer ${owner.accessToken}` }],
      ['{ me { email } }', { 'x-api-key': createApiKey.secret }],
    ];
    for (const [query, headers] of cases) {
      const { direct, apollo, took } = await bothWays(query, headers);
      expect(took, query).toBe(0);
      expect(direct, query).toEqual(apollo);
    }
    await ok(RemoveMemberDocument, { userId: member.user.id }, { token: owner.accessToken });
    // the membership cache may still hold the active state for a few seconds: ask the row itself
    const before = await directCount();
    const removed = await post(
      { query: '{ me { email } }' },
      { authorization: `Bearer ${member.accessToken}`, 'x-request-id': 'me-removed' },
    );
    expect(removed.body.errors?.[0]?.extensions?.code).toMatch(/UNAUTHENTICATED|NOT_FOUND/);
    expect(removed.body.data?.me ?? null).toBeNull();
    expect((await directCount()) - before).toBe(0);
  });
});
