// The sender killed with SIGKILL at random points of a 500-prospect, two-step run, five times, and started
// again each time: every prospect must still receive exactly one email per step (checked in the Gmail fake's
// log by Message-ID and recipient), and every message end SENT. The sender runs as its own process
// (`workers/main.ts sender`) on RabbitMQ under a queue prefix of its own; the scheduler and the drafter run in
// the test's process on the same broker, the Gmail fake too.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { QUEUES } from '../lib/bus/catalog.ts';
import {
  type Bus,
  createBus,
  DEFAULT_RETRY_DELAYS_MS,
  eventsExchangeName,
  queueNames,
} from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import { startDrafter } from '../workers/drafter/consumer.ts';
import { createWorkerOrm, type RunningWorker } from '../workers/runtime.ts';
import { createScheduler, type Scheduler } from '../workers/scheduler/index.ts';
import { type GoogleFake, startGoogleFake } from './fakes/google.ts';
import { type SendingCampaign, seedSendingCampaign, senderEnv } from './helpers/sending.ts';
import { eventually } from './helpers/wait.ts';
import { type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const PREFIX = `test-sender-crash-${randomBytes(4).toString('hex')}.`;
const ROOT = path.resolve(import.meta.dirname, '..');
const CAMPAIGNS = 5;
const PROSPECTS_EACH = 100;
const STEPS = 2;
const KILLS = 5;

let db: WorkerDatabase;
let google: GoogleFake;
let dataDir: string;
let orm: MikroORM;
let bus: Bus;
let drafter: RunningWorker;
let scheduler: Scheduler;
let child: ChildProcess | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  db = await workerDatabase('sendercrash');
  dataDir = await mkdtemp(path.join(tmpdir(), 'prospectflow-sender-crash-'));
  google = await startGoogleFake({ dir: dataDir, delegatedDomains: [] });
  // each send takes a moment, so the kills land while sends are in flight
  google.gmail.latencyMs = 5;
  env = {
    ...senderEnv(db, google, dataDir),
    AMQP_URL,
    AMQP_PREFIX: PREFIX,
    // a dead sender's messages are looked up again soon after its lease ends
    SENDER_LEASE_SECONDS: '3',
    SENDER_PER_MAILBOX: '2',
    SENDER_CONCURRENCY: '32',
    LOG_LEVEL: 'fatal',
  };
  const config = loadConfig(env);
  const silent = createLogger('test', 'silent');
  orm = await createWorkerOrm(config);
  bus = await createBus({ amqpUrl: AMQP_URL, prefix: PREFIX, logger: silent });
  drafter = await startDrafter({ config, orm, bus, log: silent, clock: () => new Date() });
  scheduler = createScheduler(
    { orm, bus, workerId: `scheduler-${randomUUID()}`, clock: () => new Date() },
    silent,
    {
      intervalMs: 100,
      // a task handed to the queue and not taken further (its delivery lost) is handed on again after this
      limits: { queuedLeaseSeconds: 30 },
    },
  );
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await scheduler?.stop();
  await drafter?.stop();
  await bus?.close();
  await orm?.close();
  await google?.close();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
  const conn = new Connection(AMQP_URL);
  try {
    for (const queue of QUEUES) {
      const names = queueNames(PREFIX, queue.name);
      const delays = [...new Set([...DEFAULT_RETRY_DELAYS_MS, ...queue.retryDelaysMs, 500])];
      for (const name of [names.work, names.dead, ...delays.map(names.retry), ...delays.map(names.delay)])
        await conn.queueDelete({ queue: name }).catch(() => {});
    }
    await conn.exchangeDelete({ exchange: eventsExchangeName(PREFIX) }).catch(() => {});
  } finally {
    await conn.close();
  }
});

function startSender(): ChildProcess {
  const started = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts', 'sender'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return started;
}

