// Tampered, forged and expired access tokens never get through: UNAUTHENTICATED, HTTP 401.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { generateKeyPair, importPKCS8, SignJWT } from 'jose';
import { describe, expect, inject, it } from 'vitest';
import { MeDocument, MyOrganisationDocument } from './generated/graphql.ts';
import { errorCode, gql, newOrganisation } from './helpers/client.ts';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function decode(token: string) {
  const [header, payload, signature] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()),
    signature,
  };
}

async function realKey() {
  return importPKCS8(
    await readFile(path.join(inject('dataDir'), 'keys', 'jwt-private.pem'), 'utf8'),
    'EdDSA',
  );
}

async function sign(claims: Record<string, unknown>, key: Awaited<ReturnType<typeof realKey>>, exp: number) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer('prospectflow')
    .setAudience('prospectflow')
    .setIssuedAt(exp - 900)
    .setExpirationTime(exp)
    .sign(key);
}

describe('access token verification', () => {
  it('rejects alg none, a foreign key, an expired token, edited claims and another organisation id', async () => {
    const a = await newOrganisation();
    const b = await newOrganisation();
    const { payload, signature } = decode(a.accessToken);
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: payload.sub,
      email: payload.email,
      organisation_id: payload.organisation_id,
      role: payload.role,
      sg: payload.sg,
    };

    const algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
    const { privateKey: foreign } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const wrongKey = await sign(claims, foreign, now + 600);
    const expired = await sign(claims, await realKey(), now - 10);
    const editedRole = `${a.accessToken.split('.')[0]}.${b64({ ...payload, role: 'OWNER', sub: b.user.id })}.${signature}`;
    const otherOrg = `${a.accessToken.split('.')[0]}.${b64({ ...payload, organisation_id: b.organisation.id })}.${signature}`;
    const hs256 = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}.${signature}`;

    for (const token of [algNone, wrongKey, expired, editedRole, otherOrg, hs256, 'not.a.jwt', 'garbage']) {
      const res = await gql(MyOrganisationDocument, {}, { token });
      expect(errorCode(res), token.slice(0, 40)).toBe('UNAUTHENTICATED');
      expect(res.status).toBe(401);
      expect(res.data ?? null).toBeNull();
    }
    // the untouched token still works, and a correctly signed token for a valid claim set too
    const control = await sign(claims, await realKey(), now + 600);
    expect((await gql(MeDocument, {}, { token: control })).data?.me.id).toBe(a.user.id);
  });

  it('rejects a malformed Authorization header and answers UNAUTHENTICATED to anonymous reads', async () => {
    const res = await gql(MeDocument, {}, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(errorCode(res)).toBe('UNAUTHENTICATED');
    const anonymous = await gql(MeDocument, {});
    expect(errorCode(anonymous)).toBe('UNAUTHENTICATED');
  });

  it('subgraphs verify tokens themselves: a forged identity header sent straight to a subgraph gets nothing', async () => {
    const a = await newOrganisation();
    const iam = inject('subgraphUrls').iam;
    const forged = await gql(
      MyOrganisationDocument,
      {},
      {
        url: iam,
        headers: { 'x-organisation-id': a.organisation.id, 'x-user-id': a.user.id },
      },
    );
    expect(errorCode(forged)).toBe('UNAUTHENTICATED');
    const tampered = await gql(
      MyOrganisationDocument,
      {},
      { url: iam, token: `${a.accessToken.slice(0, -3)}abc` },
    );
    expect(errorCode(tampered)).toBe('UNAUTHENTICATED');
    expect(tampered.status).toBe(401);
    const direct = await gql(MyOrganisationDocument, {}, { url: iam, token: a.accessToken });
    expect(direct.data?.organisation.id).toBe(a.organisation.id);
  });
});
