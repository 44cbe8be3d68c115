// What inbound mail does to the sequences (receiveInbound), on a worker database: replies stop the address in
// every campaign of the organisation, automatic replies pause the enrolment until the dispatch resumes it, hard
// bounces stop and suppress, soft bounces are sent again once, and nothing is done twice.
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.ts';
import { withTenant } from '../lib/db/orm.ts';
import { dispatchTasks } from '../subgraphs/outreach/services/dispatch.ts';
import { receiveInbound } from '../subgraphs/outreach/services/inbound.ts';
import { createWorkerOrm } from '../workers/runtime.ts';
import { type CampaignSeed, seedDraftCampaign } from './helpers/drafts.ts';
import { bounceMail, outOfOfficeMail, replyMail, seedSent } from './helpers/inbound-mail.ts';
import { type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

let db: WorkerDatabase;
let orm: MikroORM;

beforeAll(async () => {
  db = await workerDatabase('inbound');
  orm = await createWorkerOrm(loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.ownerUrl }));
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

const twoSteps = { steps: [{ subject: 'Vos fournils', body: 'Bonjour' }, { body: 'Je reviens vers vous' }] };

async function campaign(organisationId?: string): Promise<CampaignSeed> {
  return seedDraftCampaign(db.owner, {
    ...twoSteps,
    organisationId,
    people: [{ firstName: 'Léa' }, { firstName: 'Paul' }],
  });
}

async function enrollment(id: string) {
  const { rows } = await db.owner.query(
    'SELECT status, stopped_reason, resume_at FROM outreach.campaign_enrollments WHERE id = $1',
    [id],
  );
  return rows[0];
}

async function mailboxEmail(seed: CampaignSeed): Promise<string> {
  const { rows } = await db.owner.query('SELECT email::text FROM outreach.mailboxes WHERE id = $1', [
    seed.mailboxId,
  ]);
  return rows[0].email;
}

async function events(organisationId: string) {
  const { rows } = await db.owner.query(
    'SELECT topic, campaign_id, payload FROM outreach.outbox WHERE organisation_id = $1 ORDER BY campaign_id, sequence',
    [organisationId],
  );
  return rows;
}

const receive = (
  seed: CampaignSeed,
  raw: string,
  options: { providerMessageId?: string; threadId?: string; receivedAt?: Date } = {},
) =>
  withTenant(orm, seed.organisationId, (em) =>
    receiveInbound(em, seed.mailboxId, raw, { receivedAt: new Date(), ...options }),
  );

describe('receiving inbound mail', () => {
  it('a reply stops exactly that address: REPLIED here, STOPPED in its other campaign, another organisation untouched', async () => {
    const here = await campaign();
    const elsewhere = await campaign(here.organisationId);
    const otherOrg = await campaign();
    const sent = await seedSent(db.owner, here, 0);
    // the same person enrolled in another campaign of the organisation, and in another organisation
    for (const other of [elsewhere, otherOrg])
      await db.owner.query('UPDATE outreach.campaign_enrollments SET email = $1 WHERE id = $2', [
        sent.email,
        other.enrollments[0]!.id,
      ]);
    const raw = replyMail(await mailboxEmail(here), sent.email, sent.rfcMessageId);

    const outcome = await receive(here, raw, { providerMessageId: 'gmail-reply-1', threadId: sent.threadId });
    expect(outcome).toMatchObject({
      kind: 'reply',
      effect: 'handled',
      matchedMessageId: sent.messageId,
      enrollmentId: sent.enrollmentId,
      enrollmentStatus: 'REPLIED',
    });
    expect(await enrollment(sent.enrollmentId)).toMatchObject({
      status: 'REPLIED',
      stopped_reason: 'REPLIED',
    });
    expect(await enrollment(elsewhere.enrollments[0]!.id)).toMatchObject({ status: 'STOPPED' });
    expect((await enrollment(otherOrg.enrollments[0]!.id)).status).toBe('ACTIVE');
    expect((await enrollment(here.enrollments[1]!.id)).status).toBe('ACTIVE');
    // the follow-up will not go
    const { rows: tasks } = await db.owner.query('SELECT status FROM outreach.tasks WHERE id = $1', [
      sent.nextTaskId,
    ]);
    expect(tasks[0].status).toBe('CANCELLED');

    const { rows: received } = await db.owner.query(
      `SELECT id, direction, status, from_email, subject, body_text, in_reply_to, thread_id, provider_message_id,
         mailbox_id, enrollment_id, position_id
       FROM outreach.messages WHERE enrollment_id = $1 AND direction = 'INBOUND'`,
      [sent.enrollmentId],
    );
    expect(received).toEqual([
      {
        id: outcome.receivedMessageId,
        direction: 'INBOUND',
        status: 'RECEIVED',
        from_email: sent.email,
        subject: 'Re: Vos fournils',
        body_text: expect.stringContaining('Volontiers, parlons-en jeudi.'),
        in_reply_to: sent.rfcMessageId,
        thread_id: sent.threadId,
        provider_message_id: 'gmail-reply-1',
        mailbox_id: here.mailboxId,
        enrollment_id: sent.enrollmentId,
        position_id: here.enrollments[0]!.positionId,
      },
    ]);
    const recorded = await events(here.organisationId);
    expect(recorded.filter((e) => e.topic === 'REPLIED')).toEqual([
      {
        topic: 'REPLIED',
        campaign_id: here.campaignId,
        payload: {
          enrollmentId: sent.enrollmentId,
          messageId: outcome.receivedMessageId,
          sentMessageId: sent.messageId,
        },
      },
    ]);

    // the same email read again (a resync): nothing more
    const again = await receive(here, raw, { providerMessageId: 'gmail-reply-1', threadId: sent.threadId });
    expect(again).toMatchObject({ effect: 'duplicate', receivedMessageId: outcome.receivedMessageId });
    expect(await events(here.organisationId)).toHaveLength(recorded.length);
    const { rows: count } = await db.owner.query(
      `SELECT count(*)::int AS n FROM outreach.messages WHERE enrollment_id = $1 AND direction = 'INBOUND'`,
      [sent.enrollmentId],
    );
    expect(count[0].n).toBe(1);
  });

  it('an email without a provider id (simulated) is handled once by its Message-ID; a stranger’s email is ignored', async () => {
    const seed = await campaign();
    const sent = await seedSent(db.owner, seed, 0);
    const raw = replyMail(await mailboxEmail(seed), sent.email, sent.rfcMessageId);
    expect((await receive(seed, raw)).effect).toBe('handled');
    expect((await receive(seed, raw)).effect).toBe('duplicate');

    const stranger = replyMail(await mailboxEmail(seed), 'someone@else.fr', '<not-ours@elsewhere.fr>');
    expect(await receive(seed, stranger)).toMatchObject({
      kind: 'reply',
      effect: 'unmatched',
      matchedMessageId: null,
    });
    const { rows } = await db.owner.query(
      `SELECT count(*)::int AS n FROM outreach.messages WHERE organisation_id = $1 AND direction = 'INBOUND'`,
      [seed.organisationId],
    );
    expect(rows[0].n).toBe(1);
  });

  it('a reply after the sequence ended stops nothing but still records REPLIED for the email it answers', async () => {
    const seed = await campaign();
    const sent = await seedSent(db.owner, seed, 0);
    await db.owner.query("UPDATE outreach.campaign_enrollments SET status = 'COMPLETED' WHERE id = $1", [
      sent.enrollmentId,
    ]);
    const raw = replyMail(await mailboxEmail(seed), sent.email, sent.rfcMessageId);

    const outcome = await receive(seed, raw, {
      providerMessageId: 'gmail-late-reply',
      threadId: sent.threadId,
    });
    expect(outcome).toMatchObject({ kind: 'reply', effect: 'handled', enrollmentStatus: 'COMPLETED' });
    expect((await events(seed.organisationId)).filter((e) => e.topic === 'REPLIED')).toEqual([
      {
        topic: 'REPLIED',
        campaign_id: seed.campaignId,
        payload: {
          enrollmentId: sent.enrollmentId,
          messageId: outcome.receivedMessageId,
          sentMessageId: sent.messageId,
        },
      },
    ]);
  });

  it('an out-of-office pauses the enrolment for 3 schedule days, is not a reply, and the dispatch resumes it when due', async () => {
    const seed = await campaign();
    // Monday to Friday, 9:00 to 18:00 in Paris
    await db.owner.query(
      `UPDATE outreach.campaigns SET days = '{1,2,3,4,5}', start_hour = 9, end_hour = 18 WHERE id = $1`,
      [seed.campaignId],
    );
    const sent = await seedSent(db.owner, seed, 0, new Date('2026-11-26T09:00:00Z'));
    // Friday 27 November, 10:00 in Paris: three schedule days later is Wednesday 2 December, 10:00
    const receivedAt = new Date('2026-11-27T09:00:00Z');
    const outcome = await receive(
      seed,
      outOfOfficeMail(await mailboxEmail(seed), sent.email, sent.rfcMessageId),
      {
        providerMessageId: 'gmail-ooo-1',
        receivedAt,
      },
    );
    expect(outcome).toMatchObject({ kind: 'auto-reply', effect: 'handled', enrollmentStatus: 'PAUSED' });
    const resumeAt = new Date('2026-12-02T09:00:00Z');
    expect(await enrollment(sent.enrollmentId)).toMatchObject({ status: 'PAUSED', resume_at: resumeAt });
    const recorded = await events(seed.organisationId);
    expect(recorded.map((e) => e.topic)).toEqual(['ENROLLMENT_CHANGED']);
    const { rows: inbound } = await db.owner.query(
      `SELECT 1 FROM outreach.messages WHERE enrollment_id = $1 AND direction = 'INBOUND'`,
      [sent.enrollmentId],
    );
    expect(inbound).toEqual([]);

    const dispatch = async (now: Date) => {
      await db.owner.query(
        `UPDATE outreach.tasks SET leased_by = 'inbound-test', leased_until = $2 WHERE id = $1`,
        [sent.nextTaskId, new Date(now.getTime() + 60_000)],
      );
      return withTenant(orm, seed.organisationId, (em) =>
        dispatchTasks(em, [sent.nextTaskId!], { workerId: 'inbound-test', now, queuedLeaseSeconds: 600 }),
      );
    };
    const task = async () =>
      (
        await db.owner.query('SELECT status, scheduled_for FROM outreach.tasks WHERE id = $1', [
          sent.nextTaskId,
        ])
      ).rows[0];
    // due before the pause ends: waits for it, not cancelled
    expect(await dispatch(new Date('2026-11-30T10:00:00Z'))).toMatchObject({
      queued: [],
      rescheduled: 1,
      cancelled: 0,
    });
    expect(await task()).toEqual({ status: 'PENDING', scheduled_for: resumeAt });
    expect((await enrollment(sent.enrollmentId)).status).toBe('PAUSED');
    // the pause is over: ACTIVE again, and the follow-up goes on
    const result = await dispatch(new Date('2026-12-02T09:05:00Z'));
    expect(result.queued).toEqual([{ taskId: sent.nextTaskId, kind: 'DRAFT' }]);
    expect(await enrollment(sent.enrollmentId)).toMatchObject({ status: 'ACTIVE', resume_at: null });
    expect((await task()).status).toBe('QUEUED');
    expect((await events(seed.organisationId)).map((e) => e.topic)).toEqual([
      'ENROLLMENT_CHANGED',
      'ENROLLMENT_CHANGED',
    ]);
  });

  it('a reply during the pause still stops the enrolment', async () => {
    const seed = await campaign();
    const sent = await seedSent(db.owner, seed, 0);
    const to = await mailboxEmail(seed);
    await receive(seed, outOfOfficeMail(to, sent.email, sent.rfcMessageId));
    expect((await enrollment(sent.enrollmentId)).status).toBe('PAUSED');
    expect((await receive(seed, replyMail(to, sent.email, sent.rfcMessageId))).enrollmentStatus).toBe(
      'REPLIED',
    );
  });

  it('a hard bounce (5.1.1) matched by the attached original: message and enrolment BOUNCED, address suppressed', async () => {
    const seed = await campaign();
    const sent = await seedSent(db.owner, seed, 0);
    const outcome = await receive(
      seed,
      bounceMail(await mailboxEmail(seed), sent.email, sent.rfcMessageId, '5.1.1'),
    );
    expect(outcome).toMatchObject({
      kind: 'bounce',
      effect: 'handled',
      matchedMessageId: sent.messageId,
      enrollmentStatus: 'BOUNCED',
    });
    const { rows: message } = await db.owner.query(
      'SELECT status, error FROM outreach.messages WHERE id = $1',
      [sent.messageId],
    );
    expect(message[0]).toEqual({ status: 'BOUNCED', error: 'Bounced (5.1.1)' });
    const { rows: suppressions } = await db.owner.query(
      'SELECT value::text, reason FROM crm.suppressions WHERE organisation_id = $1',
      [seed.organisationId],
    );
    expect(suppressions).toEqual([{ value: sent.email, reason: 'BOUNCED' }]);
    expect((await events(seed.organisationId)).filter((e) => e.topic === 'BOUNCED')).toEqual([
      {
        topic: 'BOUNCED',
        campaign_id: seed.campaignId,
        payload: { enrollmentId: sent.enrollmentId, messageId: sent.messageId },
      },
    ]);
  });

  it('a soft bounce is sent again once, a schedule day later, through the SEND task; a second one is a bounce', async () => {
    const seed = await campaign();
    const sent = await seedSent(db.owner, seed, 0);
    const to = await mailboxEmail(seed);
    const receivedAt = new Date('2026-11-27T09:00:00Z');
    const first = await receive(seed, bounceMail(to, sent.email, sent.rfcMessageId, '4.2.2'), { receivedAt });
    expect(first).toMatchObject({ kind: 'soft-bounce', effect: 'handled', enrollmentStatus: 'ACTIVE' });
    const { rows: copies } = await db.owner.query(
      `SELECT id, status, retry_of, send_at, rfc_message_id, subject, body_text, step_id, mailbox_id
       FROM outreach.messages WHERE retry_of = $1`,
      [sent.messageId],
    );
    // every day of the seeded campaign is a schedule day, all day long
    const sendAt = new Date('2026-11-28T09:00:00Z');
    expect(copies).toEqual([
      {
        id: first.retryMessageId,
        status: 'QUEUED',
        retry_of: sent.messageId,
        send_at: sendAt,
        rfc_message_id: null,
        subject: 'Vos fournils',
        body_text: 'Bonjour',
        step_id: seed.steps[0]!.id,
        mailbox_id: seed.mailboxId,
      },
    ]);
    const { rows: sendTasks } = await db.owner.query(
      `SELECT status, message_id, scheduled_for FROM outreach.tasks WHERE enrollment_id = $1 AND kind = 'SEND'`,
      [sent.enrollmentId],
    );
    expect(sendTasks).toEqual([
      { status: 'PENDING', message_id: first.retryMessageId, scheduled_for: sendAt },
    ]);
    // the same report twice, or another for the same email: still one copy
    await receive(seed, bounceMail(to, sent.email, sent.rfcMessageId, '4.2.2'), { receivedAt });
    const { rows: count } = await db.owner.query(
      'SELECT count(*)::int AS n FROM outreach.messages WHERE retry_of = $1',
      [sent.messageId],
    );
    expect(count[0].n).toBe(1);

    // the copy goes out (as the sender records it) and soft-bounces too: now it is a bounce
    const copyRfc = `<${randomUUID()}@sender.fr>`;
    await db.owner.query(
      `UPDATE outreach.messages SET status = 'SENT', sent_at = now(), rfc_message_id = $2 WHERE id = $1`,
      [first.retryMessageId, copyRfc],
    );
    const second = await receive(seed, bounceMail(to, sent.email, copyRfc, '4.2.2'));
    expect(second).toMatchObject({
      kind: 'soft-bounce',
      matchedMessageId: first.retryMessageId,
      enrollmentStatus: 'BOUNCED',
    });
    const { rows: copy } = await db.owner.query('SELECT status FROM outreach.messages WHERE id = $1', [
      first.retryMessageId,
    ]);
    expect(copy[0].status).toBe('BOUNCED');
  });

  it('an unsubscribe request to our mailto unsubscribes and suppresses the address', async () => {
    const seed = await campaign();
    const sent = await seedSent(db.owner, seed, 0);
    const raw = `From: ${sent.email}\r\nTo: ${await mailboxEmail(seed)}\r\nSubject: unsubscribe\r\nIn-Reply-To: ${sent.rfcMessageId}\r\n\r\n\r\n`;
    expect(await receive(seed, raw, { threadId: sent.threadId })).toMatchObject({
      kind: 'unsubscribe-request',
      enrollmentStatus: 'UNSUBSCRIBED',
    });
    const { rows } = await db.owner.query('SELECT reason FROM crm.suppressions WHERE organisation_id = $1', [
      seed.organisationId,
    ]);
    expect(rows).toEqual([{ reason: 'UNSUBSCRIBED' }]);
  });
});
