// The sender end to end on a database of its own: scheduler, drafter and sender on one in-process bus and a
// clock the test moves, Gmail and Google's token endpoint replaced by the local fake the real googleapis client
// talks to. Every email must land once, with its headers and thread, whatever Gmail answers.
import { readdir, readFile } from 'node:fs/promises';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { withTenant } from '../lib/db/orm.ts';
import {
  launchCampaign,
  pauseCampaign,
  unenroll,
} from '../subgraphs/outreach/services/campaign-lifecycle.ts';
import { approveMessage } from '../subgraphs/outreach/services/review.ts';
import { prepareSends } from '../subgraphs/outreach/services/sending-prepare.ts';
import { outboxFolder } from '../workers/sender/transport.ts';
import type { StoredMessage } from './fakes/gmail-store.ts';
import {
  addVariantA,
  PUBLIC_URL,
  type SendingCampaign,
  type SendingStack,
  seedSendingCampaign,
  startSendingStack,
} from './helpers/sending.ts';
import { eventually } from './helpers/wait.ts';

let stack: SendingStack;
const DAY = 86_400_000;

beforeAll(async () => {
  stack = await startSendingStack('sender');
});
afterAll(async () => {
  await stack?.stop();
});
// one database for the file: what a test leaves due must not reach the next test's rounds
afterEach(async () => {
  await stack.db.owner.query(
    "UPDATE outreach.tasks SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL WHERE status IN ('PENDING', 'QUEUED', 'RUNNING')",
  );
});

interface MessageRow {
  id: string;
  enrollment_id: string;
  status: string;
  step_index: number;
  rfc_message_id: string | null;
  provider_message_id: string | null;
  thread_id: string | null;
  sent_at: Date | null;
  error: string | null;
  attempts: number;
}

async function messagesOf(campaign: SendingCampaign): Promise<MessageRow[]> {
  const { rows } = await stack.db.owner.query<MessageRow>(
    `SELECT m.id, m.enrollment_id, m.status, m.step_index, m.rfc_message_id, m.provider_message_id, m.thread_id,
       m.sent_at, m.error, m.attempts
     FROM outreach.messages m JOIN outreach.campaign_enrollments e ON e.id = m.enrollment_id
     WHERE e.campaign_id = $1 ORDER BY m.step_index, m.created_at`,
    [campaign.campaignId],
  );
  return rows;
}

async function eventsOf(campaign: SendingCampaign) {
  const { rows } = await stack.db.owner.query<{ topic: string; payload: Record<string, string> }>(
    'SELECT topic, payload FROM outreach.outbox WHERE campaign_id = $1 ORDER BY sequence',
    [campaign.campaignId],
  );
  return rows;
}

async function enrollmentOf(id: string) {
  const { rows } = await stack.db.owner.query<{ status: string; stopped_reason: string | null }>(
    'SELECT status, stopped_reason FROM outreach.campaign_enrollments WHERE id = $1',
    [id],
  );
  return rows[0]!;
}

async function mailboxOf(campaign: SendingCampaign) {
  const { rows } = await stack.db.owner.query<{
    status: string;
    status_reason: string | null;
    paused_until: Date | null;
  }>('SELECT status, status_reason, paused_until FROM outreach.mailboxes WHERE id = $1', [
    campaign.mailboxId,
  ]);
  return rows[0]!;
}

const sentBy = (campaign: SendingCampaign): StoredMessage[] => stack.google.gmail.sent(campaign.mailboxEmail);

/** A one-step campaign for one prospect, sending through the fake Gmail. */
function oneEmail(firstName = 'Paul') {
  return seedSendingCampaign(stack, {
    steps: [{ subject: 'Une idée pour {{company.name}}', body: 'Bonjour {{firstName}},\n\nUne idée.' }],
    people: [{ firstName, companyName: 'Boulangeries Martin' }],
  });
}

