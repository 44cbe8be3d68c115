// Accounts against a hostile user: squatting an address before its invitation, an admin accepting for
// someone else, and taking a squatted account back through the mailbox.
import { describe, expect, inject, it } from 'vitest';
import { hashSecret } from '../lib/auth/tokens.ts';
import {
  AcceptInvitationDocument,
  InviteMemberDocument,
  LoginDocument,
  MeDocument,
  MyOrganisationDocument,
  RefreshSessionDocument,
  RequestPasswordResetDocument,
  ResetPasswordDocument,
  SignUpDocument,
} from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok, PASSWORD, uniqueEmail } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { INVITATION, inbox, PASSWORD_RESET, waitForMail } from './helpers/mail.ts';
import { CACHE_MS, eventually } from './helpers/wait.ts';

async function membersOf(token: string) {
  return (await ok(MyOrganisationDocument, {}, { token })).organisation.members;
}

describe('taking over a seat by registering its address first', () => {
  it('fails at every step, and whoever reads the mailbox takes the account back', async () => {
    const b = await newOrganisation();
    const seat = uniqueEmail('newhire');
    const attackerPassword = 'the squatter chose this one';
    const newcomerPassword = 'the newcomer chose that one';

    // 1. the attacker registers the address before organisation B invites it
    const { signUp: attacker } = await ok(SignUpDocument, {
      input: {
        organisationName: 'Squat',
        email: seat,
        password: attackerPassword,
        firstName: 'Eve',
        lastName: 'Squatter',
      },
    });

    // 2. B invites the address as ADMIN: no token, nothing of the account, nothing active yet
    const { inviteMember } = await ok(
      InviteMemberDocument,
      { email: seat, role: 'ADMIN' },
      { token: b.accessToken },
    );
    expect(inviteMember).toEqual({
      role: 'ADMIN',
      status: 'INVITED',
      user: { id: attacker.user.id, email: seat, firstName: null, lastName: null },
    });
    const tokenAsked = await gql(
      'mutation ($email: String!) { inviteMember(email: $email, role: VIEWER) { invitationToken } }',
      { email: uniqueEmail() },
      { token: b.accessToken },
    );
    expect(errorCode(tokenAsked)).toBe('GRAPHQL_VALIDATION_FAILED');
    const login = () =>
      gql(LoginDocument, { email: seat, password: attackerPassword, organisationId: b.organisation.id });
    expect(errorCode(await login())).toBe('UNAUTHENTICATED');

    // 3. the invitee accepts from their mailbox with a password of their own: refused, not ignored
    const invitation = await waitForMail(seat, INVITATION);
    expect(invitation.text).toContain('already has a ProspectFlow account');
    const accepted = await gql(AcceptInvitationDocument, {
      token: invitation.token!,
      password: newcomerPassword,
    });
    expect(errorCode(accepted)).toBe('UNAUTHENTICATED');
    expect(accepted.data ?? null).toBeNull();

    // 4. so the attacker never gets into B, and the seat stays INVITED
    expect(errorCode(await login())).toBe('UNAUTHENTICATED');
    const seatRow = (await membersOf(b.accessToken)).find((m) => m.user.email === seat);
    expect(seatRow).toMatchObject({
      role: 'ADMIN',
      status: 'INVITED',
      user: { firstName: null, lastName: null },
    });
    // the attacker's own session does not open the invitation without its token either
    const guessed = await gql(
      AcceptInvitationDocument,
      { token: 'x'.repeat(43) },
      { token: attacker.accessToken },
    );
    expect(errorCode(guessed)).toBe('UNAUTHENTICATED');

    // 5. the mailbox's owner resets the password: every session of the squatter ends
    expect((await ok(RequestPasswordResetDocument, { email: seat })).requestPasswordReset).toBe(true);
    const reset = await waitForMail(seat, PASSWORD_RESET);
    expect(
      (await ok(ResetPasswordDocument, { token: reset.token!, password: newcomerPassword })).resetPassword,
    ).toBe(true);
    expect(errorCode(await gql(RefreshSessionDocument, { refreshToken: attacker.refreshToken }))).toBe(
      'UNAUTHENTICATED',
    );
    await eventually(
      async () => errorCode(await gql(MeDocument, {}, { token: attacker.accessToken })) === 'UNAUTHENTICATED',
      CACHE_MS,
    );
    expect(errorCode(await gql(LoginDocument, { email: seat, password: attackerPassword }))).toBe(
      'UNAUTHENTICATED',
    );
    const again = await gql(ResetPasswordDocument, {
      token: reset.token!,
      password: 'a third password here',
    });
    expect(errorCode(again)).toBe('UNAUTHENTICATED');

    // 6. now the invitee accepts with the account's password, and only they can log in to B
    const { acceptInvitation } = await ok(AcceptInvitationDocument, {
      token: invitation.token!,
      password: newcomerPassword,
    });
    expect(acceptInvitation.organisation.id).toBe(b.organisation.id);
    expect(acceptInvitation.user.id).toBe(attacker.user.id);
    expect(errorCode(await login())).toBe('UNAUTHENTICATED');
    const { login: newcomer } = await ok(LoginDocument, {
      email: seat,
      password: newcomerPassword,
      organisationId: b.organisation.id,
    });
    expect(newcomer.organisation.id).toBe(b.organisation.id);
  });
});

