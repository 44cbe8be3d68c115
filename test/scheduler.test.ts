// The scheduler end to end on a database of its own, with the test's clock: enrolment and launch as the
// outreach service writes them, dispatch as the worker role, sends recorded as the sender will.
import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DRAFT_QUEUE, type TaskMessage } from '../lib/bus/catalog.ts';
import { type Bus, type Consumer, consumeWork, createBus } from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { createOrm, type EntityManager, rawQuery, withTenant } from '../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import {
  enrollPositions,
  launchCampaign,
  pauseCampaign,
  unenroll,
} from '../subgraphs/outreach/services/campaign-lifecycle.ts';
import { shareCampaigns } from '../subgraphs/outreach/services/campaign-locks.ts';
import { dispatchTasks } from '../subgraphs/outreach/services/dispatch.ts';
import { recordSentMany } from '../subgraphs/outreach/services/sending-record.ts';
import {
  type Advanced,
  advanceEnrollment,
  completeFinishedCampaigns,
} from '../subgraphs/outreach/services/sequence.ts';
import { createWorkerOrm, WORKER_ENTITIES, WORKER_TENANT_ENTITIES } from '../workers/runtime.ts';
import { claimTasks } from '../workers/scheduler/handler.ts';
import { createScheduler, type Scheduler } from '../workers/scheduler/index.ts';
import { refreshStaleStatistics, staleTables } from '../workers/scheduler/statistics.ts';
import { deleteBrokerQueues } from './helpers/broker.ts';
import {
  type CampaignSpec,
  type SeededCampaign,
  seedCampaign,
  seedOrganisation,
  seedPositions,
} from './helpers/campaign-fixture.ts';
import { deferred } from './helpers/wait.ts';
import { type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const silent = createLogger('test', 'silent');

let db: WorkerDatabase;
let workerOrm: MikroORM;
let outreachOrm: MikroORM;
let bus: Bus;
let drafts: Consumer;
/** Every draft message published, in order. */
const published: TaskMessage[] = [];

beforeAll(async () => {
  db = await workerDatabase('scheduler');
  workerOrm = await createWorkerOrm(loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.ownerUrl }));
  outreachOrm = await createOrm({
    databaseUrl: serviceDatabaseUrl(db.ownerUrl, 'outreach'),
    schema: 'outreach',
    entities: WORKER_ENTITIES,
    tenantEntities: WORKER_TENANT_ENTITIES,
  });
  bus = await createBus({ logger: silent });
  drafts = await consumeWork(bus, DRAFT_QUEUE, async (message) => {
    published.push(message);
  });
});
// one database for the file: what a test leaves due must not reach the next test's scheduler
afterEach(async () => {
  await db.owner.query(
    "UPDATE outreach.tasks SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL WHERE status IN ('PENDING', 'QUEUED', 'RUNNING')",
  );
});
afterAll(async () => {
  await drafts?.close();
  await bus?.close();
  await workerOrm?.close();
  await outreachOrm?.close();
  await db?.drop();
});

/** A clock the test moves by hand. */
function testClock(start: string) {
  let now = new Date(start);
  return {
    now: () => now,
    set(at: string | Date) {
      now = new Date(at);
    },
  };
}

function scheduler(clock: { now: () => Date }) {
  const name = `scheduler-${randomBytes(3).toString('hex')}`;
  return createScheduler({ orm: workerOrm, bus, workerId: name, clock: clock.now }, silent, {
    intervalMs: 10,
  });
}

/** Rounds until one claims nothing; returns the tasks handed on. */
async function drain(s: Scheduler): Promise<number> {
  let queued = 0;
  for (;;) {
    const round = await s.runOnce();
    queued += round.queued;
    if (round.claimed === 0) return queued;
  }
}

const asService = <T>(organisationId: string, fn: (em: EntityManager) => Promise<T>) =>
  withTenant(outreachOrm, organisationId, fn);

async function campaignWith(
  spec: CampaignSpec,
  prospects: number,
): Promise<SeededCampaign & { positions: string[] }> {
  const organisationId = await seedOrganisation(db.owner);
  const campaign = await seedCampaign(db.owner, organisationId, spec);
  const positions = await seedPositions(db.owner, organisationId, prospects);
  const result = await asService(organisationId, (em) =>
    enrollPositions(em, campaign.campaignId, positions, new Date()),
  );
  expect(result.enrolled).toBe(prospects);
  return { ...campaign, positions };
}

interface TaskState {
  id: string;
  enrollment_id: string;
  step_index: number;
  status: string;
  scheduled_for: Date;
  send_at: Date | null;
  mailbox_id: string | null;
  variant_id: string | null;
  enrollment_mailbox_id: string | null;
  next_run_at: Date | null;
  enrollment_status: string;
}