describe('sending a campaign through Gmail', () => {
  it('lands every email of a 3-step A/B campaign once, follow-ups in the same thread, for 20 prospects', async () => {
    const people = Array.from({ length: 20 }, (_, i) => ({
      firstName: `Prénom${i}`,
      companyName: `Maison ${i}`,
    }));
    const campaign = await seedSendingCampaign(stack, {
      steps: [
        {
          subject: 'Une idée pour {{company.name}}',
          body: 'Bonjour {{firstName}},\n\nUne idée pour {{company.name}}.',
          variant: {
            subject: 'Question rapide, {{firstName}}',
            body: 'Bonjour {{firstName}},\n\nUne question.',
          },
        },
        { body: 'Je me permets de revenir vers vous, {{firstName}}.' },
        { body: 'Dernier message de ma part.' },
      ],
      people,
    });
    await addVariantA(stack.db.owner, campaign, 0, {
      subject: 'Une idée pour {{company.name}} (A)',
      body: 'Bonjour {{firstName}},\n\nUne idée (A).',
    });

    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(20);
    stack.clock.advance(2 * DAY + 60_000);
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(40);
    stack.clock.advance(2 * DAY + 60_000);
    await stack.settle();

    const sent = sentBy(campaign);
    const messages = await messagesOf(campaign);
    expect(messages).toHaveLength(60);
    expect(messages.every((m) => m.status === 'SENT' && m.sent_at && m.attempts === 1)).toBe(true);
    // once each: one Gmail message per Message-ID, the one the database recorded
    expect(sent).toHaveLength(60);
    expect(new Set(sent.map((m) => m.headers.get('message-id'))).size).toBe(60);
    const byRfc = new Map(sent.map((m) => [m.headers.get('message-id'), m]));
    for (const m of messages) {
      const gmail = byRfc.get(m.rfc_message_id!);
      expect(gmail?.id).toBe(m.provider_message_id);
      expect(gmail?.threadId).toBe(m.thread_id);
      expect(m.rfc_message_id).toMatch(/^<[0-9a-f-]{36}@sender\.fr>$/);
    }
    // both variants went out
    const firstSubjects = new Set(
      await Promise.all(
        messages
          .filter((m) => m.step_index === 0)
          .map(async (m) => (await simpleParser(byRfc.get(m.rfc_message_id!)!.raw)).subject),
      ),
    );
    expect([...firstSubjects].some((s) => s?.includes('(A)'))).toBe(true);
    expect([...firstSubjects].some((s) => s?.includes('Question rapide'))).toBe(true);

    for (const enrollment of campaign.enrollments) {
      const [first, second, third] = messages.filter((m) => m.enrollment_id === enrollment.id);
      const [g1, g2, g3] = [first!, second!, third!].map((m) => byRfc.get(m.rfc_message_id!)!);
      expect(new Set([g1!.threadId, g2!.threadId, g3!.threadId]).size).toBe(1);
      expect(g2!.headers.get('in-reply-to')).toBe(first!.rfc_message_id);
      expect(g2!.headers.get('references')).toBe(first!.rfc_message_id);
      expect(g3!.headers.get('in-reply-to')).toBe(second!.rfc_message_id);
      expect(g3!.headers.get('references')).toBe(`${first!.rfc_message_id} ${second!.rfc_message_id}`);
      const parsed = await Promise.all([g1!, g2!, g3!].map((g) => simpleParser(g.raw)));
      const to = parsed.map((p) => (Array.isArray(p.to) ? undefined : p.to?.value[0]?.address));
      expect(new Set(to)).toEqual(new Set([`prospect.${enrollment.positionId}@client.fr`]));
      expect(parsed[1]!.subject).toBe(`Re: ${parsed[0]!.subject}`);
      expect(parsed[2]!.subject).toBe(`Re: ${parsed[0]!.subject}`);
      for (const p of parsed) {
        expect(p.from?.value[0]).toEqual({ address: campaign.mailboxEmail, name: 'Claire Dubois' });
        expect(p.text).toBeTruthy();
        expect(p.html).toContain('<p>');
      }
      for (const g of [g1!, g2!, g3!]) {
        expect(g.headers.get('list-unsubscribe')).toMatch(
          new RegExp(
            `^<${PUBLIC_URL}/t/u/[A-Za-z0-9_-]+>, <mailto:${campaign.mailboxEmail}\\?subject=unsubscribe>$`,
          ),
        );
        expect(g.headers.get('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
      }
      expect((await enrollmentOf(enrollment.id)).status).toBe('COMPLETED');
    }
    const events = await eventsOf(campaign);
    const sentEvents = events.filter((e) => e.topic === 'SENT');
    expect(sentEvents).toHaveLength(60);
    expect(new Set(sentEvents.map((e) => e.payload.messageId))).toEqual(new Set(messages.map((m) => m.id)));
    // what the figures count a send by: its time, its step and, on the A/B step, its variant
    const byId = new Map(messages.map((m) => [m.id, m]));
    for (const e of sentEvents) {
      const m = byId.get(e.payload.messageId)!;
      expect(e.payload).toMatchObject({
        sentAt: m.sent_at!.toISOString(),
        stepId: campaign.steps[m.step_index]!.id,
      });
      expect(Boolean(e.payload.variantId)).toBe(m.step_index === 0);
    }
    expect(stack.google.gmail.calls.list).toBe(0);
  });

  it('sends nothing to an address suppressed after its email was drafted, and stops the enrolment', async () => {
    const campaign = await oneEmail();
    // drafted, not yet handed to the sender
    await stack.scheduler.runOnce();
    await eventually(async () => (await messagesOf(campaign)).length === 1, 10_000);
    const enrollmentId = campaign.enrollments[0]!.id;
    await stack.db.owner.query(
      `INSERT INTO crm.suppressions (organisation_id, id, value, kind, reason)
       SELECT organisation_id, gen_random_uuid(), email, 'EMAIL', 'UNSUBSCRIBED'
       FROM outreach.campaign_enrollments WHERE id = $1`,
      [enrollmentId],
    );
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);
    const [message] = await messagesOf(campaign);
    expect(message!.status).toBe('FAILED');
    expect(message!.error).toMatch(/^Not sent: /);
    expect(await enrollmentOf(enrollmentId)).toEqual({
      status: 'UNSUBSCRIBED',
      stopped_reason: 'SUPPRESSED_UNSUBSCRIBED',
    });
  });
});

describe('the handoff to the sender', () => {
  it('sends an approved draft once approved, not before', async () => {
    const campaign = await seedSendingCampaign(stack, {
      steps: [{ subject: 'Une idée pour {{company.name}}', body: 'Bonjour {{firstName}},\n\nUne idée.' }],
      people: [{ firstName: 'Inès' }],
    });
    await stack.db.owner.query('UPDATE outreach.campaigns SET require_approval = true WHERE id = $1', [
      campaign.campaignId,
    ]);
    await stack.settle();
    const [draft] = await messagesOf(campaign);
    expect(draft!.status).toBe('AWAITING_APPROVAL');
    expect(sentBy(campaign)).toHaveLength(0);

    await withTenant(stack.orm, campaign.organisationId, (em) =>
      approveMessage(em, draft!.id, { subject: 'Une idée, Inès' }, { userId: null, at: stack.clock.now() }),
    );
    await stack.settle();
    const sent = sentBy(campaign);
    expect(sent).toHaveLength(1);
    expect((await simpleParser(sent[0]!.raw)).subject).toBe('Une idée, Inès');
    expect((await messagesOf(campaign))[0]!.status).toBe('SENT');
  });

  it('never sends the drafted email of an enrolment that stopped meanwhile, and says why', async () => {
    const campaign = await oneEmail();
    await stack.scheduler.runOnce();
    await eventually(async () => (await messagesOf(campaign)).length === 1, 10_000);
    // the prospect answered elsewhere: the enrolment is over
    await stack.db.owner.query(
      "UPDATE outreach.campaign_enrollments SET status = 'REPLIED', stopped_reason = 'REPLIED' WHERE id = $1",
      [campaign.enrollments[0]!.id],
    );
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);
    const [message] = await messagesOf(campaign);
    expect(message!.status).toBe('FAILED');
    expect(message!.error).toBe('Not sent: the enrolment stopped (REPLIED)');
  });

  it('never sends the drafted email of a prospect taken out of the campaign, and says why', async () => {
    const campaign = await oneEmail();
    await stack.scheduler.runOnce();
    await eventually(async () => (await messagesOf(campaign)).length === 1, 10_000);
    await withTenant(stack.orm, campaign.organisationId, (em) => unenroll(em, campaign.enrollments[0]!.id));
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);
    const [message] = await messagesOf(campaign);
    expect(message).toMatchObject({
      status: 'FAILED',
      error: 'Not sent: the enrolment stopped (UNENROLLED)',
    });
  });

  it('holds a paused campaign’s drafted email and sends it once the campaign is launched again', async () => {
    const campaign = await oneEmail();
    await stack.scheduler.runOnce();
    await eventually(async () => (await messagesOf(campaign)).length === 1, 10_000);
    const asTenant = <T>(fn: Parameters<typeof withTenant<T>>[2]) =>
      withTenant(stack.orm, campaign.organisationId, fn);
    await asTenant((em) => pauseCampaign(em, campaign.campaignId, stack.clock.now()));
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);
    expect((await messagesOf(campaign))[0]!.status).toBe('QUEUED');

    await asTenant((em) => launchCampaign(em, campaign.campaignId, stack.clock.now()));
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(1);
    expect((await messagesOf(campaign))[0]!.status).toBe('SENT');
  });

  it('keeps the email of a mailbox to reconnect until it is connected again', async () => {
    const campaign = await oneEmail();
    await stack.scheduler.runOnce();
    await eventually(async () => (await messagesOf(campaign)).length === 1, 10_000);
    await stack.db.owner.query("UPDATE outreach.mailboxes SET status = 'NEEDS_RECONNECT' WHERE id = $1", [
      campaign.mailboxId,
    ]);
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);
    expect((await messagesOf(campaign))[0]!.status).toBe('QUEUED');
    await stack.db.owner.query("UPDATE outreach.mailboxes SET status = 'ACTIVE' WHERE id = $1", [
      campaign.mailboxId,
    ]);
    stack.clock.advance(3_600_000);
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(1);
  });
});

