import { describe, expect, it } from 'vitest';
import {
  AcceptInvitationDocument,
  ApiKeysDocument,
  CreateApiKeyDocument,
  InviteMemberDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  MyOrganisationDocument,
  RefreshSessionDocument,
  RevokeApiKeyDocument,
  SignUpDocument,
  TransferOwnershipDocument,
  UpdateMemberRoleDocument,
} from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok, PASSWORD, uniqueEmail } from './helpers/client.ts';
import { addMember, INVITATION, waitForMail } from './helpers/mail.ts';

describe('sign-up and login', () => {
  it('signs up an organisation whose owner can read themselves and the organisation', async () => {
    const email = uniqueEmail('Owner').toUpperCase();
    const { signUp } = await ok(SignUpDocument, {
      input: { organisationName: '  Acme SAS ', email, password: PASSWORD, firstName: 'Léa' },
    });
    expect(signUp.user.email).toBe(email.toLowerCase());
    expect(signUp.organisation.name).toBe('Acme SAS');
    expect(new Date(signUp.expiresAt).getTime()).toBeGreaterThan(Date.now());
    const { me } = await ok(MeDocument, {}, { token: signUp.accessToken });
    expect(me).toEqual({ id: signUp.user.id, email: email.toLowerCase(), firstName: 'Léa', lastName: null });
    const { organisation } = await ok(MyOrganisationDocument, {}, { token: signUp.accessToken });
    expect(organisation.members).toEqual([
      {
        role: 'OWNER',
        status: 'ACTIVE',
        user: { id: signUp.user.id, email: email.toLowerCase(), firstName: 'Léa', lastName: null },
      },
    ]);
  });

  it('rejects bad sign-up input with BAD_USER_INPUT and a duplicate email with CONFLICT', async () => {
    const weak = await gql(SignUpDocument, {
      input: { organisationName: 'A', email: uniqueEmail(), password: 'short' },
    });
    expect(errorCode(weak)).toBe('BAD_USER_INPUT');
    const badEmail = await gql(SignUpDocument, {
      input: { organisationName: 'A', email: 'not-an-email', password: PASSWORD },
    });
    expect(errorCode(badEmail)).toBe('BAD_USER_INPUT');
    const org = await newOrganisation();
    const again = await gql(SignUpDocument, {
      input: { organisationName: 'B', email: org.user.email, password: PASSWORD },
    });
    expect(errorCode(again)).toBe('CONFLICT');
  });

  it('lets exactly one of several racing sign-ups with one email through; the others get CONFLICT', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all(
      [1, 2, 3].map((i) =>
        gql(SignUpDocument, { input: { organisationName: `Race ${i}`, email, password: PASSWORD } }),
      ),
    );
    expect(results.filter((r) => r.data?.signUp).length).toBe(1);
    expect(results.filter((r) => errorCode(r) === 'CONFLICT').length).toBe(2);
  });

  it('logs in with the right password and gives the same generic error for a wrong password or unknown email', async () => {
    const org = await newOrganisation();
    const { login } = await ok(LoginDocument, { email: org.user.email.toUpperCase(), password: PASSWORD });
    expect(login.organisation.id).toBe(org.organisation.id);
    const wrongPassword = await gql(LoginDocument, { email: org.user.email, password: 'wrong password!!' });
    const unknownEmail = await gql(LoginDocument, { email: uniqueEmail(), password: PASSWORD });
    expect(errorCode(wrongPassword)).toBe('UNAUTHENTICATED');
    expect(errorCode(unknownEmail)).toBe('UNAUTHENTICATED');
    expect(wrongPassword.errors?.[0].message).toBe(unknownEmail.errors?.[0].message);
  });
});

describe('refresh tokens', () => {
  it('rotates: the new token works, the old one stops working, and its reuse revokes the whole family', async () => {
    const org = await newOrganisation();
    const first = await ok(RefreshSessionDocument, { refreshToken: org.refreshToken });
    expect(first.refreshSession.refreshToken).not.toBe(org.refreshToken);
    const { me } = await ok(MeDocument, {}, { token: first.refreshSession.accessToken });
    expect(me.id).toBe(org.user.id);

    const reuse = await gql(RefreshSessionDocument, { refreshToken: org.refreshToken });
    expect(errorCode(reuse)).toBe('UNAUTHENTICATED');
    // the legitimate holder's newer token is revoked too
    const afterReuse = await gql(RefreshSessionDocument, { refreshToken: first.refreshSession.refreshToken });
    expect(errorCode(afterReuse)).toBe('UNAUTHENTICATED');
  });

  it('logout ends the session', async () => {
    const org = await newOrganisation();
    const { logout } = await ok(LogoutDocument, { refreshToken: org.refreshToken });
    expect(logout).toBe(true);
    expect(errorCode(await gql(RefreshSessionDocument, { refreshToken: org.refreshToken }))).toBe(
      'UNAUTHENTICATED',
    );
    expect(errorCode(await gql(RefreshSessionDocument, { refreshToken: 'made-up' }))).toBe('UNAUTHENTICATED');
  });
});