async function tasksOf(campaignId: string): Promise<TaskState[]> {
  const { rows } = await db.owner.query(
    `SELECT t.id, t.enrollment_id, s.index AS step_index, t.status, t.scheduled_for, t.send_at, t.mailbox_id,
       t.variant_id, e.mailbox_id AS enrollment_mailbox_id, e.next_run_at, e.status AS enrollment_status
     FROM outreach.tasks t
     JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
     JOIN outreach.workflow_steps s ON s.organisation_id = t.organisation_id AND s.id = t.step_id
     WHERE e.campaign_id = $1 ORDER BY t.send_at NULLS LAST, t.scheduled_for, t.id`,
    [campaignId],
  );
  return rows;
}

async function campaignStatus(campaignId: string): Promise<string> {
  const { rows } = await db.owner.query('SELECT status FROM outreach.campaigns WHERE id = $1', [campaignId]);
  return rows[0].status;
}

/** What the drafter does with a dispatched task: a QUEUED message for its slot. Returns the message's id. */
async function draft(organisationId: string, taskId: string): Promise<string> {
  return withTenant(workerOrm, organisationId, async (em) => {
    const [message] = await rawQuery<{ id: string }>(
      em,
      `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, step_id, variant_id, mailbox_id, position_id,
         status, subject, task_id, step_index, send_at)
       SELECT t.organisation_id, gen_random_uuid(), t.enrollment_id, t.step_id, t.variant_id, t.mailbox_id,
         e.position_id, 'QUEUED', 'Hello', t.id, s.index, t.send_at
       FROM outreach.tasks t
       JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
       JOIN outreach.workflow_steps s ON s.organisation_id = t.organisation_id AND s.id = t.step_id
       WHERE t.id = ? AND t.status = 'QUEUED'
       RETURNING id`,
      [taskId],
    );
    expect(message).toBeDefined();
    await rawQuery(em, "UPDATE outreach.tasks SET status = 'DONE', message_id = ? WHERE id = ?", [
      message.id,
      taskId,
    ]);
    return message.id;
  });
}

/** The drafter, then the sender: the task's message sent at `sentAt`. */
async function draftAndSend(organisationId: string, taskId: string, sentAt: Date): Promise<Advanced | null> {
  const messageId = await draft(organisationId, taskId);
  return recordSent(organisationId, messageId, sentAt);
}

/** The sender's record of one email sent: how its enrolment moved on, or null when nothing changed. */
async function recordSent(organisationId: string, messageId: string, sentAt: Date): Promise<Advanced | null> {
  const [advanced] = await withTenant(workerOrm, organisationId, (em) =>
    recordSentMany(em, [{ messageId, sentAt }]),
  );
  return advanced ?? null;
}