async function kill(process: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => process.once('exit', resolve));
  process.kill('SIGKILL');
  await exited;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('sends every email exactly once although the sender is killed five times mid-run', async () => {
  const organisationId = randomUUID();
  const campaigns: SendingCampaign[] = [];
  const clock = { now: () => new Date(), set() {}, advance() {} };
  for (let i = 0; i < CAMPAIGNS; i++) {
    const campaign = await seedSendingCampaign(
      { db, clock },
      {
        organisationId,
        steps: [
          { subject: 'Une idée pour {{company.name}}', body: 'Bonjour {{firstName}},\n\nUne idée.' },
          { body: 'Je me permets de revenir vers vous.' },
        ],
        people: Array.from({ length: PROSPECTS_EACH }, (_, n) => ({
          firstName: `P${n}`,
          companyName: `Maison ${n}`,
        })),
      },
    );
    campaigns.push(campaign);
  }
  // the follow-up is due as soon as the first email has gone
  await db.owner.query('UPDATE outreach.workflow_steps SET delay_days = 0 WHERE organisation_id = $1', [
    organisationId,
  ]);
  const total = CAMPAIGNS * PROSPECTS_EACH * STEPS;
  const sentCount = () => campaigns.reduce((n, c) => n + google.gmail.sent(c.mailboxEmail).length, 0);

  scheduler.start();
  const atKills: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    child = startSender();
    // once this one sends, at a random point: claims, sends in flight, outcomes being written
    const before = sentCount();
    await eventually(async () => sentCount() > before, 30_000);
    await pause(Math.random() * 600);
    atKills.push(sentCount());
    await kill(child);
  }
  child = startSender();
  const messagesSent = async () => {
    const { rows } = await db.owner.query(
      "SELECT count(*)::int AS n FROM outreach.messages WHERE organisation_id = $1 AND status = 'SENT'",
      [organisationId],
    );
    return rows[0].n as number;
  };
  await eventually(async () => (await messagesSent()) === total, 45_000).catch(async (error) => {
    const m = await db.owner.query(
      'SELECT status, step_index, count(*)::int FROM outreach.messages WHERE organisation_id = $1 GROUP BY 1, 2',
      [organisationId],
    );
    const t = await db.owner.query(
      'SELECT kind, status, count(*)::int, min(scheduled_for) AS first, max(leased_until) AS lease FROM outreach.tasks WHERE organisation_id = $1 GROUP BY 1, 2',
      [organisationId],
    );
    console.log(
      'the run did not finish: sent at each kill, sent, now, messages, tasks:',
      atKills,
      sentCount(),
      new Date(),
      JSON.stringify(m.rows),
      JSON.stringify(t.rows),
    );
    throw error;
  });

  // the run was still going when it was killed, more than once
  expect(atKills.filter((n) => n < total).length).toBeGreaterThan(1);
  const { rows: messages } = await db.owner.query<{
    rfc_message_id: string;
    email: string;
    step_index: number;
    provider_message_id: string;
  }>(
    `SELECT m.rfc_message_id, e.email::text AS email, m.step_index, m.provider_message_id
     FROM outreach.messages m JOIN outreach.campaign_enrollments e ON e.id = m.enrollment_id
     WHERE m.organisation_id = $1`,
    [organisationId],
  );
  expect(messages).toHaveLength(total);
  const sent = campaigns.flatMap((c) => google.gmail.sent(c.mailboxEmail));
  // exactly once: as many emails as messages, one per Message-ID, each to its prospect
  expect(sent).toHaveLength(total);
  const byRfc = new Map(sent.map((m) => [m.headers.get('message-id'), m]));
  expect(byRfc.size).toBe(total);
  for (const m of messages) {
    const email = byRfc.get(m.rfc_message_id);
    expect(email?.headers.get('to')).toBe(m.email);
    expect(email?.id).toBe(m.provider_message_id);
  }
  const perRecipient = new Map<string, number>();
  for (const m of sent)
    perRecipient.set(m.headers.get('to')!, (perRecipient.get(m.headers.get('to')!) ?? 0) + 1);
  expect(perRecipient.size).toBe(CAMPAIGNS * PROSPECTS_EACH);
  expect([...perRecipient.values()].every((n) => n === STEPS)).toBe(true);
}, 90_000);