describe('tenancy', () => {
  it("never claims another organisation's send, whatever organisation a queue message names", async () => {
    const campaign = await oneEmail();
    const other = await oneEmail();
    await stack.scheduler.runOnce();
    await eventually(async () => (await messagesOf(campaign)).length === 1, 10_000);
    const { rows } = await stack.db.owner.query<{ id: string }>(
      "SELECT id FROM outreach.tasks WHERE kind = 'SEND' AND message_id = $1",
      [(await messagesOf(campaign))[0]!.id],
    );
    const prepared = await withTenant(stack.orm, other.organisationId, (em) =>
      prepareSends(em, other.organisationId, [rows[0]!.id], {
        workerId: 'sender-test',
        now: stack.clock.now(),
        leaseMs: 60_000,
        maxAttempts: 8,
      }),
    );
    expect(prepared.size).toBe(0);
    expect((await messagesOf(campaign))[0]).toMatchObject({
      status: 'QUEUED',
      rfc_message_id: null,
      attempts: 0,
    });
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(1);
  });
});

describe('when Gmail fails', () => {
  it('429 with Retry-After: the email waits, its mailbox pauses, then it goes once', async () => {
    const campaign = await oneEmail();
    stack.google.gmail.fail('send', { status: 429, reason: 'userRateLimitExceeded', retryAfter: 120 });
    const before = stack.clock.now().getTime();
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);
    const [waiting] = await messagesOf(campaign);
    expect(waiting!.status).toBe('QUEUED');
    const rfc = waiting!.rfc_message_id;
    expect(rfc).toBeTruthy();
    const paused = (await mailboxOf(campaign)).paused_until!;
    expect(new Date(paused).getTime()).toBeGreaterThanOrEqual(before + 120_000);

    stack.clock.set(new Date(new Date(paused).getTime() + 1000));
    await stack.settle();
    const sent = sentBy(campaign);
    expect(sent).toHaveLength(1);
    const [message] = await messagesOf(campaign);
    expect(message).toMatchObject({ status: 'SENT', rfc_message_id: rfc, provider_message_id: sent[0]!.id });
    expect(sent[0]!.headers.get('message-id')).toBe(rfc);
  });

  it('500 after Gmail accepted the email: the lookup finds it, recorded SENT, never sent twice', async () => {
    const campaign = await oneEmail();
    const sends = stack.google.gmail.calls.send;
    stack.google.gmail.fail('send', { status: 500, afterAccepting: true });
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(1);
    expect((await messagesOf(campaign))[0]!.status).toBe('SENDING');

    stack.clock.advance(3_600_000);
    await stack.settle();
    const sent = sentBy(campaign);
    expect(sent).toHaveLength(1);
    expect(stack.google.gmail.calls.send).toBe(sends + 1);
    const [message] = await messagesOf(campaign);
    expect(message).toMatchObject({
      status: 'SENT',
      provider_message_id: sent[0]!.id,
      thread_id: sent[0]!.threadId,
    });
    expect((await eventsOf(campaign)).filter((e) => e.topic === 'SENT')).toHaveLength(1);
  });

  it('500 before Gmail accepted: the lookup finds nothing, it is sent once with the same Message-ID', async () => {
    const campaign = await oneEmail();
    stack.google.gmail.fail('send', { status: 503 });
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);
    const [pending] = await messagesOf(campaign);
    expect(pending!.status).toBe('SENDING');

    const lookups = stack.google.gmail.calls.list;
    stack.clock.advance(3_600_000);
    await stack.settle();
    expect(stack.google.gmail.calls.list).toBe(lookups + 1);
    const sent = sentBy(campaign);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.get('message-id')).toBe(pending!.rfc_message_id);
    expect((await messagesOf(campaign))[0]!.status).toBe('SENT');
  });

  it('an unknown outcome, then the enrolment stopped: not found in the mailbox, so never sent', async () => {
    const campaign = await oneEmail();
    stack.google.gmail.fail('send', { status: 502 });
    await stack.settle();
    expect((await messagesOf(campaign))[0]!.status).toBe('SENDING');
    await stack.db.owner.query(
      "UPDATE outreach.campaign_enrollments SET status = 'REPLIED', stopped_reason = 'REPLIED' WHERE id = $1",
      [campaign.enrollments[0]!.id],
    );
    const lookups = stack.google.gmail.calls.list;
    stack.clock.advance(3_600_000);
    await stack.settle();
    expect(stack.google.gmail.calls.list).toBe(lookups + 1);
    expect(sentBy(campaign)).toHaveLength(0);
    const [message] = await messagesOf(campaign);
    expect(message).toMatchObject({ status: 'FAILED', error: 'Not sent: the enrolment stopped (REPLIED)' });
  });

  it('400: the email is FAILED with Google’s reason and the enrolment stops', async () => {
    const campaign = await oneEmail();
    stack.google.gmail.fail('send', { status: 400, reason: 'invalidArgument', message: 'Invalid To header' });
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);
    const [message] = await messagesOf(campaign);
    expect(message!.status).toBe('FAILED');
    expect(message!.error).toBe('invalidArgument: Invalid To header');
    const enrollmentId = campaign.enrollments[0]!.id;
    expect(await enrollmentOf(enrollmentId)).toEqual({ status: 'FAILED', stopped_reason: 'SEND_FAILED' });
    const topics = (await eventsOf(campaign)).map((e) => e.topic);
    expect(topics.slice(-2)).toEqual(['FAILED', 'ENROLLMENT_CHANGED']);
  });

  it('a revoked grant: the mailbox needs reconnecting, nothing goes, and after reconnecting it goes once', async () => {
    const campaign = await oneEmail();
    stack.google.failTokens({
      status: 400,
      error: 'invalid_grant',
      description: 'Token has been expired or revoked.',
    });
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);
    expect(await mailboxOf(campaign)).toMatchObject({
      status: 'NEEDS_RECONNECT',
      status_reason: 'invalid_grant (Token has been expired or revoked.)',
    });
    expect((await eventsOf(campaign)).map((e) => e.topic)).toContain('MAILBOX_NEEDS_RECONNECT');
    expect((await messagesOf(campaign))[0]!.status).toBe('QUEUED');

    // still waiting while the mailbox is not connected again
    stack.clock.advance(3_600_000);
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(0);

    // connectMailbox makes it ACTIVE again
    await stack.db.owner.query(
      "UPDATE outreach.mailboxes SET status = 'ACTIVE', status_reason = NULL WHERE id = $1",
      [campaign.mailboxId],
    );
    stack.clock.advance(3_600_000);
    await stack.settle();
    expect(sentBy(campaign)).toHaveLength(1);
    expect((await messagesOf(campaign))[0]!.status).toBe('SENT');
  });
});

