// The membership check behind every access token: current role, removal, ended sessions, and a cache that
// keeps it to one look-up per user and lifetime rather than one per request.
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type SqlRunner } from './authenticate.ts';
import { createTokenService, hashSecret, newApiKeySecret, type TokenService } from './tokens.ts';

const USER = '6f1c1d6e-6f52-4c1b-9d5e-3f4a0b1c2d3e';
const ORG = '0b8f3a4e-2c1d-4e5f-8a9b-7c6d5e4f3a2b';
const KEY = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

let tokens: TokenService;
let token: string;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  tokens = await createTokenService({
    privateKey: await exportPKCS8(privateKey),
    publicKey: await exportSPKI(publicKey),
    ttlSeconds: 900,
  });
  token = (await tokens.sign({ sub: USER, email: 'a@b.fr', organisation_id: ORG, role: 'ADMIN', sg: 0 }))
    .token;
});

/** A stand-in database: one membership whose state the test changes, and a count of look-ups. */
function fakeDatabase(state: { role: string; status: string; session_generation: number }) {
  const calls: string[] = [];
  const sql: SqlRunner = async (text) => {
    calls.push(text);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return [{ ...state }];
  };
  return { sql, calls, state };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('access tokens against the membership', () => {
  it('looks a membership up once per cache lifetime, not once per request, and then sees the change', async () => {
    const db = fakeDatabase({ role: 'ADMIN', status: 'ACTIVE', session_generation: 0 });
    const auth = createAuthenticator(tokens, db.sql, { cacheSeconds: 0.3 });
    const burst = await Promise.all(Array.from({ length: 200 }, () => auth.authenticate(bearer(token))));
    expect(burst.every((id) => id?.kind === 'user' && id.role === 'ADMIN')).toBe(true);
    expect(db.calls.length).toBe(1);

    db.state.role = 'VIEWER';
    await sleep(350);
    expect(await auth.authenticate(bearer(token))).toMatchObject({ role: 'VIEWER' });
    for (let i = 0; i < 50; i++) await auth.authenticate(bearer(token));
    expect(db.calls.length).toBe(2);
  });

  it('without a cache, reads the membership on every request', async () => {
    const db = fakeDatabase({ role: 'MEMBER', status: 'ACTIVE', session_generation: 0 });
    const auth = createAuthenticator(tokens, db.sql, { cacheSeconds: 0 });
    for (let i = 0; i < 10; i++) await auth.authenticate(bearer(token));
    expect(db.calls.length).toBe(10);
  });

  it('refuses a token whose membership is gone or not active, or whose sessions were ended after it', async () => {
    for (const state of [
      { role: 'ADMIN', status: 'DISABLED', session_generation: 0 },
      { role: 'ADMIN', status: 'INVITED', session_generation: 0 },
      { role: 'ADMIN', status: 'ACTIVE', session_generation: 1 },
    ]) {
      const auth = createAuthenticator(tokens, fakeDatabase(state).sql, { cacheSeconds: 0 });
      await expect(auth.authenticate(bearer(token)), JSON.stringify(state)).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
      });
    }
    const gone = createAuthenticator(tokens, async () => [], { cacheSeconds: 0 });
    await expect(gone.authenticate(bearer(token))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const endedBefore = fakeDatabase({
      role: 'MEMBER',
      status: 'ACTIVE',
      session_generation: 0,
    });
    const auth = createAuthenticator(tokens, endedBefore.sql, { cacheSeconds: 0 });
    expect(await auth.authenticate(bearer(token))).toMatchObject({ role: 'MEMBER' });
  });
});

describe('API keys against their creator', () => {
  const secret = newApiKeySecret(KEY);
  const keyRow = async (creator: { creator_role: string | null; creator_status: string | null }) => {
    return [
      {
        organisation_id: ORG,
        secret_hash: hashSecret(secret),
        scopes: ['INGEST', 'READ', 'WRITE'],
        revoked_at: null,
        created_by: USER,
        ...creator,
      },
    ];
  };

  it("caps a key's scopes by its creator's role now, and refuses it once the creator is gone", async () => {
    const cases = [
      [{ creator_role: 'ADMIN', creator_status: 'ACTIVE' }, ['INGEST', 'READ', 'WRITE']],
      [{ creator_role: 'MEMBER', creator_status: 'ACTIVE' }, ['INGEST', 'READ', 'WRITE']],
      [{ creator_role: 'VIEWER', creator_status: 'ACTIVE' }, ['READ']],
    ] as const;
    for (const [creator, scopes] of cases) {
      const row = await keyRow(creator);
      const auth = createAuthenticator(tokens, async (text) => (text.includes('touch') ? [] : row));
      expect(await auth.authenticate({ 'x-api-key': secret }), creator.creator_role).toMatchObject({
        kind: 'apiKey',
        scopes,
      });
    }
    for (const creator of [
      { creator_role: 'ADMIN', creator_status: 'DISABLED' },
      { creator_role: null, creator_status: null },
    ]) {
      const row = await keyRow(creator);
      const auth = createAuthenticator(tokens, async (text) => (text.includes('touch') ? [] : row));
      await expect(auth.authenticate({ 'x-api-key': secret })).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
      });
    }
  });
});

