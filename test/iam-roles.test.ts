// Role changes and removals take effect at once in IAM and within seconds everywhere; API keys are
// worth no more than their creator.
import { describe, expect, inject, it } from 'vitest';
import {
  AddSuppressionDocument,
  ApiKeysDocument,
  CreateApiKeyDocument,
  InviteMemberDocument,
  MeDocument,
  MyOrganisationDocument,
  RefreshSessionDocument,
  RemoveMemberDocument,
  RevokeApiKeyDocument,
  SuppressionsDocument,
  UpdateMemberRoleDocument,
} from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok, uniqueEmail } from './helpers/client.ts';
import { addMember } from './helpers/mail.ts';
import { CACHE_MS, eventually } from './helpers/wait.ts';

const suppress = (value: string) => ({ value, reason: 'MANUAL' as const });

describe('role changes take effect at once', () => {
  it('a demoted admin can no longer manage keys or invite, and soon writes nowhere; their keys only read', async () => {
    const org = await newOrganisation();
    const admin = await addMember(org.accessToken, 'ADMIN');
    const token = admin.accessToken;
    const { createApiKey } = await ok(
      CreateApiKeyDocument,
      { name: 'sync', scopes: ['READ', 'WRITE'] },
      { token },
    );
    const key = { headers: { 'x-api-key': createApiKey.secret } };
    // every service has now seen this admin's token and cached their membership
    await ok(AddSuppressionDocument, suppress('before@demotion.fr'), { token });
    await ok(AddSuppressionDocument, suppress('key-before@demotion.fr'), key);

    await ok(UpdateMemberRoleDocument, { userId: admin.user.id, role: 'VIEWER' }, { token: org.accessToken });

    // IAM writes read the role in the database: refused at once, with the very same token
    expect(errorCode(await gql(CreateApiKeyDocument, { name: 'more', scopes: ['READ'] }, { token }))).toBe(
      'FORBIDDEN',
    );
    expect(
      errorCode(await gql(InviteMemberDocument, { email: uniqueEmail(), role: 'VIEWER' }, { token })),
    ).toBe('FORBIDDEN');
    expect(errorCode(await gql(ApiKeysDocument, {}, { token }))).toBe('FORBIDDEN');
    expect(errorCode(await gql(RevokeApiKeyDocument, { id: createApiKey.apiKey.id }, { token }))).toBe(
      'FORBIDDEN',
    );
    // the key is capped by its creator's role now: it reads, it no longer writes
    expect(errorCode(await gql(AddSuppressionDocument, suppress('key-after@demotion.fr'), key))).toBe(
      'FORBIDDEN',
    );
    expect((await ok(SuppressionsDocument, {}, key)).suppressions.length).toBe(2);

    // elsewhere the new role applies within the cache's lifetime (writes may land until then); reads still work
    let attempt = 0;
    const waited = await eventually(async () => {
      const res = await gql(AddSuppressionDocument, suppress(`after-${++attempt}@demotion.fr`), { token });
      return errorCode(res) === 'FORBIDDEN';
    }, CACHE_MS);
    expect(waited).toBeLessThan(CACHE_MS);
    const values = (await ok(SuppressionsDocument, {}, { token })).suppressions.map((s) => s.value);
    expect(values).toEqual(expect.arrayContaining(['before@demotion.fr', 'key-before@demotion.fr']));
    expect(values).not.toContain(`after-${attempt}@demotion.fr`);
    // a refreshed session carries the new role too
    const { refreshSession } = await ok(RefreshSessionDocument, { refreshToken: admin.refreshToken });
    expect(
      errorCode(
        await gql(AddSuppressionDocument, suppress('refreshed@demotion.fr'), {
          token: refreshSession.accessToken,
        }),
      ),
    ).toBe('FORBIDDEN');
  });

  it('a removed member gets UNAUTHENTICATED on every subgraph, their sessions and keys end', async () => {
    const org = await newOrganisation();
    const admin = await addMember(org.accessToken, 'ADMIN');
    const { createApiKey } = await ok(
      CreateApiKeyDocument,
      { name: 'ingest', scopes: ['INGEST', 'READ'] },
      { token: admin.accessToken },
    );
    const subgraphs = Object.entries(inject('subgraphUrls'));
    for (const [name, url] of subgraphs) {
      const res = await gql('{ __typename }', {}, { token: admin.accessToken, url });
      expect(res.errors, name).toBeUndefined();
    }

    const { removeMember } = await ok(
      RemoveMemberDocument,
      { userId: admin.user.id },
      { token: org.accessToken },
    );
    expect(removeMember).toEqual({ role: 'ADMIN', status: 'DISABLED', user: { id: admin.user.id } });

    // a key or a refresh token is checked in the database on each use: refused at once
    const viaKey = await gql(SuppressionsDocument, {}, { headers: { 'x-api-key': createApiKey.secret } });
    expect(errorCode(viaKey)).toBe('UNAUTHENTICATED');
    expect(errorCode(await gql(RefreshSessionDocument, { refreshToken: admin.refreshToken }))).toBe(
      'UNAUTHENTICATED',
    );
    // an IAM write reads the membership in the database: refused at once
    expect(
      errorCode(
        await gql(
          InviteMemberDocument,
          { email: uniqueEmail(), role: 'VIEWER' },
          { token: admin.accessToken },
        ),
      ),
    ).toBe('UNAUTHENTICATED');
    // the access token stops everywhere within the cache's lifetime
    for (const [name, url] of [...subgraphs, ['gateway', inject('gatewayUrl')]]) {
      await eventually(async () => {
        const res = await gql('{ __typename }', {}, { token: admin.accessToken, url });
        return errorCode(res) === 'UNAUTHENTICATED' && res.status === 401;
      }, CACHE_MS).catch((error) => {
        throw new Error(`${name}: ${error.message}`);
      });
    }
    expect(errorCode(await gql(MeDocument, {}, { token: admin.accessToken }))).toBe('UNAUTHENTICATED');
    const { organisation } = await ok(MyOrganisationDocument, {}, { token: org.accessToken });
    expect(organisation.members.map((m) => m.user.id)).toEqual([org.user.id]);
  });

  it('only the owner removes an admin, and nobody removes the owner', async () => {
    const org = await newOrganisation();
    const admin = await addMember(org.accessToken, 'ADMIN');
    const other = await addMember(org.accessToken, 'ADMIN');
    expect(
      errorCode(await gql(RemoveMemberDocument, { userId: other.user.id }, { token: admin.accessToken })),
    ).toBe('FORBIDDEN');
    expect(
      errorCode(await gql(RemoveMemberDocument, { userId: org.user.id }, { token: admin.accessToken })),
    ).toBe('BAD_USER_INPUT');
    const member = await addMember(org.accessToken, 'MEMBER');
    await ok(RemoveMemberDocument, { userId: member.user.id }, { token: admin.accessToken });
    expect(
      errorCode(await gql(RemoveMemberDocument, { userId: member.user.id }, { token: admin.accessToken })),
    ).toBe('NOT_FOUND');
  });
});