/** Waits until the draft queue has delivered `count` messages in all. */
async function deliveredAtLeast(count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (published.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

describe('a three-step campaign over a week', () => {
  it('sends each step in the Paris window, skips the weekend and keeps local hours across the DST change', async () => {
    // Mon–Fri 09:00–18:00 Paris; steps at +0, +2 and +1 window days. Paris moves to summer time on Sunday 29 March.
    const clock = testClock('2026-03-26T06:00:00Z'); // Thursday 07:00 in Paris
    const c = await campaignWith({ steps: [0, 2, 1] }, 1);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    const s = scheduler(clock);

    let [task] = await tasksOf(c.campaignId);
    expect(iso(task.next_run_at)).toBe('2026-03-26T08:00:00.000Z');
    expect((await s.runOnce()).claimed).toBe(0); // not due before 09:00

    clock.set('2026-03-26T08:00:00Z');
    const deliveredBefore = published.length;
    expect(await s.runOnce()).toMatchObject({ claimed: 1, queued: 1 });
    [task] = await tasksOf(c.campaignId);
    expect(task).toMatchObject({ status: 'QUEUED', step_index: 0, mailbox_id: c.mailboxIds[0] });
    expect(task.enrollment_mailbox_id).toBe(c.mailboxIds[0]);
    expect(iso(task.send_at)).toBe('2026-03-26T08:00:00.000Z');
    await deliveredAtLeast(deliveredBefore + 1);
    expect(published.filter((m) => m.taskId === task.id)).toEqual([
      { organisationId: c.organisationId, taskId: task.id },
    ]);

    // sent Thursday 09:05: two window days later is Monday (Friday, then Monday), 09:05 Paris = 07:05 UTC in summer
    const second = await draftAndSend(c.organisationId, task.id, new Date('2026-03-26T08:05:00Z'));
    expect(second).toMatchObject({ status: 'ACTIVE', nextStepIndex: 1 });
    expect(iso(second!.nextRunAt)).toBe('2026-03-30T07:05:00.000Z');

    clock.set('2026-03-28T10:00:00Z'); // Saturday: nothing
    expect((await s.runOnce()).claimed).toBe(0);
    clock.set('2026-03-30T07:05:00Z');
    expect((await s.runOnce()).queued).toBe(1);
    const monday = (await tasksOf(c.campaignId)).find((t) => t.step_index === 1)!;
    expect(iso(monday.send_at)).toBe('2026-03-30T07:05:00.000Z');
    expect(monday.mailbox_id).toBe(c.mailboxIds[0]);

    const third = await draftAndSend(c.organisationId, monday.id, new Date('2026-03-30T07:10:00Z'));
    expect(iso(third!.nextRunAt)).toBe('2026-03-31T07:10:00.000Z');
    clock.set('2026-03-31T07:10:00Z');
    expect((await s.runOnce()).queued).toBe(1);
    const last = (await tasksOf(c.campaignId)).find((t) => t.step_index === 2)!;
    const done = await draftAndSend(c.organisationId, last.id, new Date('2026-03-31T07:12:00Z'));
    expect(done).toMatchObject({ status: 'COMPLETED', nextRunAt: null });
    expect(await campaignStatus(c.campaignId)).toBe('COMPLETED');

    // the sender reporting the same send again changes nothing
    const { rows } = await db.owner.query('SELECT id FROM outreach.messages WHERE task_id = $1', [last.id]);
    expect(await recordSent(c.organisationId, rows[0].id, new Date())).toBeNull();
    const tasks = await tasksOf(c.campaignId);
    expect(tasks.map((t) => t.status)).toEqual(['DONE', 'DONE', 'DONE']);
    expect(tasks[0].enrollment_status).toBe('COMPLETED');
    expect(tasks[0].next_run_at).toBeNull();
    // every change of the enrolment was announced through the outbox: enrolled, two steps on, completed
    const events = await db.owner.query(
      `SELECT count(*)::int AS n FROM outreach.outbox WHERE campaign_id = $1 AND topic = 'ENROLLMENT_CHANGED'
         AND payload ->> 'enrollmentId' = $2`,
      [c.campaignId, tasks[0].enrollment_id],
    );
    expect(events.rows[0].n).toBe(4);

    // a newcomer takes the completed campaign up again, its first step due at the next opening
    const [newcomer] = await seedPositions(db.owner, c.organisationId, 1);
    const reopened = await asService(c.organisationId, (em) =>
      enrollPositions(em, c.campaignId, [newcomer], new Date('2026-03-31T17:00:00Z')),
    );
    expect(reopened.enrolled).toBe(1);
    expect(await campaignStatus(c.campaignId)).toBe('RUNNING');
    const fresh = (await tasksOf(c.campaignId)).find((t) => t.status === 'PENDING')!;
    expect(iso(fresh.next_run_at)).toBe('2026-04-01T07:00:00.000Z');
  });
});

describe('moving on without a send', () => {
  it('takes a rejected draft to the next step once, however often it is reported', async () => {
    const clock = testClock('2026-03-04T08:00:00Z'); // Wednesday
    const c = await campaignWith({ steps: [0, 1] }, 1);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    await scheduler(clock).runOnce();
    const [task] = await tasksOf(c.campaignId);
    const rejectedAt = new Date('2026-03-04T10:00:00Z');
    const first = await withTenant(workerOrm, c.organisationId, (em) =>
      advanceEnrollment(em, task.enrollment_id, 0, rejectedAt),
    );
    expect(first).toMatchObject({ status: 'ACTIVE', nextStepIndex: 1 });
    expect(iso(first.nextRunAt)).toBe('2026-03-05T10:00:00.000Z');
    const again = await withTenant(workerOrm, c.organisationId, (em) =>
      advanceEnrollment(em, task.enrollment_id, 0, new Date('2026-03-04T11:00:00Z')),
    );
    expect(again).toEqual(first);
    expect((await tasksOf(c.campaignId)).filter((t) => t.step_index === 1)).toHaveLength(1);
  });

  it('keeps the next step of a send recorded during a pause for the resume, due no earlier than planned', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({ steps: [0, 2] }, 1);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    await scheduler(clock).runOnce();
    const [task] = await tasksOf(c.campaignId);
    await asService(c.organisationId, (em) => pauseCampaign(em, c.campaignId, clock.now()));
    const sent = await draftAndSend(c.organisationId, task.id, new Date('2026-03-04T08:30:00Z'));
    expect(sent).toMatchObject({ status: 'ACTIVE', nextStepIndex: 1, nextRunAt: null });
    let next = (await tasksOf(c.campaignId)).find((t) => t.step_index === 1)!;
    expect(next.status).toBe('CANCELLED');
    await asService(c.organisationId, (em) =>
      launchCampaign(em, c.campaignId, new Date('2026-03-04T09:00:00Z')),
    );
    next = (await tasksOf(c.campaignId)).find((t) => t.step_index === 1)!;
    expect(next.status).toBe('PENDING');
    // two window days after Wednesday 09:30 Paris
    expect(iso(next.scheduled_for)).toBe('2026-03-06T08:30:00.000Z');
    expect(iso(next.next_run_at)).toBe('2026-03-06T08:30:00.000Z');
  });
});

describe('windows in two timezones', () => {
  it("sends in each prospect's own window when the campaign uses the prospect's timezone", async () => {
    const clock = testClock('2026-03-04T06:00:00Z'); // Wednesday: 15:00 in Tokyo, 07:00 in Paris
    const organisationId = await seedOrganisation(db.owner);
    const c = await seedCampaign(db.owner, organisationId, { useProspectTimezone: true });
    const locations = [
      'Shibuya, Tokyo, Japan',
      'Lyon, Auvergne-Rhône-Alpes, France',
      'Austin, Texas, United States',
    ];
    const positions = await seedPositions(db.owner, organisationId, 3, (i) => ({ location: locations[i] }));
    await asService(organisationId, async (em) => {
      await enrollPositions(em, c.campaignId, positions, clock.now());
      await launchCampaign(em, c.campaignId, clock.now());
    });
    expect(await scheduler(clock).runOnce()).toMatchObject({ claimed: 3, queued: 1, rescheduled: 2 });
    const { rows } = await db.owner.query(
      `SELECT e.position_id, t.status, t.send_at, t.scheduled_for, e.next_run_at FROM outreach.tasks t
       JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
       WHERE e.campaign_id = $1`,
      [c.campaignId],
    );
    const byPosition = new Map(rows.map((r) => [r.position_id, r]));
    // Tokyo is open: sent now
    expect(byPosition.get(positions[0])).toMatchObject({ status: 'QUEUED' });
    expect(iso(byPosition.get(positions[0]).send_at)).toBe('2026-03-04T06:00:00.000Z');
    // Lyon, and Austin (no zone known: the campaign's), wait for 09:00 Paris
    for (const p of positions.slice(1)) {
      expect(byPosition.get(p)).toMatchObject({ status: 'PENDING' });
      expect(iso(byPosition.get(p).next_run_at)).toBe('2026-03-04T08:00:00.000Z');
    }
  });
});

describe('daily limits, spacing and mailbox rotation', () => {
  it('shares the day between two mailboxes, spaces each one, and moves the rest to the next window day', async () => {
    const clock = testClock('2026-03-04T08:00:00Z'); // Wednesday 09:00 Paris
    const c = await campaignWith(
      {
        mailboxes: [
          { dailyLimit: 3, minIntervalSeconds: 60 },
          { dailyLimit: 2, minIntervalSeconds: 120 },
        ],
      },
      8,
    );
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    const s = scheduler(clock);
    expect(await s.runOnce()).toMatchObject({ claimed: 8, queued: 5, rescheduled: 3 });

    const tasks = await tasksOf(c.campaignId);
    const [a, b] = c.mailboxIds;
    const sends = (mailbox: string) =>
      tasks
        .filter((t) => t.mailbox_id === mailbox && t.status === 'QUEUED')
        .map((t) => new Date(t.send_at!).getTime());
    expect(sends(a)).toHaveLength(3);
    expect(sends(b)).toHaveLength(2);
    const gaps = (times: number[]) => times.slice(1).map((t, i) => (t - times[i]) / 1000);
    // at least the mailbox's interval, at most 50% more (jitter)
    for (const gap of gaps(sends(a))) expect(gap >= 60 && gap <= 90, `gap ${gap}s on A`).toBe(true);
    for (const gap of gaps(sends(b))) expect(gap >= 120 && gap <= 180, `gap ${gap}s on B`).toBe(true);
    // the enrolment keeps the mailbox its first email leaves from
    for (const t of tasks.filter((t) => t.status === 'QUEUED')) {
      expect(t.enrollment_mailbox_id).toBe(t.mailbox_id);
      expect(iso(t.next_run_at)).toBe(iso(t.send_at));
    }
    const waiting = tasks.filter((t) => t.status === 'PENDING');
    expect(waiting).toHaveLength(3);
    for (const t of waiting) expect(iso(t.scheduled_for)).toBe('2026-03-05T08:00:00.000Z');

    // the drafter has drafted them; the same day, later: still full
    await db.owner.query("UPDATE outreach.tasks SET status = 'DONE' WHERE id = ANY ($1)", [
      tasks.filter((t) => t.status === 'QUEUED').map((t) => t.id),
    ]);
    clock.set('2026-03-04T15:00:00Z');
    expect((await s.runOnce()).claimed).toBe(0);
    // Thursday: the three left go out, on both mailboxes
    clock.set('2026-03-05T08:00:00Z');
    expect(await s.runOnce()).toMatchObject({ claimed: 3, queued: 3 });
    const thursday = (await tasksOf(c.campaignId)).filter((t) => iso(t.send_at)?.startsWith('2026-03-05'));
    expect(new Set(thursday.map((t) => t.mailbox_id))).toEqual(new Set([a, b]));
  });

  it("holds the campaign's own daily limit on first emails, counted in the campaign's day", async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({ dailyLimit: 2, steps: [0, 0] }, 5);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    const s = scheduler(clock);
    expect(await s.runOnce()).toMatchObject({ queued: 2, rescheduled: 3 });
    const tasks = await tasksOf(c.campaignId);
    for (const t of tasks.filter((t) => t.status === 'PENDING')) {
      expect(iso(t.scheduled_for)).toBe('2026-03-05T08:00:00.000Z');
    }
    // the two contacted prospects' follow-ups (no delay) are not held back by the limit on first emails
    for (const t of tasks.filter((t) => t.status === 'QUEUED')) {
      await draftAndSend(c.organisationId, t.id, new Date('2026-03-04T08:05:00Z'));
    }
    clock.set('2026-03-04T08:10:00Z');
    expect(await s.runOnce()).toMatchObject({ claimed: 2, queued: 2 });
    expect(
      (await tasksOf(c.campaignId)).filter((t) => t.step_index === 1 && t.status === 'QUEUED'),
    ).toHaveLength(2);
  });
});

