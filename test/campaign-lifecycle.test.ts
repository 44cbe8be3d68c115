// Enrolling, launching, pausing and unenrolling through the gateway: every reason a position is skipped,
// every launch refusal, and the walls between organisations and roles.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../lib/auth/password.ts';
import {
  CreateApiKeyDocument,
  EnrollPositionsDocument,
  LaunchCampaignDocument,
  LoginDocument,
  PauseCampaignDocument,
  type SessionFragment,
  UnenrollDocument,
} from './generated/graphql.ts';
import { authoredCampaign } from './helpers/authored-campaign.ts';
import { type CampaignSpec, seedCampaign, seedPositions } from './helpers/campaign-fixture.ts';
import { errorCode, gql, newOrganisation, ok, PASSWORD, uniqueEmail } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { eventually } from './helpers/wait.ts';

let org: SessionFragment;
let token: string;

const asOwner = <T>(fn: (c: pg.Client) => Promise<T>) => withClient(ownerClient(), fn);

async function campaign(spec: CampaignSpec = {}) {
  return asOwner((c) => seedCampaign(c, org.organisation.id, spec));
}

async function positions(count: number, spec?: Parameters<typeof seedPositions>[3]) {
  return asOwner((c) => seedPositions(c, org.organisation.id, count, spec));
}

async function countEnrollments(campaignId: string): Promise<number> {
  return asOwner(async (c) => {
    const { rows } = await c.query(
      'SELECT count(*)::int AS n FROM outreach.campaign_enrollments WHERE campaign_id = $1',
      [campaignId],
    );
    return rows[0].n;
  });
}

async function statusOf(campaignId: string): Promise<string> {
  return asOwner(async (c) => {
    const { rows } = await c.query('SELECT status FROM outreach.campaigns WHERE id = $1', [campaignId]);
    return rows[0].status;
  });
}

beforeAll(async () => {
  org = await newOrganisation();
  token = org.accessToken;
});

describe('enrolPositions', () => {
  it('enrols the positions that pass and gives every other one its reason', async () => {
    const target = await campaign();
    const other = await campaign({ status: 'RUNNING' });
    const emails = {
      ok: uniqueEmail('ok'),
      suppressed: uniqueEmail('suppressed'),
      domain: `someone@blocked-${randomUUID().slice(0, 8)}.fr`,
      bounced: uniqueEmail('bounced'),
      elsewhere: uniqueEmail('elsewhere'),
    };
    const specs = [
      { email: emails.ok },
      { email: null },
      { email: uniqueEmail('invalid'), emailStatus: 'INVALID' as const },
      { email: 'not-an-address' },
      { email: emails.suppressed },
      { email: emails.domain },
      { email: emails.bounced },
      { email: emails.elsewhere },
      // a second position with the first one's address: one enrolment per address
      { email: emails.ok.toUpperCase() },
    ];
    const ids = await positions(specs.length, (i) => specs[i]);
    const elsewhere = await positions(2, (i) => ({ email: i === 0 ? emails.elsewhere : emails.bounced }));
    const otherOrg = await newOrganisation();
    const foreign = await asOwner((c) => seedPositions(c, otherOrg.organisation.id, 1));
    await asOwner(async (c) => {
      await c.query(
        `INSERT INTO crm.suppressions (organisation_id, id, value, kind, reason)
         VALUES ($1, gen_random_uuid(), $2, 'EMAIL', 'UNSUBSCRIBED'), ($1, gen_random_uuid(), $3, 'DOMAIN', 'MANUAL')`,
        [org.organisation.id, emails.suppressed, emails.domain.split('@')[1]],
      );
      // the address is active in another running campaign; the other bounced in a past campaign
      await c.query(
        `INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id, status, email)
         VALUES ($1, gen_random_uuid(), $2, $3, 'ACTIVE', $4), ($1, gen_random_uuid(), $2, $5, 'BOUNCED', $6)`,
        [org.organisation.id, other.campaignId, elsewhere[0], emails.elsewhere, elsewhere[1], emails.bounced],
      );
    });
    const missing = randomUUID();
    const { enrollPositions } = await ok(
      EnrollPositionsDocument,
      { campaignId: target.campaignId, positionIds: [...ids, missing, foreign[0], 'not-a-uuid'] },
      { token },
    );
    expect(enrollPositions.enrolled).toBe(1);
    expect(enrollPositions.skipped).toEqual([
      { positionId: ids[1], reason: 'NO_EMAIL' },
      { positionId: ids[2], reason: 'INVALID_EMAIL' },
      { positionId: ids[3], reason: 'INVALID_EMAIL' },
      { positionId: ids[4], reason: 'SUPPRESSED' },
      { positionId: ids[5], reason: 'SUPPRESSED' },
      { positionId: ids[6], reason: 'BOUNCED_BEFORE' },
      { positionId: ids[7], reason: 'IN_OTHER_CAMPAIGN' },
      { positionId: ids[8], reason: 'ALREADY_ENROLLED' },
      { positionId: missing, reason: 'NOT_FOUND' },
      { positionId: foreign[0], reason: 'NOT_FOUND' },
      { positionId: 'not-a-uuid', reason: 'NOT_FOUND' },
    ]);
    // again: already there
    const again = await ok(
      EnrollPositionsDocument,
      { campaignId: target.campaignId, positionIds: [ids[0]] },
      { token },
    );
    expect(again.enrollPositions).toEqual({
      enrolled: 0,
      skipped: [{ positionId: ids[0], reason: 'ALREADY_ENROLLED' }],
    });
    expect(await countEnrollments(target.campaignId)).toBe(1);
  });

  it('refuses more than 10,000 positions and writes nothing', async () => {
    const target = await campaign();
    const [real] = await positions(1);
    const ids = [real, ...Array.from({ length: 10_000 }, () => randomUUID())];
    const res = await gql(
      EnrollPositionsDocument,
      { campaignId: target.campaignId, positionIds: ids },
      { token },
    );
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/10000/);
    expect(await countEnrollments(target.campaignId)).toBe(0);
  });

  it('refuses an archived campaign', async () => {
    const archived = await campaign({ status: 'ARCHIVED' });
    const res = await gql(
      EnrollPositionsDocument,
      { campaignId: archived.campaignId, positionIds: await positions(1) },
      { token },
    );
    expect(errorCode(res)).toBe('CONFLICT');
    expect(await countEnrollments(archived.campaignId)).toBe(0);
  });
});

