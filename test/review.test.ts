// Reviewing drafts through the gateway: the queue, approving with edits, rejecting (next step or stop), one
// decision per draft, and the walls: another organisation's drafts are not found, a read-only key cannot decide.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApproveMessageDocument,
  CreateApiKeyDocument,
  RejectMessageDocument,
  ReviewQueueDocument,
  type SessionFragment,
} from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok } from './helpers/client.ts';
import { ownerClient } from './helpers/db.ts';
import { type CampaignSeed, seedAwaitingMessages, seedDraftCampaign } from './helpers/drafts.ts';

let org: SessionFragment;
let other: SessionFragment;
const db = ownerClient();

beforeAll(async () => {
  await db.connect();
  [org, other] = await Promise.all([newOrganisation(), newOrganisation()]);
});
afterAll(async () => {
  await db.end();
});

const as = (session: SessionFragment) => ({ token: session.accessToken });

async function campaignForReview(onReject: 'NEXT_STEP' | 'STOP' = 'NEXT_STEP', people = 1) {
  const seed = await seedDraftCampaign(db, {
    organisationId: org.organisation.id,
    steps: [
      { subject: 'S1', body: 'B1' },
      { subject: null, body: 'B2' },
    ],
    people: Array.from({ length: people }, (_, i) => ({ firstName: `P${i}` })),
    requireApproval: true,
    onReject,
  });
  const messageIds = await seedAwaitingMessages(db, seed, 0);
  return { seed, messageIds };
}

async function row(messageId: string) {
  const { rows } = await db.query(
    'SELECT status, subject, body_text, body_html, reviewed_by, reviewed_at FROM outreach.messages WHERE id = $1',
    [messageId],
  );
  return rows[0];
}

async function events(seed: CampaignSeed) {
  const { rows } = await db.query<{ topic: string; payload: Record<string, string> }>(
    'SELECT topic, payload FROM outreach.outbox WHERE campaign_id = $1 ORDER BY sequence',
    [seed.campaignId],
  );
  return rows;
}

async function enrollmentRow(id: string) {
  const { rows } = await db.query(
    'SELECT status, stopped_reason, current_step_index FROM outreach.campaign_enrollments WHERE id = $1',
    [id],
  );
  return rows[0];
}

describe('review queue', () => {
  it("lists a campaign's drafts awaiting approval, oldest first, page by page", async () => {
    const { seed, messageIds } = await campaignForReview('NEXT_STEP', 3);
    await db.query(`UPDATE outreach.messages SET status = 'QUEUED' WHERE id = $1`, [messageIds[1]]);
    const first = await ok(ReviewQueueDocument, { campaignId: seed.campaignId, first: 1 }, as(org));
    expect(first.reviewQueue.map((m) => m.id)).toEqual([messageIds[0]]);
    expect(first.reviewQueue[0]).toMatchObject({
      status: 'AWAITING_APPROVAL',
      subject: 'Draft subject 1',
      stepIndex: 0,
      step: { id: seed.steps[0].id, index: 0 },
      variant: null,
      enrollment: { id: seed.enrollments[0].id, status: 'ACTIVE' },
    });
    const rest = await ok(
      ReviewQueueDocument,
      { campaignId: seed.campaignId, first: 10, after: first.reviewQueue[0].cursor },
      as(org),
    );
    expect(rest.reviewQueue.map((m) => m.id)).toEqual([messageIds[2]]);
    // without a campaign: every campaign of the organisation, this one's drafts among them
    const all = await ok(ReviewQueueDocument, { first: 200 }, as(org));
    expect(all.reviewQueue.map((m) => m.id)).toEqual(expect.arrayContaining([messageIds[0], messageIds[2]]));
    expect(all.reviewQueue.map((m) => m.id)).not.toContain(messageIds[1]);
  });

  it('refuses a page size out of bounds and an unknown campaign', async () => {
    const tooMany = await gql(ReviewQueueDocument, { first: 201 }, as(org));
    expect(errorCode(tooMany)).toBe('BAD_USER_INPUT');
    const unknown = await gql(ReviewQueueDocument, { campaignId: crypto.randomUUID() }, as(org));
    expect(errorCode(unknown)).toBe('NOT_FOUND');
  });
});