describe('verified access tokens', () => {
  /** The token service, counting signature checks. */
  function counting(service: TokenService) {
    const counted = { verifications: 0 };
    const wrapped: TokenService = {
      sign: (claims) => service.sign(claims),
      verify: (t) => {
        counted.verifications++;
        return service.verify(t);
      },
    };
    return { wrapped, counted };
  }

  it("checks a token's signature once, not on every request", async () => {
    const { wrapped, counted } = counting(tokens);
    const db = fakeDatabase({ role: 'ADMIN', status: 'ACTIVE', session_generation: 0 });
    const auth = createAuthenticator(wrapped, db.sql, { cacheSeconds: 5 });
    for (let i = 0; i < 50; i++) {
      expect(await auth.authenticate(bearer(token))).toMatchObject({ kind: 'user', role: 'ADMIN' });
    }
    expect(counted.verifications).toBe(1);
    // a forged variant of a known token is a different key: it is verified, and refused
    const forged = `${token.slice(0, -4)}AAAA`;
    await expect(auth.authenticate(bearer(forged))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(counted.verifications).toBe(2);
  });

  it('refuses a known token from its expiry on', async () => {
    const { privateKey, publicKey } = await exportKeys();
    const service = await createTokenService({ privateKey, publicKey, ttlSeconds: 1 });
    const { wrapped, counted } = counting(service);
    const { token: brief, expiresAt } = await service.sign({
      sub: USER,
      email: 'a@b.fr',
      organisation_id: ORG,
      role: 'MEMBER',
      sg: 0,
    });
    const auth = createAuthenticator(
      wrapped,
      fakeDatabase({ role: 'MEMBER', status: 'ACTIVE', session_generation: 0 }).sql,
      {
        cacheSeconds: 60,
      },
    );
    expect(await auth.authenticate(bearer(brief))).toMatchObject({ role: 'MEMBER' });
    await sleep(expiresAt.getTime() - Date.now() + 20);
    await expect(auth.authenticate(bearer(brief))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(counted.verifications).toBe(2);
  });

  it('still sees a removal or ended sessions within the membership cache time', async () => {
    const db = fakeDatabase({ role: 'ADMIN', status: 'ACTIVE', session_generation: 0 });
    const auth = createAuthenticator(tokens, db.sql, { cacheSeconds: 0.2 });
    expect(await auth.authenticate(bearer(token))).toMatchObject({ role: 'ADMIN' });
    db.state.status = 'DISABLED';
    await sleep(250);
    await expect(auth.authenticate(bearer(token))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    db.state.status = 'ACTIVE';
    db.state.session_generation = 1;
    await sleep(250);
    await expect(auth.authenticate(bearer(token))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('keeps at most the configured number of tokens', async () => {
    const { wrapped, counted } = counting(tokens);
    const db = fakeDatabase({ role: 'ADMIN', status: 'ACTIVE', session_generation: 0 });
    const auth = createAuthenticator(wrapped, db.sql, { cacheSeconds: 5, maxVerifiedTokens: 2 });
    const three = await Promise.all(
      [1, 2, 3].map(
        async () =>
          (await tokens.sign({ sub: USER, email: 'a@b.fr', organisation_id: ORG, role: 'ADMIN', sg: 0 }))
            .token,
      ),
    );
    for (const t of three) await auth.authenticate(bearer(t));
    // the first was dropped to keep two: it is verified again
    await auth.authenticate(bearer(three[0]!));
    expect(counted.verifications).toBe(4);
    await auth.authenticate(bearer(three[2]!));
    expect(counted.verifications).toBe(4);
  });
});

async function exportKeys(): Promise<{ privateKey: string; publicKey: string }> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return { privateKey: await exportPKCS8(privateKey), publicKey: await exportSPKI(publicKey) };
}