describe('launch and pause', () => {
  it.each([
    { why: 'without a step', spec: { steps: [] }, message: /Add a step/, code: 'BAD_USER_INPUT' },
    {
      why: 'without an active mailbox',
      spec: { mailboxes: [{ status: 'NEEDS_RECONNECT' as const }] },
      message: /active mailbox/,
      code: 'BAD_USER_INPUT',
    },
    {
      why: 'with an unknown timezone',
      spec: { timezone: 'Mars/Olympus' },
      message: /unknown timezone/,
      code: 'BAD_USER_INPUT',
    },
    { why: 'archived', spec: { status: 'ARCHIVED' }, message: /archived/, code: 'CONFLICT' },
    { why: 'completed', spec: { status: 'COMPLETED' }, message: /completed/, code: 'CONFLICT' },
  ])('refuses to launch a campaign $why', async ({ spec, message, code }) => {
    const c = await campaign(spec);
    const before = await statusOf(c.campaignId);
    const res = await gql(LaunchCampaignDocument, { id: c.campaignId }, { token });
    expect(errorCode(res)).toBe(code);
    expect(res.errors?.[0]?.message).toMatch(message);
    expect(await statusOf(c.campaignId)).toBe(before);
  });

  it('launches, pauses and resumes: enrolments are scheduled, held, then scheduled again', async () => {
    const c = await campaign({ steps: [0, 3] });
    const ids = await positions(3);
    await ok(EnrollPositionsDocument, { campaignId: c.campaignId, positionIds: ids }, { token });
    const { launchCampaign } = await ok(LaunchCampaignDocument, { id: c.campaignId }, { token });
    expect(launchCampaign.status).toBe('RUNNING');
    expect(launchCampaign.enrollments).toHaveLength(3);
    for (const e of launchCampaign.enrollments) {
      expect(e).toMatchObject({ status: 'ACTIVE', currentStepIndex: 0 });
      expect(e.nextRunAt).not.toBeNull();
    }
    const { pauseCampaign } = await ok(PauseCampaignDocument, { id: c.campaignId }, { token });
    expect(pauseCampaign.status).toBe('PAUSED');
    expect(pauseCampaign.enrollments.map((e) => e.nextRunAt)).toEqual([null, null, null]);

    const resumed = await ok(LaunchCampaignDocument, { id: c.campaignId }, { token });
    expect(resumed.launchCampaign.status).toBe('RUNNING');
    expect(resumed.launchCampaign.enrollments.every((e) => e.nextRunAt !== null)).toBe(true);

    // enrolled into a running campaign: scheduled at once
    const [late] = await positions(1);
    await ok(EnrollPositionsDocument, { campaignId: c.campaignId, positionIds: [late] }, { token });
    const { rows } = await asOwner((db) =>
      db.query(
        `SELECT t.status FROM outreach.tasks t JOIN outreach.campaign_enrollments e
           ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
         WHERE e.position_id = $1`,
        [late],
      ),
    );
    expect(rows).toHaveLength(1);

    const stopped = await ok(UnenrollDocument, { enrollmentId: launchCampaign.enrollments[0].id }, { token });
    expect(stopped.unenroll).toMatchObject({ status: 'STOPPED', nextRunAt: null });
  });

  it('refuses to pause a campaign that is not running', async () => {
    const c = await campaign();
    const res = await gql(PauseCampaignDocument, { id: c.campaignId }, { token });
    expect(errorCode(res)).toBe('CONFLICT');
    expect(await statusOf(c.campaignId)).toBe('DRAFT');
  });
});