describe('an admin accepting for someone else', () => {
  it('gets nothing of an existing account; its owner accepts with their password or their session', async () => {
    const a = await newOrganisation(); // Camille Martin, owner of A
    const b = await newOrganisation();
    const { inviteMember } = await ok(
      InviteMemberDocument,
      { email: a.user.email, role: 'MEMBER' },
      { token: b.accessToken },
    );
    // no name leaks to B's admin, neither in the answer nor in the member list
    expect(inviteMember.user).toEqual({
      id: a.user.id,
      email: a.user.email,
      firstName: null,
      lastName: null,
    });
    expect((await membersOf(b.accessToken)).find((m) => m.user.id === a.user.id)).toEqual({
      role: 'MEMBER',
      status: 'INVITED',
      user: { id: a.user.id, email: a.user.email, firstName: null, lastName: null },
    });

    // even holding the link, nobody but the account gets a session: no password, another user's
    // session, a wrong password, or a new password all fail
    const { token } = await waitForMail(a.user.email, INVITATION);
    for (const [variables, options] of [
      [{ token: token! }, {}],
      [{ token: token! }, { token: b.accessToken }],
      [{ token: token!, password: 'not the account password' }, { token: b.accessToken }],
      [{ token: token!, password: 'a brand new password', firstName: 'Mallory' }, {}],
    ] as const) {
      const res = await gql(AcceptInvitationDocument, variables, options);
      expect(errorCode(res), JSON.stringify(variables)).toBe('UNAUTHENTICATED');
    }
    expect((await membersOf(b.accessToken)).find((m) => m.user.id === a.user.id)?.status).toBe('INVITED');

    // the account's owner accepts while logged in; their password and name are untouched
    const { acceptInvitation } = await ok(
      AcceptInvitationDocument,
      { token: token! },
      { token: a.accessToken },
    );
    expect(acceptInvitation.organisation.id).toBe(b.organisation.id);
    expect(acceptInvitation.user).toMatchObject({ id: a.user.id, firstName: 'Camille', lastName: 'Martin' });
    expect((await membersOf(b.accessToken)).find((m) => m.user.id === a.user.id)).toMatchObject({
      status: 'ACTIVE',
      user: { firstName: 'Camille' },
    });
    await ok(LoginDocument, { email: a.user.email, password: PASSWORD, organisationId: b.organisation.id });
  });

  it('accepts with the account password too, once', async () => {
    const a = await newOrganisation();
    const b = await newOrganisation();
    await ok(InviteMemberDocument, { email: a.user.email, role: 'VIEWER' }, { token: b.accessToken });
    const { token } = await waitForMail(a.user.email, INVITATION);
    const { acceptInvitation } = await ok(AcceptInvitationDocument, { token: token!, password: PASSWORD });
    expect(acceptInvitation.organisation.id).toBe(b.organisation.id);
    expect(errorCode(await gql(AcceptInvitationDocument, { token: token!, password: PASSWORD }))).toBe(
      'UNAUTHENTICATED',
    );
  });
});