describe('A/B variants', () => {
  it('splits 2,000 enrolments by weight and keeps each draw through redelivery and weight edits', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({ variantWeights: [70, 30], mailboxes: [{ dailyLimit: 2000 }] }, 2000);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    const s = scheduler(clock);
    expect(await drain(s)).toBe(2000);
    const before = new Map((await tasksOf(c.campaignId)).map((t) => [t.id, t.variant_id]));
    const shareA = [...before.values()].filter((v) => v === c.variantIds[0]).length / 2000;
    expect(shareA).toBeGreaterThan(0.65);
    expect(shareA).toBeLessThan(0.75);
    const { rows } = await db.owner.query(
      `SELECT count(*)::int AS n FROM outreach.enrollment_variant_assignments a
       JOIN outreach.campaign_enrollments e ON e.organisation_id = a.organisation_id AND e.id = a.enrollment_id
       WHERE e.campaign_id = $1`,
      [c.campaignId],
    );
    expect(rows[0].n).toBe(2000);

    // the weights change, then the drafter never answered: every task is claimed and handed on again
    await db.owner.query(
      'UPDATE outreach.step_experiment_variants SET weight = 100 - weight WHERE id = ANY ($1)',
      [c.variantIds],
    );
    const publishedBefore = published.length;
    clock.set(new Date(clock.now().getTime() + 601_000));
    expect(await drain(s)).toBe(2000);
    await deliveredAtLeast(publishedBefore + 2000);
    expect(published.length - publishedBefore).toBe(2000);
    const after = new Map((await tasksOf(c.campaignId)).map((t) => [t.id, t.variant_id]));
    expect(after).toEqual(before);
  });
});

