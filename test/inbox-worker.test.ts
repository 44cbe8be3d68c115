// The inbox worker against the Gmail fake (the real googleapis client): the first read starts from now, new mail
// is followed through the mailbox history (our own sends skipped), a history id Gmail forgot (404) is replaced
// by a full resync that fetches only what is new, and a revoked grant marks the mailbox NEEDS_RECONNECT.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.ts';
import { sealGmailCredentials } from '../lib/google/gmail-auth.ts';
import { createGmailClients, type GmailClients } from '../lib/google/gmail-client.ts';
import { createSecretBox } from '../lib/secrets/secret-box.ts';
import { type InboxDeps, type InboxLimits, inboxRound } from '../workers/inbox/handler.ts';
import { createWorkerOrm } from '../workers/runtime.ts';
import { type GoogleFake, startGoogleFake } from './fakes/google.ts';
import { type CampaignSeed, seedDraftCampaign } from './helpers/drafts.ts';
import { bounceMail, outOfOfficeMail, replyMail, type SentSeed, seedSent } from './helpers/inbound-mail.ts';
import { type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

let db: WorkerDatabase;
let orm: MikroORM;
let fake: GoogleFake;
let gmail: GmailClients;
const secrets = createSecretBox(randomBytes(32));
let now = new Date();
const silent = { info() {}, warn() {}, error() {} };
const limits: InboxLimits = { batchSize: 20, leaseSeconds: 300, pollSeconds: 60, resyncMaxMessages: 100 };

beforeAll(async () => {
  db = await workerDatabase('inbox');
  orm = await createWorkerOrm(loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.ownerUrl }));
  fake = await startGoogleFake({ dir: await mkdtemp(path.join(tmpdir(), 'inbox-')), delegatedDomains: [] });
  gmail = createGmailClients(secrets, {
    apiUrl: fake.gmailUrl,
    tokenUrl: fake.tokenUrl,
    serviceAccountKey: undefined,
  });
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
  await fake?.close();
});

const deps = (): InboxDeps => ({
  orm,
  gmail,
  workerId: `inbox-test-${process.pid}`,
  clock: () => now,
  log: silent,
});

/** The next round, a poll interval later. */
async function round() {
  now = new Date(now.getTime() + 61_000);
  return inboxRound(deps(), limits);
}

/** The seed's mailbox as a connected Gmail mailbox; returns its address. */
async function asGmail(seed: CampaignSeed, refreshToken?: string): Promise<string> {
  const { rows } = await db.owner.query('SELECT email::text FROM outreach.mailboxes WHERE id = $1', [
    seed.mailboxId,
  ]);
  const email: string = rows[0].email;
  const sealed = sealGmailCredentials(secrets, seed.organisationId, seed.mailboxId, {
    kind: 'OAUTH',
    clientId: 'client',
    clientSecret: 'secret',
    refreshToken: refreshToken ?? `refresh:${email}`,
  });
  await db.owner.query(
    `UPDATE outreach.mailboxes SET provider = 'GMAIL', auth_kind = 'OAUTH', credentials_encrypted = $2 WHERE id = $1`,
    [seed.mailboxId, sealed],
  );
  return email;
}

/** Sends step 0 to the enrolment through Gmail, as the sender does, and records it SENT with Gmail's ids. */
async function sendThroughGmail(seed: CampaignSeed, index: number, mailbox: string): Promise<SentSeed> {
  const sent = await seedSent(db.owner, seed, index);
  const raw = `From: ${mailbox}\r\nTo: ${sent.email}\r\nSubject: Vos fournils\r\nMessage-ID: ${sent.rfcMessageId}\r\n\r\nBonjour\r\n`;
  const client = await gmail.forMailbox({
    organisationId: seed.organisationId,
    mailboxId: seed.mailboxId,
    email: mailbox,
    credentialsEncrypted: (
      await db.owner.query('SELECT credentials_encrypted FROM outreach.mailboxes WHERE id = $1', [
        seed.mailboxId,
      ])
    ).rows[0].credentials_encrypted,
  });
  const { data } = await client.users.messages.send({
    userId: 'me',
    requestBody: { raw: Buffer.from(raw).toString('base64url') },
  });
  await db.owner.query(
    'UPDATE outreach.messages SET provider_message_id = $2, thread_id = $3 WHERE id = $1',
    [sent.messageId, data.id, data.threadId],
  );
  return { ...sent, threadId: data.threadId! };
}