describe('a campaign authored through the API', () => {
  it("is launched and its first emails dispatched by the platform's own scheduler", async () => {
    const created = await authoredCampaign(token, 'Always open');
    const createCampaign = { id: created.campaignId };
    const connectMailbox = { id: created.mailboxId };
    const ids = await positions(2);
    await ok(EnrollPositionsDocument, { campaignId: createCampaign.id, positionIds: ids }, { token });
    const { launchCampaign } = await ok(LaunchCampaignDocument, { id: createCampaign.id }, { token });
    expect(launchCampaign.status).toBe('RUNNING');
    const dispatched = () =>
      asOwner(async (db) => {
        const { rows } = await db.query(
          `SELECT t.status, t.mailbox_id, t.send_at, e.mailbox_id AS enrollment_mailbox, e.next_run_at
           FROM outreach.tasks t JOIN outreach.campaign_enrollments e
             ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
           WHERE e.campaign_id = $1 AND t.kind = 'DRAFT'`,
          [createCampaign.id],
        );
        return rows;
      });
    // handed to the drafter (QUEUED), or already drafted by it (DONE)
    await eventually(
      async () =>
        (await dispatched()).filter((t) => t.status === 'QUEUED' || t.status === 'DONE').length === 2,
      15_000,
    );
    for (const t of await dispatched()) {
      expect(t).toMatchObject({ mailbox_id: connectMailbox.id, enrollment_mailbox: connectMailbox.id });
      expect(t.send_at).not.toBeNull();
    }
  });
});

describe("another organisation's campaign and enrolments", () => {
  it('are indistinguishable from missing ones', async () => {
    const c = await campaign();
    const ids = await positions(1);
    const { launchCampaign } = await (async () => {
      await ok(EnrollPositionsDocument, { campaignId: c.campaignId, positionIds: ids }, { token });
      return ok(LaunchCampaignDocument, { id: c.campaignId }, { token });
    })();
    const intruder = await newOrganisation();
    const as = { token: intruder.accessToken };
    for (const id of [c.campaignId, randomUUID()]) {
      expect(errorCode(await gql(EnrollPositionsDocument, { campaignId: id, positionIds: ids }, as))).toBe(
        'NOT_FOUND',
      );
      expect(errorCode(await gql(LaunchCampaignDocument, { id }, as))).toBe('NOT_FOUND');
      expect(errorCode(await gql(PauseCampaignDocument, { id }, as))).toBe('NOT_FOUND');
    }
    for (const enrollmentId of [launchCampaign.enrollments[0].id, randomUUID()]) {
      expect(errorCode(await gql(UnenrollDocument, { enrollmentId }, as))).toBe('NOT_FOUND');
    }
    expect(await statusOf(c.campaignId)).toBe('RUNNING');
    // this organisation's positions are not found from the intruder's campaign either
    const theirs = await asOwner((db) => seedCampaign(db, intruder.organisation.id));
    const res = await ok(EnrollPositionsDocument, { campaignId: theirs.campaignId, positionIds: ids }, as);
    expect(res.enrollPositions).toEqual({
      enrolled: 0,
      skipped: [{ positionId: ids[0], reason: 'NOT_FOUND' }],
    });
  });
});

describe('who may change campaigns', () => {
  it('refuses viewers and READ keys, and lets members and WRITE keys', async () => {
    const c = await campaign();
    const ids = await positions(2);
    const { createApiKey: readKey } = await ok(
      CreateApiKeyDocument,
      { name: 'reader', scopes: ['READ'] },
      { token },
    );
    const { createApiKey: writeKey } = await ok(
      CreateApiKeyDocument,
      { name: 'writer', scopes: ['WRITE'] },
      { token },
    );
    const email = uniqueEmail('viewer');
    await asOwner(async (db) => {
      const userId = randomUUID();
      await db.query('INSERT INTO iam.users (id, email, password_hash) VALUES ($1, $2, $3)', [
        userId,
        email,
        await hashPassword(PASSWORD),
      ]);
      await db.query(
        `INSERT INTO iam.organisation_users (organisation_id, user_id, role, status) VALUES ($1, $2, 'VIEWER', 'ACTIVE')`,
        [org.organisation.id, userId],
      );
    });
    const { login } = await ok(LoginDocument, { email, password: PASSWORD });
    for (const denied of [readKey.secret, login.accessToken]) {
      const as = { token: denied };
      expect(
        errorCode(await gql(EnrollPositionsDocument, { campaignId: c.campaignId, positionIds: ids }, as)),
      ).toBe('FORBIDDEN');
      expect(errorCode(await gql(LaunchCampaignDocument, { id: c.campaignId }, as))).toBe('FORBIDDEN');
      expect(errorCode(await gql(PauseCampaignDocument, { id: c.campaignId }, as))).toBe('FORBIDDEN');
      expect(errorCode(await gql(UnenrollDocument, { enrollmentId: randomUUID() }, as))).toBe('FORBIDDEN');
    }
    expect(await countEnrollments(c.campaignId)).toBe(0);
    const allowed = await ok(
      EnrollPositionsDocument,
      { campaignId: c.campaignId, positionIds: ids },
      { token: writeKey.secret },
    );
    expect(allowed.enrollPositions.enrolled).toBe(2);
  });
});