describe('pause and resume', () => {
  it('dispatches nothing while paused and resumes with the spacing, not a burst', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({ mailboxes: [{ dailyLimit: 50, minIntervalSeconds: 60 }] }, 10);
    await asService(c.organisationId, async (em) => {
      await launchCampaign(em, c.campaignId, clock.now());
      await pauseCampaign(em, c.campaignId, clock.now());
    });
    const s = scheduler(clock);
    expect((await s.runOnce()).claimed).toBe(0);
    expect(
      (await tasksOf(c.campaignId)).every((t) => t.status === 'CANCELLED' && t.next_run_at === null),
    ).toBe(true);

    clock.set('2026-03-04T11:00:00Z');
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    expect(await s.runOnce()).toMatchObject({ claimed: 10, queued: 10 });
    const times = (await tasksOf(c.campaignId)).map((t) => new Date(t.send_at!).getTime());
    expect(times[0]).toBe(clock.now().getTime());
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(60_000);
  });

  it('gives drafts held by a pause new spaced slots on resume, not a burst of past ones', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({ mailboxes: [{ dailyLimit: 50, minIntervalSeconds: 60 }] }, 4);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    await scheduler(clock).runOnce();
    for (const t of await tasksOf(c.campaignId)) await draft(c.organisationId, t.id);
    await asService(c.organisationId, (em) =>
      pauseCampaign(em, c.campaignId, new Date('2026-03-04T08:00:30Z')),
    );
    // resumed at 19:00 Paris, after the window: the held drafts go from the next opening, a minute apart
    await asService(c.organisationId, (em) =>
      launchCampaign(em, c.campaignId, new Date('2026-03-04T18:00:00Z')),
    );
    const { rows } = await db.owner.query(
      `SELECT m.send_at AS message_send_at, t.send_at AS task_send_at FROM outreach.messages m
       JOIN outreach.tasks t ON t.organisation_id = m.organisation_id AND t.id = m.task_id
       JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
       WHERE e.campaign_id = $1 ORDER BY m.send_at`,
      [c.campaignId],
    );
    expect(rows.map((r) => iso(r.message_send_at))).toEqual([
      '2026-03-05T08:00:00.000Z',
      '2026-03-05T08:01:00.000Z',
      '2026-03-05T08:02:00.000Z',
      '2026-03-05T08:03:00.000Z',
    ]);
    for (const r of rows) expect(iso(r.task_send_at)).toBe(iso(r.message_send_at));
  });

  it('never dispatches a task claimed before a pause, nor one of a campaign that stopped running', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    for (const stop of ['pause', 'archive'] as const) {
      const c = await campaignWith({}, 3);
      await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
      const claims = await claimTasks({ orm: workerOrm, workerId: 'slow' }, clock.now(), 1000, 60);
      const mine = claims.filter((t) => t.organisationId === c.organisationId).map((t) => t.taskId);
      expect(mine).toHaveLength(3);
      if (stop === 'pause')
        await asService(c.organisationId, (em) => pauseCampaign(em, c.campaignId, clock.now()));
      else
        await db.owner.query("UPDATE outreach.campaigns SET status = 'ARCHIVED' WHERE id = $1", [
          c.campaignId,
        ]);
      const outcome = await withTenant(workerOrm, c.organisationId, (em) =>
        dispatchTasks(em, mine, { workerId: 'slow', now: clock.now(), queuedLeaseSeconds: 600 }),
      );
      // the pause cancelled them itself; an archived campaign's are cancelled by the scheduler's own check
      expect(outcome).toMatchObject({ queued: [], cancelled: stop === 'pause' ? 0 : 3 });
      expect((await tasksOf(c.campaignId)).map((t) => t.status)).toEqual([
        'CANCELLED',
        'CANCELLED',
        'CANCELLED',
      ]);
    }
  });
});