describe('members and roles', () => {
  it('invites a member who accepts, logs in, and needs organisationId once in two organisations', async () => {
    const org = await newOrganisation();
    const email = uniqueEmail('invitee');
    const { inviteMember } = await ok(
      InviteMemberDocument,
      { email, role: 'MEMBER' },
      { token: org.accessToken },
    );
    expect(inviteMember).toMatchObject({ role: 'MEMBER', status: 'INVITED', user: { email } });
    const mail = await waitForMail(email, INVITATION);
    expect(mail.subject).toBe(`You are invited to join ${org.organisation.name} on ProspectFlow`);

    const { acceptInvitation } = await ok(AcceptInvitationDocument, {
      token: mail.token!,
      password: PASSWORD,
      firstName: 'Noé',
    });
    expect(acceptInvitation.organisation.id).toBe(org.organisation.id);
    expect(acceptInvitation.user.firstName).toBe('Noé');
    const reused = await gql(AcceptInvitationDocument, { token: mail.token!, password: PASSWORD });
    expect(errorCode(reused)).toBe('UNAUTHENTICATED');

    // a member cannot invite
    const denied = await gql(
      InviteMemberDocument,
      { email: uniqueEmail(), role: 'VIEWER' },
      { token: acceptInvitation.accessToken },
    );
    expect(errorCode(denied)).toBe('FORBIDDEN');

    // invited into a second organisation: login must say which
    const other = await newOrganisation();
    await ok(InviteMemberDocument, { email, role: 'VIEWER' }, { token: other.accessToken });
    const secondMail = await waitForMail(email, INVITATION, 2);
    // an existing account accepts with its own password
    await ok(AcceptInvitationDocument, { token: secondMail.token!, password: PASSWORD });
    const ambiguous = await gql(LoginDocument, { email, password: PASSWORD });
    expect(errorCode(ambiguous)).toBe('BAD_USER_INPUT');
    expect(ambiguous.errors?.[0].extensions?.organisationIds).toHaveLength(2);
    const { login } = await ok(LoginDocument, {
      email,
      password: PASSWORD,
      organisationId: other.organisation.id,
    });
    expect(login.organisation.id).toBe(other.organisation.id);
    const { organisation } = await ok(MyOrganisationDocument, {}, { token: login.accessToken });
    expect(organisation.members.map((m) => m.role).sort()).toEqual(['OWNER', 'VIEWER']);
  });

  it('keeps exactly one owner: OWNER cannot be granted by role change, transfer swaps it', async () => {
    const org = await newOrganisation();
    const acceptInvitation = await addMember(org.accessToken, 'ADMIN');
    const userId = acceptInvitation.user.id;
    expect(
      errorCode(await gql(UpdateMemberRoleDocument, { userId, role: 'OWNER' }, { token: org.accessToken })),
    ).toBe('BAD_USER_INPUT');
    const adminTransfer = await gql(
      TransferOwnershipDocument,
      { userId: org.user.id },
      { token: acceptInvitation.accessToken },
    );
    expect(errorCode(adminTransfer)).toBe('FORBIDDEN');
    await ok(TransferOwnershipDocument, { userId }, { token: org.accessToken });
    const { organisation } = await ok(MyOrganisationDocument, {}, { token: org.accessToken });
    const roles = Object.fromEntries(organisation.members.map((m) => [m.user.id, m.role]));
    expect(roles).toEqual({ [org.user.id]: 'ADMIN', [userId]: 'OWNER' });
  });
});

describe('API keys', () => {
  it('shows the secret once, stores only its hash, authenticates calls, tracks lastUsedAt, and stops after revocation', async () => {
    const org = await newOrganisation();
    const { createApiKey } = await ok(
      CreateApiKeyDocument,
      { name: 'Pharow', scopes: ['READ', 'INGEST'] },
      { token: org.accessToken },
    );
    expect(createApiKey.secret).toMatch(/^pfk_[0-9a-f]{32}_/);
    expect(createApiKey.apiKey.lastUsedAt).toBeNull();

    // keys read the organisation, never its members (see test/scopes.test.ts)
    const viaKey = await ok<{ organisation: { id: string } }, object>(
      '{ organisation { id } }',
      {},
      { headers: { 'x-api-key': createApiKey.secret } },
    );
    expect(viaKey.organisation.id).toBe(org.organisation.id);
    const viaBearer = await ok<{ organisation: { id: string } }, object>(
      '{ organisation { id } }',
      {},
      { token: createApiKey.secret },
    );
    expect(viaBearer.organisation.id).toBe(org.organisation.id);

    const { apiKeys } = await ok(ApiKeysDocument, {}, { token: org.accessToken });
    expect(apiKeys).toHaveLength(1);
    expect(apiKeys[0].lastUsedAt).not.toBeNull();
    expect(JSON.stringify(apiKeys)).not.toContain(createApiKey.secret);

    // keys cannot manage keys, nor act as a user
    expect(errorCode(await gql(ApiKeysDocument, {}, { token: createApiKey.secret }))).toBe('FORBIDDEN');
    expect(errorCode(await gql(MeDocument, {}, { token: createApiKey.secret }))).toBe('FORBIDDEN');

    const { revokeApiKey } = await ok(
      RevokeApiKeyDocument,
      { id: createApiKey.apiKey.id },
      { token: org.accessToken },
    );
    expect(revokeApiKey.revokedAt).not.toBeNull();
    const after = await gql(MyOrganisationDocument, {}, { token: createApiKey.secret });
    expect(errorCode(after)).toBe('UNAUTHENTICATED');
    expect(after.status).toBe(401);
  });

  it('rejects a forged key with a valid shape', async () => {
    const org = await newOrganisation();
    const { createApiKey } = await ok(
      CreateApiKeyDocument,
      { name: 'k', scopes: ['READ'] },
      { token: org.accessToken },
    );
    const forged = `${createApiKey.secret.slice(0, -4)}AAAA`;
    expect(errorCode(await gql(MyOrganisationDocument, {}, { token: forged }))).toBe('UNAUTHENTICATED');
  });
});