describe('approving', () => {
  it('queues the draft with the edits, its HTML made again, the reviewer recorded and DRAFTED announced', async () => {
    const { seed, messageIds } = await campaignForReview();
    const { approveMessage } = await ok(
      ApproveMessageDocument,
      {
        id: messageIds[0],
        subject: '  Une question rapide  ',
        bodyText: 'Bonjour,\r\n\r\nVoir https://acme.fr.',
      },
      as(org),
    );
    expect(approveMessage).toMatchObject({
      status: 'QUEUED',
      subject: 'Une question rapide',
      bodyText: 'Bonjour,\n\nVoir https://acme.fr.',
      bodyHtml: '<p>Bonjour,</p>\n<p>Voir <a href="https://acme.fr">https://acme.fr</a>.</p>',
    });
    expect(approveMessage.reviewedAt).toBeTruthy();
    expect(await row(messageIds[0])).toMatchObject({ status: 'QUEUED', reviewed_by: org.user.id });
    expect(await events(seed)).toEqual([
      { topic: 'DRAFTED', payload: { enrollmentId: seed.enrollments[0].id, messageId: messageIds[0] } },
    ]);
  });

  it('keeps the draft as written when approved without edits', async () => {
    const { messageIds } = await campaignForReview();
    const { approveMessage } = await ok(ApproveMessageDocument, { id: messageIds[0] }, as(org));
    expect(approveMessage).toMatchObject({
      status: 'QUEUED',
      subject: 'Draft subject 1',
      bodyText: 'Draft body 1',
      bodyHtml: '<p>Draft body 1</p>',
    });
  });

  it('refuses a second decision on the same draft, and never queues it twice', async () => {
    const { seed, messageIds } = await campaignForReview();
    const twice = await Promise.all([
      gql(ApproveMessageDocument, { id: messageIds[0] }, as(org)),
      gql(ApproveMessageDocument, { id: messageIds[0] }, as(org)),
    ]);
    expect(twice.map((r) => r.data?.approveMessage?.status ?? errorCode(r)).sort()).toEqual([
      'CONFLICT',
      'QUEUED',
    ]);
    const reject = await gql(RejectMessageDocument, { id: messageIds[0] }, as(org));
    expect(errorCode(reject)).toBe('CONFLICT');
    expect(reject.errors?.[0].message).toBe('The message is QUEUED, not awaiting approval');
    expect((await events(seed)).map((e) => e.topic)).toEqual(['DRAFTED']);
    expect((await row(messageIds[0])).status).toBe('QUEUED');
  });

  it('refuses an empty or multi-line subject and an empty body, changing nothing', async () => {
    const { messageIds } = await campaignForReview();
    for (const edits of [{ subject: '  ' }, { subject: 'Hello\r\nBcc: x@evil.fr' }, { bodyText: ' \n ' }]) {
      const res = await gql(ApproveMessageDocument, { id: messageIds[0], ...edits }, as(org));
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
    }
    expect(await row(messageIds[0])).toMatchObject({
      status: 'AWAITING_APPROVAL',
      subject: 'Draft subject 1',
    });
  });
});

describe('rejecting', () => {
  it('moves the enrolment on to its next step when the campaign says NEXT_STEP', async () => {
    const { seed, messageIds } = await campaignForReview('NEXT_STEP');
    const { rejectMessage } = await ok(RejectMessageDocument, { id: messageIds[0] }, as(org));
    expect(rejectMessage).toMatchObject({
      status: 'REJECTED',
      enrollment: { status: 'ACTIVE', currentStepIndex: 1 },
    });
    expect(await row(messageIds[0])).toMatchObject({ status: 'REJECTED', reviewed_by: org.user.id });
    const { rows: tasks } = await db.query(
      `SELECT status FROM outreach.tasks WHERE enrollment_id = $1 AND step_id = $2 AND kind = 'DRAFT'`,
      [seed.enrollments[0].id, seed.steps[1].id],
    );
    expect(tasks).toEqual([{ status: 'PENDING' }]);
    expect((await events(seed)).map((e) => e.topic)).toEqual(['ENROLLMENT_CHANGED']);
    const approve = await gql(ApproveMessageDocument, { id: messageIds[0] }, as(org));
    expect(errorCode(approve)).toBe('CONFLICT');
  });

  it('stops the enrolment when the campaign says STOP', async () => {
    const { seed, messageIds } = await campaignForReview('STOP');
    const { rejectMessage } = await ok(RejectMessageDocument, { id: messageIds[0] }, as(org));
    expect(rejectMessage.enrollment.status).toBe('STOPPED');
    expect(await enrollmentRow(seed.enrollments[0].id)).toMatchObject({
      status: 'STOPPED',
      stopped_reason: 'DRAFT_REJECTED',
    });
    expect(await events(seed)).toEqual([
      { topic: 'ENROLLMENT_CHANGED', payload: { enrollmentId: seed.enrollments[0].id } },
    ]);
  });
});

describe('walls', () => {
  it("treats another organisation's drafts and campaigns as missing", async () => {
    const { seed, messageIds } = await campaignForReview();
    for (const res of [
      await gql(ApproveMessageDocument, { id: messageIds[0], subject: 'Hijacked' }, as(other)),
      await gql(RejectMessageDocument, { id: messageIds[0] }, as(other)),
      await gql(ReviewQueueDocument, { campaignId: seed.campaignId }, as(other)),
      await gql(ApproveMessageDocument, { id: 'not-an-id' }, as(other)),
    ]) {
      expect(errorCode(res)).toBe('NOT_FOUND');
    }
    const all = await ok(ReviewQueueDocument, { first: 200 }, as(other));
    expect(all.reviewQueue.map((m) => m.id)).not.toContain(messageIds[0]);
    expect(await row(messageIds[0])).toMatchObject({
      status: 'AWAITING_APPROVAL',
      subject: 'Draft subject 1',
    });
  });

  it('lets a read-only key see the queue but not decide', async () => {
    const { seed, messageIds } = await campaignForReview();
    const { createApiKey } = await ok(CreateApiKeyDocument, { name: 'dashboard', scopes: ['READ'] }, as(org));
    const key = { token: createApiKey.secret };
    const queue = await ok(ReviewQueueDocument, { campaignId: seed.campaignId }, key);
    expect(queue.reviewQueue.map((m) => m.id)).toEqual(messageIds);
    expect(errorCode(await gql(ApproveMessageDocument, { id: messageIds[0] }, key))).toBe('FORBIDDEN');
    expect(errorCode(await gql(RejectMessageDocument, { id: messageIds[0] }, key))).toBe('FORBIDDEN');
    expect((await row(messageIds[0])).status).toBe('AWAITING_APPROVAL');
  });
});