describe('leases', () => {
  it('loses nothing when a scheduler dies after claiming: the tasks go out once its lease ends', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({}, 20);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    const claimed = await claimTasks({ orm: workerOrm, workerId: 'killed' }, clock.now(), 1000, 60);
    expect(claimed.filter((t) => t.organisationId === c.organisationId)).toHaveLength(20);

    const survivor = scheduler(clock);
    expect((await survivor.runOnce()).claimed).toBe(0);
    clock.set('2026-03-04T08:01:00Z');
    expect(await drain(survivor)).toBe(20);
    expect((await tasksOf(c.campaignId)).every((t) => t.status === 'QUEUED')).toBe(true);
  });

  it('hands a dispatched task on again when the publish after commit was lost', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({}, 4);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    const claimed = await claimTasks({ orm: workerOrm, workerId: 'crashed' }, clock.now(), 1000, 60);
    const ids = claimed.filter((t) => t.organisationId === c.organisationId).map((t) => t.taskId);
    // committed, then the process died before publishing
    await withTenant(workerOrm, c.organisationId, (em) =>
      dispatchTasks(em, ids, { workerId: 'crashed', now: clock.now(), queuedLeaseSeconds: 600 }),
    );
    const decided = await tasksOf(c.campaignId);
    clock.set('2026-03-04T08:10:00Z');
    const deliveredBefore = published.length;
    expect(await drain(scheduler(clock))).toBe(4);
    await deliveredAtLeast(deliveredBefore + 4);
    expect(published.filter((m) => ids.includes(m.taskId))).toHaveLength(4);
    // handed on as decided: same mailbox and slot
    expect(await tasksOf(c.campaignId)).toEqual(
      decided.map((t) => expect.objectContaining({ id: t.id, send_at: t.send_at })),
    );
  });
  it('hands dispatched tasks on at the next round when the broker refused the publish', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({}, 3);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    const name = `scheduler-${randomBytes(3).toString('hex')}`;
    const away: Bus = {
      ...bus,
      sendMany: async () => {
        throw new Error('broker connection closed');
      },
    };
    const failing = createScheduler({ orm: workerOrm, bus: away, workerId: name, clock: clock.now }, silent, {
      intervalMs: 10,
    });
    await expect(failing.runOnce()).rejects.toThrow(/broker/);
    const deliveredBefore = published.length;
    // the broker is back a few seconds later: no waiting for the ten-minute queued lease
    clock.set('2026-03-04T08:00:05Z');
    expect(await drain(scheduler(clock))).toBe(3);
    await deliveredAtLeast(deliveredBefore + 3);
    expect((await tasksOf(c.campaignId)).every((t) => t.status === 'QUEUED')).toBe(true);
  });
});