describe('password reset', () => {
  it('answers true whatever the address, and mails only an existing account', async () => {
    const unknown = uniqueEmail('nobody');
    expect((await ok(RequestPasswordResetDocument, { email: unknown })).requestPasswordReset).toBe(true);
    expect((await ok(RequestPasswordResetDocument, { email: 'not an address' })).requestPasswordReset).toBe(
      true,
    );
    const org = await newOrganisation();
    expect((await ok(RequestPasswordResetDocument, { email: org.user.email })).requestPasswordReset).toBe(
      true,
    );
    await waitForMail(org.user.email, PASSWORD_RESET);
    expect(await inbox(unknown)).toEqual([]);
  });

  it('ends every session in every organisation; the link works once and not after it expires', async () => {
    const a = await newOrganisation();
    const b = await newOrganisation();
    await ok(InviteMemberDocument, { email: a.user.email, role: 'MEMBER' }, { token: b.accessToken });
    const invitation = await waitForMail(a.user.email, INVITATION);
    const inB = (await ok(AcceptInvitationDocument, { token: invitation.token!, password: PASSWORD }))
      .acceptInvitation;

    const iam = inject('subgraphUrls').iam;
    await ok(RequestPasswordResetDocument, { email: a.user.email }, { url: iam });
    await ok(RequestPasswordResetDocument, { email: a.user.email }, { url: iam });
    const expired = await waitForMail(a.user.email, PASSWORD_RESET, 1);
    const fresh = await waitForMail(a.user.email, PASSWORD_RESET, 2);
    await withClient(ownerClient(), (c) =>
      c.query(
        // the link of that mail, by its hash: the two mails need not be written in the order of their rows
        "UPDATE iam.password_resets SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND token_hash = $2",
        [a.user.id, hashSecret(expired.token!)],
      ),
    );
    const newPassword = 'a completely new passphrase';
    expect(
      errorCode(await gql(ResetPasswordDocument, { token: expired.token!, password: newPassword })),
    ).toBe('UNAUTHENTICATED');
    expect(errorCode(await gql(ResetPasswordDocument, { token: fresh.token!, password: 'short' }))).toBe(
      'BAD_USER_INPUT',
    );
    await ok(ResetPasswordDocument, { token: fresh.token!, password: newPassword });
    expect(errorCode(await gql(ResetPasswordDocument, { token: fresh.token!, password: newPassword }))).toBe(
      'UNAUTHENTICATED',
    );

    for (const refreshToken of [a.refreshToken, inB.refreshToken]) {
      expect(errorCode(await gql(RefreshSessionDocument, { refreshToken }))).toBe('UNAUTHENTICATED');
    }
    for (const token of [a.accessToken, inB.accessToken]) {
      await eventually(
        async () => errorCode(await gql(MeDocument, {}, { token })) === 'UNAUTHENTICATED',
        CACHE_MS,
      );
    }
    expect(errorCode(await gql(LoginDocument, { email: a.user.email, password: PASSWORD }))).toBe(
      'UNAUTHENTICATED',
    );
    const { login } = await ok(LoginDocument, {
      email: a.user.email,
      password: newPassword,
      organisationId: a.organisation.id,
    });
    expect((await ok(MeDocument, {}, { token: login.accessToken })).me.id).toBe(a.user.id);
  });

  it('mails at most five links an hour to one account', async () => {
    const org = await newOrganisation();
    const iam = inject('subgraphUrls').iam;
    for (let i = 0; i < 7; i++) {
      expect(
        (await ok(RequestPasswordResetDocument, { email: org.user.email }, { url: iam }))
          .requestPasswordReset,
      ).toBe(true);
    }
    await waitForMail(org.user.email, PASSWORD_RESET, 5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await inbox(org.user.email)).length).toBe(5);
  });
});
