// What sender tests share: a worker database with the Google fake, the scheduler, the drafter and the sender
// on one in-process bus and one clock the test moves, and campaigns whose mailbox sends through the fake Gmail
// (or the outbox folder).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';
import { type Bus, createBus } from '../../lib/bus/index.ts';
import { type Config, loadConfig } from '../../lib/config.ts';
import { sealGmailCredentials } from '../../lib/google/gmail-auth.ts';
import { createSecretBox } from '../../lib/secrets/secret-box.ts';
import { createLogger } from '../../lib/telemetry/logger.ts';
import { startDrafter } from '../../workers/drafter/consumer.ts';
import { createWorkerOrm, type RunningWorker } from '../../workers/runtime.ts';
import { createScheduler, type Scheduler } from '../../workers/scheduler/index.ts';
import { startSender } from '../../workers/sender/consumer.ts';
import { type GoogleFake, startGoogleFake } from '../fakes/google.ts';
import { type CampaignSeed, type PersonSeed, type StepSeed, seedDraftCampaign } from './drafts.ts';
import { eventually } from './wait.ts';
import { type WorkerDatabase, workerDatabase } from './worker-db.ts';

export const SECRETS_KEY = randomBytes(32).toString('base64');
export const PUBLIC_URL = 'https://prospectflow.example';

export interface SendingStack {
  db: WorkerDatabase;
  google: GoogleFake;
  dataDir: string;
  config: Readonly<Config>;
  orm: MikroORM;
  bus: Bus;
  clock: { now: () => Date; set(at: Date): void; advance(ms: number): void };
  scheduler: Scheduler;
  /** Scheduler rounds, then waits for the drafter and the sender, until nothing more moves. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export function senderEnv(db: WorkerDatabase, google: GoogleFake, dataDir: string): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: db.ownerUrl,
    DATA_DIR: dataDir,
    GMAIL_API_URL: google.gmailUrl,
    GOOGLE_TOKEN_URL: google.tokenUrl,
    SECRETS_KEY,
    TRACKING_SECRET: 'tracking-secret-for-sender-tests-0123456789',
    PUBLIC_URL,
    SENDER_CONCURRENCY: '8',
  };
}

export async function startSendingStack(tag: string): Promise<SendingStack> {
  const db = await workerDatabase(tag);
  const dataDir = await mkdtemp(path.join(tmpdir(), `prospectflow-${tag}-`));
  const google = await startGoogleFake({ dir: dataDir, delegatedDomains: [] });
  const config = loadConfig(senderEnv(db, google, dataDir));
  const orm = await createWorkerOrm(config);
  const silent = createLogger('test', 'silent');
  const bus = await createBus({ logger: silent });
  // ahead of the database's clock: what the workers write with now() is never later than the test's time
  let now = new Date(Date.now() + 60_000);
  const clock = {
    now: () => now,
    set: (at: Date) => {
      now = at;
    },
    advance: (ms: number) => {
      now = new Date(now.getTime() + ms);
    },
  };
  const runtime = { config, orm, bus, log: silent, clock: clock.now };
  const workers: RunningWorker[] = [await startDrafter(runtime), await startSender(runtime)];
  const scheduler = createScheduler(
    { orm, bus, workerId: `scheduler-${randomBytes(3).toString('hex')}`, clock: clock.now },
    silent,
    { intervalMs: 10 },
  );
  const inFlight = async () => {
    const { rows } = await db.owner.query(
      "SELECT count(*)::int AS n FROM outreach.tasks WHERE status IN ('QUEUED', 'RUNNING') AND leased_until > $1",
      [clock.now()],
    );
    return rows[0].n as number;
  };
  return {
    db,
    google,
    dataDir,
    config,
    orm,
    bus,
    clock,
    scheduler,
    async settle() {
      for (let round = 0; round < 20; round++) {
        let claimed = 0;
        for (;;) {
          const r = await scheduler.runOnce();
          claimed += r.claimed;
          if (r.claimed === 0) break;
        }
        await eventually(async () => (await inFlight()) === 0, 20_000);
        if (claimed === 0) return;
      }
      throw new Error('the pipeline did not settle');
    },
    async stop() {
      for (const w of workers) await w.stop();
      await bus.close();
      await orm.close();
      await google.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SendingCampaign extends CampaignSeed {
  mailboxEmail: string;
}

/**
 * A running campaign (seedDraftCampaign) whose mailbox sends through the fake Gmail with an OAuth refresh token
 * (or stays OUTBOX), without spacing, and each enrolment's first step due now.
 */
export async function seedSendingCampaign(
  stack: Pick<SendingStack, 'db' | 'clock'>,
  options: {
    steps: StepSeed[];
    people: PersonSeed[];
    provider?: 'GMAIL' | 'OUTBOX';
    organisationId?: string;
  },
): Promise<SendingCampaign> {
  const seed = await seedDraftCampaign(stack.db.owner, options);
  const { rows } = await stack.db.owner.query<{ email: string }>(
    'SELECT email::text AS email FROM outreach.mailboxes WHERE id = $1',
    [seed.mailboxId],
  );
  const mailboxEmail = rows[0]!.email;
  const provider = options.provider ?? 'GMAIL';
  const sealed =
    provider === 'GMAIL'
      ? sealGmailCredentials(
          createSecretBox(Buffer.from(SECRETS_KEY, 'base64')),
          seed.organisationId,
          seed.mailboxId,
          {
            kind: 'OAUTH',
            clientId: 'client-id',
            clientSecret: 'client-secret',
            refreshToken: `refresh:${mailboxEmail}`,
          },
        )
      : null;
  await stack.db.owner.query(
    `UPDATE outreach.mailboxes SET provider = $2, auth_kind = $3, credentials_encrypted = $4, min_interval_seconds = 0,
       daily_limit = 2000
     WHERE id = $1`,
    [seed.mailboxId, provider, provider === 'GMAIL' ? 'OAUTH' : 'NONE', sealed],
  );
  await stack.db.owner.query(
    'INSERT INTO outreach.campaign_mailboxes (organisation_id, campaign_id, mailbox_id) VALUES ($1, $2, $3)',
    [seed.organisationId, seed.campaignId, seed.mailboxId],
  );
  await startFirstStep(stack.db.owner, seed, stack.clock.now());
  return { ...seed, mailboxEmail };
}

/** Each enrolment's first-step draft task, PENDING and due at `at` (what launching the campaign writes). */
export async function startFirstStep(owner: pg.Pool, seed: CampaignSeed, at: Date): Promise<void> {
  await owner.query(
    `INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, status, scheduled_for)
     SELECT $1, gen_random_uuid(), e.id, $2, 'DRAFT', 'PENDING', $3 FROM unnest($4::uuid[]) AS e(id)`,
    [seed.organisationId, seed.steps[0]!.id, at, seed.enrollments.map((e) => e.id)],
  );
}

/** A second variant "A" with its own subject beside the seeded "B": the step is a real A/B test. */
export async function addVariantA(
  owner: pg.Pool,
  seed: CampaignSeed,
  stepIndex: number,
  content: { subject: string; body: string },
) {
  const step = seed.steps[stepIndex]!;
  await owner.query(
    `INSERT INTO outreach.step_experiment_variants (organisation_id, id, experiment_id, key, weight, subject_template,
       body_template)
     SELECT organisation_id, $2, experiment_id, 'A', 50, $3, $4 FROM outreach.step_experiment_variants WHERE id = $1`,
    [step.variantId, randomUUID(), content.subject, content.body],
  );
}
