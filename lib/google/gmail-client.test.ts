// Gmail clients per mailbox, and what each kind of failure from the real googleapis client is taken to mean.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GoogleFake, startGoogleFake } from '../../test/fakes/google.ts';
import { createSecretBox } from '../secrets/secret-box.ts';
import { sealGmailCredentials } from './gmail-auth.ts';
import { createGmailClients, gmailFailure, retryAfterMs } from './gmail-client.ts';

let fake: GoogleFake;
beforeAll(async () => {
  fake = await startGoogleFake({
    dir: await mkdtemp(path.join(tmpdir(), 'gmail-client-')),
    delegatedDomains: [],
  });
});
afterAll(() => fake?.close());

const secrets = createSecretBox(randomBytes(32));

function access(email: string, refreshToken = `refresh:${email}`) {
  const organisationId = randomUUID();
  const mailboxId = randomUUID();
  return {
    organisationId,
    mailboxId,
    email,
    credentialsEncrypted: sealGmailCredentials(secrets, organisationId, mailboxId, {
      kind: 'OAUTH',
      clientId: 'client',
      clientSecret: 'secret',
      refreshToken,
    }),
  };
}

const raw = Buffer.from(
  'From: a@x.fr\r\nTo: b@y.fr\r\nSubject: s\r\nMessage-ID: <1@pf>\r\n\r\nHi\r\n',
).toString('base64url');

describe('Gmail clients', () => {
  it('keep one client per mailbox while its credentials stay the same, and reach the configured API', async () => {
    const clients = createGmailClients(secrets, {
      apiUrl: fake.gmailUrl,
      tokenUrl: fake.tokenUrl,
      serviceAccountKey: undefined,
    });
    const mailbox = access('one@sender.fr');
    const gmail = await clients.forMailbox(mailbox);
    expect(await clients.forMailbox(mailbox)).toBe(gmail);
    const { data } = await gmail.users.getProfile({ userId: 'me' });
    expect(data.emailAddress).toBe('one@sender.fr');
    const resealed = { ...mailbox, credentialsEncrypted: access('one@sender.fr').credentialsEncrypted };
    expect(
      await clients
        .forMailbox({ ...resealed, organisationId: mailbox.organisationId, mailboxId: mailbox.mailboxId })
        .catch(() => 'other'),
    ).not.toBe(gmail);
  });

  it('sort failures into what the caller must do', async () => {
    const clients = createGmailClients(secrets, {
      apiUrl: fake.gmailUrl,
      tokenUrl: fake.tokenUrl,
      serviceAccountKey: undefined,
    });
    const gmail = await clients.forMailbox(access('two@sender.fr'));
    const send = () =>
      gmail.users.messages.send({ userId: 'me', requestBody: { raw } }).then(
        () => undefined,
        (e) => gmailFailure(e, 'send'),
      );
    fake.gmail.fail('send', { status: 429, reason: 'userRateLimitExceeded', retryAfter: 12 });
    expect(await send()).toMatchObject({ kind: 'rate-limited', status: 429, retryAfterMs: 12_000 });
    fake.gmail.fail('send', { status: 500 });
    expect(await send()).toMatchObject({ kind: 'unknown-outcome', status: 500 });
    fake.gmail.fail('send', { status: 400, reason: 'invalidArgument', message: 'Invalid To header' });
    expect(await send()).toMatchObject({ kind: 'refused', reason: 'invalidArgument: Invalid To header' });

    const revoked = await (await clients.forMailbox(access('three@sender.fr', 'revoked-grant'))).users
      .getProfile({ userId: 'me' })
      .then(
        () => undefined,
        (e) => gmailFailure(e, 'read'),
      );
    expect(revoked).toMatchObject({ kind: 'auth-revoked' });
    expect(revoked?.reason).toMatch(/^invalid_grant/);
    expect(gmailFailure(Object.assign(new Error('socket hang up'), {}), 'send').kind).toBe('unknown-outcome');
    expect(gmailFailure(new Error('ECONNREFUSED'), 'read').kind).toBe('unavailable');
  });

  it('read Retry-After in seconds or as a date', () => {
    expect(retryAfterMs('30')).toBe(30_000);
    expect(retryAfterMs(new Date(Date.now() + 60_000).toUTCString(), Date.now())).toBeGreaterThan(58_000);
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});