describe('an OUTBOX mailbox', () => {
  it('writes the .eml once, parseable, with the headers', async () => {
    const campaign = await seedSendingCampaign(stack, {
      steps: [{ subject: 'Une idée pour {{company.name}}', body: 'Bonjour {{firstName}},\n\nUne idée.' }],
      people: [{ firstName: 'Léa', companyName: 'Fournil Léa' }],
      provider: 'OUTBOX',
    });
    await stack.settle();
    const folder = outboxFolder(stack.dataDir, campaign.mailboxEmail);
    const [message] = await messagesOf(campaign);
    expect(message!.status).toBe('SENT');
    expect(await readdir(folder)).toEqual([`${message!.id}.eml`]);
    expect(message!.provider_message_id).toBe(`${message!.id}.eml`);
    const parsed = await simpleParser(await readFile(`${folder}/${message!.id}.eml`));
    expect(parsed.subject).toBe('Une idée pour Fournil Léa');
    expect(parsed.messageId).toBe(message!.rfc_message_id);
    expect(parsed.text).toContain('Bonjour Léa,');
    expect(JSON.stringify(parsed.headers.get('list'))).toContain(`${PUBLIC_URL}/t/u/`);
    expect(stack.google.gmail.sent(campaign.mailboxEmail)).toHaveLength(0);
  });
});
