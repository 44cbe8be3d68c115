// The Gmail fake answers the real googleapis client as Gmail does, on the paths the sender and the inbox use.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { google } from 'googleapis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GoogleFake, startGoogleFake } from './google.ts';

let fake: GoogleFake;
beforeAll(async () => {
  fake = await startGoogleFake({
    dir: await mkdtemp(path.join(tmpdir(), 'gmail-fake-')),
    delegatedDomains: [],
  });
});
afterAll(() => fake?.close());

function gmailFor(mailbox: string) {
  const auth = new google.auth.OAuth2({
    clientId: 'id',
    clientSecret: 'secret',
    endpoints: { oauth2TokenUrl: fake.tokenUrl },
  });
  auth.setCredentials({ refresh_token: `refresh:${mailbox}` });
  return google.gmail({ version: 'v1', auth, rootUrl: `${fake.gmailUrl}/` });
}

const mime = (id: string, extra = '') =>
  `From: a@sender.fr\r\nTo: b@client.fr\r\nSubject: Hello\r\nMessage-ID: <${id}>\r\n${extra}\r\nBody\r\n`;

describe('the Gmail fake', () => {
  it('sends, finds by Message-ID, threads answers, follows history and fails on demand', async () => {
    const gmail = gmailFor('a@sender.fr');
    const { data: profile } = await gmail.users.getProfile({ userId: 'me' });
    const sent = await gmail.users.messages.send({
      userId: 'me',
      requestBody: { raw: Buffer.from(mime('m1@pf')).toString('base64url') },
    });
    expect(fake.gmail.sent('a@sender.fr')).toHaveLength(1);
    const { data: found } = await gmail.users.messages.list({ userId: 'me', q: 'rfc822msgid:m1@pf' });
    expect(found.messages).toEqual([{ id: sent.data.id, threadId: sent.data.threadId }]);
    const { data: none } = await gmail.users.messages.list({ userId: 'me', q: 'rfc822msgid:nope@pf' });
    expect(none.messages).toBeUndefined();

    const reply = fake.gmail.deliver('a@sender.fr', mime('r1@client', 'In-Reply-To: <m1@pf>\r\n'));
    expect(reply.threadId).toBe(sent.data.threadId);
    const { data: history } = await gmail.users.history.list({
      userId: 'me',
      startHistoryId: profile.historyId!,
      historyTypes: ['messageAdded'],
    });
    expect(history.history?.flatMap((h) => h.messagesAdded?.map((a) => a.message?.id))).toEqual([
      sent.data.id,
      reply.id,
    ]);
    const { data: raw } = await gmail.users.messages.get({ userId: 'me', id: reply.id, format: 'raw' });
    expect(Buffer.from(raw.raw!, 'base64url').toString()).toContain('In-Reply-To: <m1@pf>');

    fake.gmail.fail('send', { status: 429, reason: 'userRateLimitExceeded', retryAfter: 7 });
    const refused = await gmail.users.messages
      .send({ userId: 'me', requestBody: { raw: Buffer.from(mime('m2@pf')).toString('base64url') } })
      .catch((e) => e);
    expect(refused.status).toBe(429);
    expect(refused.response.headers.get?.('retry-after') ?? refused.response.headers['retry-after']).toBe(
      '7',
    );
    expect(fake.gmail.sent()).toHaveLength(1);

    fake.gmail.expireHistory('a@sender.fr');
    const gone = await gmail.users.history
      .list({ userId: 'me', startHistoryId: profile.historyId! })
      .catch((e) => e);
    expect(gone.status).toBe(404);
  });

  it('refuses a revoked grant as Google does', async () => {
    fake.failTokens({
      status: 400,
      error: 'invalid_grant',
      description: 'Token has been expired or revoked.',
    });
    const refused = await gmailFor('c@sender.fr')
      .users.getProfile({ userId: 'me' })
      .catch((e) => e);
    expect(refused.response?.data?.error).toBe('invalid_grant');
  });
});