describe('stops', () => {
  it('stops an enrolment whose domain was suppressed after it was enrolled', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({}, 1);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    const { rows } = await db.owner.query('SELECT email FROM crm.positions WHERE id = $1', [c.positions[0]]);
    await db.owner.query(
      `INSERT INTO crm.suppressions (organisation_id, id, value, kind, reason) VALUES ($1, gen_random_uuid(), $2, 'DOMAIN', 'UNSUBSCRIBED')`,
      [c.organisationId, rows[0].email.split('@')[1]],
    );
    expect(await scheduler(clock).runOnce()).toMatchObject({ queued: 0, cancelled: 1 });
    const [task] = await tasksOf(c.campaignId);
    expect(task).toMatchObject({ status: 'CANCELLED', enrollment_status: 'UNSUBSCRIBED', next_run_at: null });
    expect(await campaignStatus(c.campaignId)).toBe('COMPLETED');
  });

  it('unenrolling cancels what was not drafted yet', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const c = await campaignWith({}, 2);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    const [first] = await tasksOf(c.campaignId);
    await asService(c.organisationId, (em) => unenroll(em, first.enrollment_id));
    expect(await scheduler(clock).runOnce()).toMatchObject({ queued: 1 });
    const tasks = await tasksOf(c.campaignId);
    expect(tasks.find((t) => t.id === first.id)).toMatchObject({
      status: 'CANCELLED',
      enrollment_status: 'STOPPED',
    });
    expect(await campaignStatus(c.campaignId)).toBe('RUNNING');
  });
});

describe('two schedulers on RabbitMQ', () => {
  it('never dispatch one task twice', async () => {
    const prefix = `test-${randomBytes(4).toString('hex')}.`;
    const rabbit = await createBus({ amqpUrl: AMQP_URL, prefix, logger: silent });
    const received: string[] = [];
    const consumer = await consumeWork(rabbit, DRAFT_QUEUE, async (m) => {
      received.push(m.taskId);
    });
    try {
      const clock = testClock('2026-03-04T08:00:00Z');
      const c = await campaignWith({ mailboxes: [{ dailyLimit: 2000 }] }, 400);
      await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
      const small = [0, 1].map((i) =>
        createScheduler({ orm: workerOrm, bus: rabbit, workerId: `pair-${i}`, clock: clock.now }, silent, {
          intervalMs: 10,
          limits: { batchSize: 25 },
        }),
      );
      const counts = await Promise.all(small.map(drain));
      expect(counts[0] + counts[1]).toBe(400);
      expect(counts.every((n) => n > 0)).toBe(true);
      const deadline = Date.now() + 10_000;
      while (received.length < 400 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(received).toHaveLength(400);
      expect(new Set(received).size).toBe(400);
    } finally {
      await consumer.close();
      await rabbit.close();
      await deleteBrokerQueues(AMQP_URL, prefix, [DRAFT_QUEUE.name]);
    }
  });
});

describe('campaign locks', () => {
  /** Settles to its value, or to 'waiting' if it has not within `ms`. */
  const within = <T>(promise: Promise<T>, ms: number) =>
    Promise.race([promise, new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), ms))]);

  it('a pause waits for the sends in flight, and the sends that come after it wait for it and see it', async () => {
    const c = await campaignWith({ mailboxes: [{ dailyLimit: 100 }] }, 3);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, new Date()));
    const statusOf = async (em: EntityManager) =>
      (
        await rawQuery<{ status: string }>(em, 'SELECT status FROM outreach.campaigns WHERE id = ?', [
          c.campaignId,
        ])
      )[0]!.status;

    // a send in flight: the campaign shared, the transaction still open
    const sendHeld = deferred();
    const shared = deferred();
    const inFlight = withTenant(workerOrm, c.organisationId, async (em) => {
      await shareCampaigns(em, [c.campaignId]);
      shared.resolve();
      await sendHeld.promise;
      return statusOf(em);
    });
    await shared.promise;

    const pause = asService(c.organisationId, (em) => pauseCampaign(em, c.campaignId, new Date()));
    expect(await within(pause, 300)).toBe('waiting');
    // a send arriving after the pause queues behind it instead of slipping in ahead
    const later = withTenant(workerOrm, c.organisationId, async (em) => {
      await shareCampaigns(em, [c.campaignId]);
      return statusOf(em);
    });
    expect(await within(later, 300)).toBe('waiting');

    sendHeld.resolve();
    expect(await inFlight).toBe('RUNNING');
    await pause;
    expect(await later).toBe('PAUSED');
  });
  it('two transactions finishing the last enrolments side by side still end the campaign', async () => {
    const c = await campaignWith({ mailboxes: [{ dailyLimit: 100 }] }, 2);
    await asService(c.organisationId, (em) => launchCampaign(em, c.campaignId, new Date()));
    const { rows } = await db.owner.query<{ id: string }>(
      'SELECT id FROM outreach.campaign_enrollments WHERE campaign_id = $1 ORDER BY id',
      [c.campaignId],
    );
    const finish = (em: EntityManager, enrollmentId: string) =>
      rawQuery(em, `UPDATE outreach.campaign_enrollments SET status = 'COMPLETED' WHERE id = ?`, [
        enrollmentId,
      ]);

    const firstHeld = deferred();
    const firstDecided = deferred();
    // each sees the other's enrolment still going while neither has committed
    const first = asService(c.organisationId, async (em) => {
      await finish(em, rows[0]!.id);
      const ended = await completeFinishedCampaigns(em, [c.campaignId]);
      firstDecided.resolve();
      await firstHeld.promise;
      return ended;
    });
    await firstDecided.promise;
    const second = asService(c.organisationId, async (em) => {
      await finish(em, rows[1]!.id);
      return completeFinishedCampaigns(em, [c.campaignId]);
    });
    expect(await within(second, 300)).toBe('waiting');
    firstHeld.resolve();
    expect(await first).toEqual([]);
    // decided after the first committed: it sees both enrolments over
    expect(await second).toEqual([c.campaignId]);
    const { rows: after } = await db.owner.query('SELECT status FROM outreach.campaigns WHERE id = $1', [
      c.campaignId,
    ]);
    expect(after[0].status).toBe('COMPLETED');
  });
});