async function statusOf(enrollmentId: string): Promise<string> {
  const { rows } = await db.owner.query('SELECT status FROM outreach.campaign_enrollments WHERE id = $1', [
    enrollmentId,
  ]);
  return rows[0].status;
}

describe('the inbox worker', () => {
  it('reads each mailbox every INBOX_POLL_SECONDS, 60 by default', () => {
    expect(loadConfig({}).inbox.pollSeconds).toBe(60);
    expect(loadConfig({ INBOX_POLL_SECONDS: '15' }).inbox.pollSeconds).toBe(15);
    expect(() => loadConfig({ INBOX_POLL_SECONDS: '0' })).toThrow(/INBOX_POLL_SECONDS/);
  });

  it('starts from now, follows the history, resyncs after a 404 and reads each email once', async () => {
    const seed = await seedDraftCampaign(db.owner, {
      steps: [{ subject: 'Vos fournils', body: 'Bonjour' }, { body: 'Je reviens vers vous' }],
      people: [{ firstName: 'Léa' }, { firstName: 'Paul' }, { firstName: 'Inès' }],
    });
    const mailbox = await asGmail(seed);
    // mail from before the first read is not judged
    fake.gmail.deliver(mailbox, replyMail(mailbox, 'old@client.fr', '<old@sender.fr>'));
    const [lea, paul, ines] = [
      await sendThroughGmail(seed, 0, mailbox),
      await sendThroughGmail(seed, 1, mailbox),
      await sendThroughGmail(seed, 2, mailbox),
    ] as [SentSeed, SentSeed, SentSeed];

    const [first] = await round();
    expect(first).toMatchObject({ mailboxId: seed.mailboxId, mode: 'started', outcomes: [] });
    const { rows: started } = await db.owner.query(
      'SELECT history_id FROM outreach.mailboxes WHERE id = $1',
      [seed.mailboxId],
    );
    expect(started[0].history_id).toMatch(/^\d+$/);
    // read a moment ago: not due again yet
    expect(await inboxRound(deps(), limits)).toEqual([]);

    const reply = fake.gmail.deliver(mailbox, replyMail(mailbox, lea.email, lea.rfcMessageId));
    expect(reply.threadId).toBe(lea.threadId);
    fake.gmail.deliver(mailbox, outOfOfficeMail(mailbox, paul.email, paul.rfcMessageId));
    const [second] = await round();
    expect(second?.mode).toBe('history');
    expect(second?.outcomes.map((o) => [o.kind, o.effect, o.enrollmentId, o.enrollmentStatus])).toEqual([
      ['reply', 'handled', lea.enrollmentId, 'REPLIED'],
      ['auto-reply', 'handled', paul.enrollmentId, 'PAUSED'],
    ]);
    const { rows: received } = await db.owner.query(
      `SELECT provider_message_id, thread_id FROM outreach.messages WHERE enrollment_id = $1 AND direction = 'INBOUND'`,
      [lea.enrollmentId],
    );
    expect(received).toEqual([{ provider_message_id: reply.id, thread_id: lea.threadId }]);

    // nothing new: nothing fetched
    const gets = fake.gmail.calls.get;
    const [third] = await round();
    expect(third).toMatchObject({ mode: 'history', outcomes: [] });
    expect(fake.gmail.calls.get).toBe(gets);

    // Gmail forgot the stored point: the inbox is listed again, and only the new email is fetched
    fake.gmail.deliver(mailbox, bounceMail(mailbox, ines.email, ines.rfcMessageId, '5.1.1'));
    fake.gmail.expireHistory(mailbox);
    const [fourth] = await round();
    expect(fourth?.mode).toBe('resync');
    // the resync lists the whole recent inbox: the stranger's email from before is looked at (and ignored) too
    expect(fourth?.outcomes.map((o) => [o.kind, o.effect, o.enrollmentId, o.enrollmentStatus])).toEqual([
      ['reply', 'unmatched', null, null],
      ['bounce', 'handled', ines.enrollmentId, 'BOUNCED'],
    ]);
    // the old stranger's email was fetched once by the resync and ignored; the others were not fetched again
    expect(fake.gmail.calls.get).toBe(gets + 2);
    expect(await statusOf(lea.enrollmentId)).toBe('REPLIED');
    expect(await statusOf(paul.enrollmentId)).toBe('PAUSED');

    // and the history is followed from the fresh point again
    const [fifth] = await round();
    expect(fifth).toMatchObject({ mode: 'history', outcomes: [] });
  });

  it('a revoked grant marks the mailbox NEEDS_RECONNECT, tells its campaign, and stops reading it', async () => {
    const seed = await seedDraftCampaign(db.owner, {
      steps: [{ subject: 'Vos fournils', body: 'Bonjour' }],
      people: [{ firstName: 'Léa' }],
    });
    await asGmail(seed, `revoked-${randomUUID()}`);
    const reads = await round();
    expect(reads.find((r) => r.mailboxId === seed.mailboxId)?.mode).toBe('needs-reconnect');
    const { rows } = await db.owner.query(
      'SELECT status, status_reason FROM outreach.mailboxes WHERE id = $1',
      [seed.mailboxId],
    );
    expect(rows[0]).toEqual({
      status: 'NEEDS_RECONNECT',
      status_reason: expect.stringContaining('invalid_grant'),
    });
    const { rows: events } = await db.owner.query(
      'SELECT topic, payload FROM outreach.outbox WHERE organisation_id = $1',
      [seed.organisationId],
    );
    expect(events).toEqual([{ topic: 'MAILBOX_NEEDS_RECONNECT', payload: { mailboxId: seed.mailboxId } }]);
    expect((await round()).find((r) => r.mailboxId === seed.mailboxId)).toBeUndefined();
  });

  it('Gmail unavailable or rate-limited: the mailbox is read again next round from the same point, nothing lost', async () => {
    const seed = await seedDraftCampaign(db.owner, {
      steps: [{ subject: 'Vos fournils', body: 'Bonjour' }, { body: 'Je reviens vers vous' }],
      people: [{ firstName: 'Léa' }],
    });
    const mailbox = await asGmail(seed);
    const lea = await sendThroughGmail(seed, 0, mailbox);
    // only this mailbox is due in this test's rounds
    await db.owner.query(
      `UPDATE outreach.mailboxes SET inbox_checked_at = now() + interval '1 year' WHERE id <> $1`,
      [seed.mailboxId],
    );
    expect((await round()).map((r) => r.mode)).toEqual(['started']);
    fake.gmail.deliver(mailbox, replyMail(mailbox, lea.email, lea.rfcMessageId));
    const { rows: before } = await db.owner.query('SELECT history_id FROM outreach.mailboxes WHERE id = $1', [
      seed.mailboxId,
    ]);

    // googleapis retries a read 3 times: the fourth answer decides
    fake.gmail.fail('history', { status: 503, reason: 'backendError' }, 4);
    expect((await round()).map((r) => [r.mode, r.outcomes.length])).toEqual([['retry-later', 0]]);
    const { rows: after } = await db.owner.query('SELECT history_id FROM outreach.mailboxes WHERE id = $1', [
      seed.mailboxId,
    ]);
    expect(after[0].history_id).toBe(before[0].history_id);
    expect(await statusOf(lea.enrollmentId)).toBe('ACTIVE');

    fake.gmail.fail('history', { status: 429, reason: 'rateLimitExceeded' }, 4);
    expect((await round()).map((r) => r.mode)).toEqual(['retry-later']);

    const [read] = await round();
    expect(read?.outcomes.map((o) => [o.kind, o.enrollmentStatus])).toEqual([['reply', 'REPLIED']]);
  });
});
