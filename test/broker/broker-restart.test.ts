// The pipeline survives its broker going away: RabbitMQ stopped and started again in the middle of a campaign
// (workers in their own processes: relay, scheduler, drafter, sender), and every prospect still gets exactly
// one email, the run resuming within 30 s of the broker's return. This stops the machine's broker, so it runs
// alone, after the other tests (`npm test` runs this project last).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrm, withTenant } from '../../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../../lib/db/roles.ts';
import { enrollPositions, launchCampaign } from '../../subgraphs/outreach/services/campaign-lifecycle.ts';
import { WORKER_ENTITIES, WORKER_TENANT_ENTITIES } from '../../workers/runtime.ts';
import { type GoogleFake, startGoogleFake } from '../fakes/google.ts';
import { addressOf, type GmailCampaign, seedGmailCampaign } from '../helpers/pipeline-seed.ts';
import { type WorkerDatabase, workerDatabase } from '../helpers/worker-db.ts';
import { startWorkerProcesses, type WorkerProcesses } from '../helpers/worker-processes.ts';

const run = promisify(execFile);
const PROSPECTS = 400;
const RESUME_WITHIN_MS = 30_000;
const prefix = `test-broker-${randomBytes(3).toString('hex')}.`;
const secretsKey = randomBytes(32);

let db: WorkerDatabase;
let fake: GoogleFake;
let outreach: MikroORM;
let workers: WorkerProcesses | undefined;

async function rabbitmqctl(...args: string[]): Promise<void> {
  await run('rabbitmqctl', ['-q', ...args], { timeout: 120_000 });
}

// The broker must be this machine's, controllable with rabbitmqctl (CI's is); elsewhere the test says so and skips.
const controllable = await rabbitmqctl('status').then(
  () => true,
  () => false,
);

beforeAll(async () => {
  if (!controllable) return;
  db = await workerDatabase('broker');
  fake = await startGoogleFake({ dir: await mkdtemp(path.join(tmpdir(), 'broker-')), delegatedDomains: [] });
  outreach = await createOrm({
    databaseUrl: serviceDatabaseUrl(db.ownerUrl, 'outreach'),
    schema: 'outreach',
    entities: WORKER_ENTITIES,
    tenantEntities: WORKER_TENANT_ENTITIES,
  });
});
afterAll(async () => {
  await workers?.stop();
  await outreach?.close();
  await fake?.close();
  await db?.drop();
  if (!controllable) return;
  // this run's queues, whatever state the test ended in
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', 'name']).catch(() => ({ stdout: '' }));
  for (const name of stdout.split('\n').map((l) => l.trim()))
    if (name.startsWith(prefix)) await rabbitmqctl('delete_queue', name).catch(() => {});
});

async function sentCount(campaign: GmailCampaign): Promise<number> {
  const { rows } = await db.owner.query(
    `SELECT count(*)::int AS n FROM outreach.messages m
     JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
     WHERE e.campaign_id = $1 AND m.status = 'SENT'`,
    [campaign.campaignId],
  );
  return rows[0].n;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe.skipIf(!controllable)('RabbitMQ restarted in the middle of a campaign', () => {
  it('every prospect gets exactly one email, and sending resumes within 30 s of the broker coming back', async () => {
    const campaign = await seedGmailCampaign(db.owner, { count: PROSPECTS, mailboxes: 4, secretsKey });
    // slow enough that the broker goes away with most of the campaign still to send
    fake.gmail.latencyMs = 40;
    workers = await startWorkerProcesses(['relay', 'scheduler', 'drafter', 'sender'], {
      NODE_ENV: 'test',
      DATABASE_URL: db.ownerUrl,
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
      AMQP_PREFIX: prefix,
      DATA_DIR: await mkdtemp(path.join(tmpdir(), 'broker-data-')),
      SECRETS_KEY: secretsKey.toString('base64'),
      TRACKING_SECRET: randomBytes(32).toString('base64url'),
      GMAIL_API_URL: fake.gmailUrl,
      GOOGLE_TOKEN_URL: fake.tokenUrl,
      SCHEDULER_INTERVAL_MS: '100',
      SENDER_CONCURRENCY: '4',
    });
    await withTenant(outreach, campaign.organisationId, (em) =>
      enrollPositions(em, campaign.campaignId, campaign.positionIds, new Date()),
    );
    await withTenant(outreach, campaign.organisationId, (em) =>
      launchCampaign(em, campaign.campaignId, new Date()),
    );

    const started = await waitFor(async () => (await sentCount(campaign)) >= PROSPECTS / 5, 60_000);
    expect(started, workers.output()).toBe(true);
    await rabbitmqctl('stop_app');
    const whileDown = await sentCount(campaign);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await rabbitmqctl('start_app');
    await rabbitmqctl('await_startup');
    const back = Date.now();
    expect(whileDown).toBeLessThan(PROSPECTS);

    const done = await waitFor(async () => (await sentCount(campaign)) === PROSPECTS, RESUME_WITHIN_MS);
    expect(
      done,
      `${await sentCount(campaign)}/${PROSPECTS} sent ${Date.now() - back} ms after the broker came back\n${workers.output()}`,
    ).toBe(true);

    const mine = fake.gmail.sent().filter((m) => campaign.emails.has(addressOf(m.headers.get('to'))));
    const perRecipient = new Map<string, number>();
    for (const m of mine) {
      const to = addressOf(m.headers.get('to'));
      perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
    }
    expect(perRecipient.size).toBe(PROSPECTS);
    expect([...perRecipient.values()].filter((n) => n > 1)).toEqual([]);
    expect(new Set(mine.map((m) => m.headers.get('message-id'))).size).toBe(PROSPECTS);
  }, 240_000);
});