describe('planner statistics', () => {
  /** The planner's row estimate for one organisation's tasks. */
  const estimatedTasks = async (organisationId: string) => {
    const { rows } = await db.owner.query(
      `EXPLAIN (FORMAT JSON) SELECT * FROM outreach.tasks WHERE organisation_id = '${organisationId}'`,
    );
    return rows[0]['QUERY PLAN'][0].Plan['Plan Rows'] as number;
  };

  it('are taken again once a launch wrote a large share of the pipeline tables, so claims are planned for the real rows', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    await refreshStaleStatistics(workerOrm);
    const organisationId = await seedOrganisation(db.owner);
    const c = await seedCampaign(db.owner, organisationId, { mailboxes: [{ dailyLimit: 2000 }] });
    const positions = await seedPositions(db.owner, organisationId, 3000);
    await asService(organisationId, (em) => enrollPositions(em, c.campaignId, positions, clock.now()));
    await asService(organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    // before: the organisation did not exist when the table was last analysed
    expect(await estimatedTasks(organisationId)).toBeLessThan(300);
    expect(await refreshStaleStatistics(workerOrm)).toEqual(
      expect.arrayContaining(['tasks', 'campaign_enrollments']),
    );
    const estimate = await estimatedTasks(organisationId);
    expect(estimate).toBeGreaterThan(1500);
    expect(estimate).toBeLessThan(6000);
  }, 60_000);

  it('are stale only after enough changes, and a large share of the table', () => {
    expect(staleTables([{ table: 'tasks', changed: 100, live: 0, analysed: false }])).toEqual([]);
    expect(staleTables([{ table: 'tasks', changed: 600, live: 600, analysed: false }])).toEqual(['tasks']);
    expect(staleTables([{ table: 'tasks', changed: 600, live: 100_000, analysed: true }])).toEqual([]);
    expect(staleTables([{ table: 'tasks', changed: 20_000, live: 100_000, analysed: true }])).toEqual([
      'tasks',
    ]);
  });
});

describe('at scale', () => {
  it('enrols 10,000 positions in one call and dispatches 10,000 due tasks', async () => {
    const clock = testClock('2026-03-04T08:00:00Z');
    const organisationId = await seedOrganisation(db.owner);
    const c = await seedCampaign(db.owner, organisationId, {
      mailboxes: Array.from({ length: 5 }, () => ({ dailyLimit: 2000 })),
      variantWeights: [50, 50],
    });
    const positions = await seedPositions(db.owner, organisationId, 10_000);
    await db.owner.query('ANALYZE crm.positions, crm.people, outreach.campaign_enrollments');
    let started = performance.now();
    const result = await asService(organisationId, (em) =>
      enrollPositions(em, c.campaignId, positions, clock.now()),
    );
    const enrolMs = performance.now() - started;
    expect(result).toEqual({ enrolled: 10_000, skipped: [] });
    await asService(organisationId, (em) => launchCampaign(em, c.campaignId, clock.now()));
    await db.owner.query('ANALYZE outreach.tasks, outreach.campaign_enrollments');
    started = performance.now();
    expect(await drain(scheduler(clock))).toBe(10_000);
    const dispatchMs = performance.now() - started;
    console.info(
      `enrol 10,000 positions: ${Math.round(enrolMs)} ms; dispatch 10,000 due tasks: ${Math.round(dispatchMs)} ms (${Math.round(10_000 / (dispatchMs / 1000))} tasks/s)`,
    );
    const { rows } = await db.owner.query(
      `SELECT t.mailbox_id, count(*)::int AS n FROM outreach.tasks t
       JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
       WHERE e.campaign_id = $1 AND t.status = 'QUEUED' GROUP BY 1`,
      [c.campaignId],
    );
    expect(rows.map((r) => r.n)).toEqual([2000, 2000, 2000, 2000, 2000]);
  }, 120_000);
});
