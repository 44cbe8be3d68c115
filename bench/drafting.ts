// `npm run bench:drafting`: from launchCampaign to QUEUED messages through the real scheduler and drafter
// workers (worker role, in-process bus), on a throwaway database dropped at the end.
//   1. 10,000 enrolments of one campaign with a template step; then the drafter alone on 10,000 QUEUED tasks.
//   2. 1,000 prompt steps (10 organisations x 100 enrolments) with the local OpenAI fake answering in 300 ms,
//      under the default model slots (OPENAI_CONCURRENCY 16 per organisation, OPENAI_TOTAL_CONCURRENCY 64).
//      Then the drafter alone on 1,000 such prompt tasks seeded QUEUED.
//   3. The same 1,000 prompt steps in one organisation: held to its 16 slots.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { DRAFT_QUEUE } from '../lib/bus/catalog.ts';
import { type Bus, createBus } from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { migrate } from '../lib/db/migrate.ts';
import { createOrm, withTenant } from '../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { enrollPositions, launchCampaign } from '../subgraphs/outreach/services/campaign-lifecycle.ts';
import { startFakeOpenAI } from '../test/fakes/openai.ts';
import { startWorkers } from '../workers/launcher.ts';
import { WORKER_ENTITIES, WORKER_TENANT_ENTITIES } from '../workers/runtime.ts';
import { createDatabase, databaseUrl, dropDatabase } from './lib/platform.ts';

const TEMPLATE_ENROLMENTS = 10_000;
const AI_ORGANISATIONS = 10;
const AI_PER_ORGANISATION = 100;
const AI_LATENCY_MS = 300;
const TARGET_TEMPLATE_PER_S = 1000;
const TARGET_AI_PER_S = 150;
// the whole run ends by itself
const RUN_BUDGET_MS = 290_000;

const dbName = `prospectflow_bench_drafting_${process.pid}`;
const ownerUrl = databaseUrl(dbName);

interface Campaign {
  organisationId: string;
  campaignId: string;
  positionIds: string[];
}

/** An organisation with mailboxes enough for the day, a DRAFT campaign open all week and `count` prospects. */
async function seedCampaign(owner: pg.Pool, count: number, step: { prompt?: string }): Promise<Campaign> {
  const organisationId = randomUUID();
  const campaignId = randomUUID();
  await owner.query(`INSERT INTO iam.organisations (id, name) VALUES ($1::uuid, 'Bench ' || $1::text)`, [
    organisationId,
  ]);
  await owner.query(
    `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
     VALUES ($1, $2, 'Bench', 'UTC', '{1,2,3,4,5,6,7}', 0, 24)`,
    [organisationId, campaignId],
  );
  // a mailbox sends at most 2,000 a day: enough of them, and no spacing, so the day's limits never hold a draft back
  await owner.query(
    `WITH m AS (
       INSERT INTO outreach.mailboxes (organisation_id, id, email, display_name, provider, daily_limit, min_interval_seconds)
       SELECT $1, gen_random_uuid(), 'sender' || i || '.' || $3 || '@bench.fr', 'Claire Dubois', 'OUTBOX', 2000, 0
       FROM generate_series(1, $4::int) i RETURNING id)
     INSERT INTO outreach.campaign_mailboxes (organisation_id, campaign_id, mailbox_id) SELECT $1, $2, id FROM m`,
    [organisationId, campaignId, campaignId.slice(0, 8), Math.ceil(count / 2000) + 1],
  );
  let promptId: string | null = null;
  if (step.prompt) {
    promptId = randomUUID();
    await owner.query(
      `INSERT INTO outreach.prompts (organisation_id, id, name, version, text) VALUES ($1, $2, 'intro', 1, $3)`,
      [organisationId, promptId, step.prompt],
    );
  }
  await owner.query(
    `INSERT INTO outreach.workflow_steps (organisation_id, id, campaign_id, index, delay_days, subject_template,
       body_template, prompt_id)
     VALUES ($1, gen_random_uuid(), $2, 0, 0, $3, $4, $5)`,
    [
      organisationId,
      campaignId,
      promptId ? null : 'Une idée pour {{company.name}}',
      promptId
        ? null
        : 'Bonjour {{firstName|}},\n\nNous aidons {{company.name}} à livrer plus vite.\n\n{{sender.firstName}}',
      promptId,
    ],
  );
  const { rows } = await owner.query<{ id: string }>(
    `WITH n AS (SELECT i, gen_random_uuid() AS company_id, gen_random_uuid() AS person_id, gen_random_uuid() AS position_id
                FROM generate_series(1, $2::int) i),
     c AS (INSERT INTO crm.companies (organisation_id, id, name, activity)
           SELECT $1, company_id, 'Société ' || i, 'Logistique' FROM n RETURNING 1),
     p AS (INSERT INTO crm.people (organisation_id, id, first_name, last_name)
           SELECT $1, person_id, 'Prénom' || i, 'Nom' || i FROM n RETURNING 1)
     INSERT INTO crm.positions (organisation_id, id, company_id, person_id, job_title, email, email_status)
     SELECT $1, position_id, company_id, person_id, 'Directeur', 'contact' || i || '.' || $3 || '@client-bench.fr', 'VALID'
     FROM n WHERE (SELECT count(*) FROM c) > 0 AND (SELECT count(*) FROM p) > 0
     RETURNING id`,
    [organisationId, count, campaignId.slice(0, 8)],
  );
  return { organisationId, campaignId, positionIds: rows.map((r) => r.id) };
}

async function queuedCount(
  owner: pg.Pool,
  campaignIds: string[],
): Promise<{ queued: number; failed: number }> {
  const { rows } = await owner.query<{ queued: number; failed: number }>(
    `SELECT count(*) FILTER (WHERE m.status = 'QUEUED')::int AS queued, count(*) FILTER (WHERE m.status = 'FAILED')::int AS failed
     FROM outreach.messages m JOIN outreach.campaign_enrollments e
       ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
     WHERE e.campaign_id = ANY($1::uuid[])`,
    [campaignIds],
  );
  return rows[0]!;
}

interface Row {
  scenario: string;
  drafts: number;
  ms: number;
  failed: number;
  /** Drafts a second to reach; none where the row shows a bound by design. */
  target: number | undefined;
}

/** Waits until every enrolment of the campaigns has its QUEUED (or FAILED) message. */
async function untilDrafted(
  owner: pg.Pool,
  scenario: string,
  campaigns: Campaign[],
  started: number,
  target: number | undefined,
): Promise<Row> {
  const expected = campaigns.reduce((n, c) => n + c.positionIds.length, 0);
  const ids = campaigns.map((c) => c.campaignId);
  let counts = { queued: 0, failed: 0 };
  while (counts.queued + counts.failed < expected) {
    if (performance.now() - started > 120_000)
      throw new Error(`${scenario}: ${counts.queued}/${expected} after 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    counts = await queuedCount(owner, ids);
  }
  return { scenario, drafts: counts.queued, ms: performance.now() - started, failed: counts.failed, target };
}

/** How long each enrolPositions call took, reported beside the table (the rows start at launch). */
const enrolments: Array<{ positions: number; ms: number }> = [];

async function enrol(owner: pg.Pool, outreach: MikroORM, campaigns: Campaign[]): Promise<void> {
  for (const c of campaigns) {
    const started = performance.now();
    await withTenant(outreach, c.organisationId, (em) =>
      enrollPositions(em, c.campaignId, c.positionIds, new Date()),
    );
    enrolments.push({ positions: c.positionIds.length, ms: performance.now() - started });
  }
  // the product must not wait for autovacuum's statistics after a bulk write: the bench does not hide it either
  await owner.query('ANALYZE');
}

/** The whole pipeline: enrols (not timed), launches every campaign, and waits for the scheduler and the drafter. */
async function run(
  owner: pg.Pool,
  outreach: MikroORM,
  scenario: string,
  campaigns: Campaign[],
  target: number | undefined,
): Promise<Row> {
  await enrol(owner, outreach, campaigns);
  const started = performance.now();
  await Promise.all(
    campaigns.map((c) =>
      withTenant(outreach, c.organisationId, (em) => launchCampaign(em, c.campaignId, new Date())),
    ),
  );
  return untilDrafted(owner, scenario, campaigns, started, target);
}

/** The drafter alone: the tasks written as the scheduler leaves them (QUEUED), then all their messages sent. */
async function runDrafterAlone(
  owner: pg.Pool,
  outreach: MikroORM,
  bus: Bus,
  scenario: string,
  campaigns: Campaign[],
  target: number,
): Promise<Row> {
  await enrol(owner, outreach, campaigns);
  const { rows } = await owner.query<{ organisation_id: string; id: string }>(
    `WITH running AS (UPDATE outreach.campaigns SET status = 'RUNNING', launched_at = now()
                      WHERE id = ANY ($1::uuid[]) RETURNING id)
     INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, status, scheduled_for, mailbox_id, send_at)
     SELECT e.organisation_id, gen_random_uuid(), e.id, s.id, 'DRAFT', 'QUEUED', now(),
       (SELECT cm.mailbox_id FROM outreach.campaign_mailboxes cm WHERE cm.campaign_id = e.campaign_id LIMIT 1), now()
     FROM outreach.campaign_enrollments e JOIN outreach.workflow_steps s ON s.campaign_id = e.campaign_id AND s.index = 0
     WHERE e.campaign_id IN (SELECT id FROM running)
     ORDER BY e.organisation_id, e.id
     RETURNING organisation_id, id`,
    [campaigns.map((c) => c.campaignId)],
  );
  await owner.query('ANALYZE outreach.tasks');
  const started = performance.now();
  await bus.sendMany(
    DRAFT_QUEUE.name,
    rows.map((r) => ({ organisationId: r.organisation_id, taskId: r.id })),
  );
  return untilDrafted(owner, scenario, campaigns, started, target);
}

function table(rows: Row[], perOrganisationBound: number): string {
  const lines = [
    '| scenario | QUEUED drafts | failed | launch → last QUEUED (ms) | drafts/s | target | met |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const rate = (r.drafts * 1000) / r.ms;
    const target = r.target === undefined ? `≤ ${perOrganisationBound} by design` : `≥ ${r.target}`;
    const met = r.target === undefined ? '—' : rate >= r.target ? 'yes' : 'no';
    lines.push(
      `| ${r.scenario} | ${r.drafts} | ${r.failed} | ${r.ms.toFixed(0)} | ${rate.toFixed(0)} | ${target} | ${met} |`,
    );
  }
  return lines.join('\n');
}

async function main() {
  const watchdog = setTimeout(() => {
    console.error('bench:drafting ran out of its time budget');
    void dropDatabase(dbName).finally(() => process.exit(1));
  }, RUN_BUDGET_MS);
  watchdog.unref();

  await createDatabase(dbName);
  await migrate(ownerUrl);
  const owner = new pg.Pool({ connectionString: ownerUrl, max: 4 });
  const fake = await startFakeOpenAI({ latencyMs: AI_LATENCY_MS });
  const config = loadConfig({
    DATABASE_URL: ownerUrl,
    LOG_LEVEL: 'warn',
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: fake.baseUrl,
    SCHEDULER_INTERVAL_MS: '20',
  });
  const bus = await createBus();
  const workers = await startWorkers(['scheduler', 'drafter'], config, bus);
  const outreach = await createOrm({
    databaseUrl: serviceDatabaseUrl(ownerUrl, 'outreach'),
    schema: 'outreach',
    entities: WORKER_ENTITIES,
    tenantEntities: WORKER_TENANT_ENTITIES,
  });
  const rows: Row[] = [];
  try {
    const template = await seedCampaign(owner, TEMPLATE_ENROLMENTS, {});
    rows.push(
      await run(
        owner,
        outreach,
        'launch → scheduler → drafter: 10,000 template steps',
        [template],
        TARGET_TEMPLATE_PER_S,
      ),
    );
    const alone = await seedCampaign(owner, TEMPLATE_ENROLMENTS, {});
    rows.push(
      await runDrafterAlone(
        owner,
        outreach,
        bus,
        'drafter alone: 10,000 template steps (QUEUED tasks seeded, 10,000 messages sent at once)',
        [alone],
        TARGET_TEMPLATE_PER_S,
      ),
    );

    const prompt = 'Write a three-sentence intro email about our delivery-tracking software.';
    const many: Campaign[] = [];
    for (let i = 0; i < AI_ORGANISATIONS; i++)
      many.push(await seedCampaign(owner, AI_PER_ORGANISATION, { prompt }));
    rows.push(
      await run(
        owner,
        outreach,
        `launch → scheduler → drafter: 1,000 prompt steps, ${AI_ORGANISATIONS} organisations, model 300 ms`,
        many,
        TARGET_AI_PER_S,
      ),
    );
    const maxInFlight = fake.maxConcurrency();
    const aloneMany: Campaign[] = [];
    for (let i = 0; i < AI_ORGANISATIONS; i++) {
      aloneMany.push(await seedCampaign(owner, AI_PER_ORGANISATION, { prompt }));
    }
    rows.push(
      await runDrafterAlone(
        owner,
        outreach,
        bus,
        `drafter alone: 1,000 prompt steps, ${AI_ORGANISATIONS} organisations, model 300 ms (QUEUED tasks seeded)`,
        aloneMany,
        TARGET_AI_PER_S,
      ),
    );

    const one = await seedCampaign(owner, AI_ORGANISATIONS * AI_PER_ORGANISATION, { prompt });
    const before = fake.requests.length;
    rows.push(
      await run(
        owner,
        outreach,
        'launch → scheduler → drafter: 1,000 prompt steps, 1 organisation, model 300 ms',
        [one],
        undefined,
      ),
    );
    const oneOrgInFlight = fake.maxConcurrency((r) => fake.requests.indexOf(r) >= before);

    console.log(
      `\nbench:drafting — scheduler + drafter workers (worker role, in-process bus), PostgreSQL 127.0.0.1, ${availableParallelism()} cores, load average ${loadavg()[0].toFixed(1)} at the end\n`,
    );
    // one organisation alone has its own slots only: OPENAI_CONCURRENCY requests each taking the model's latency
    console.log(table(rows, Math.floor((config.openai.concurrency * 1000) / AI_LATENCY_MS)));
    const largest = enrolments.reduce((a, b) => (b.positions > a.positions ? b : a));
    console.log(
      `\nEnrolment (before launch, not in the rows): ${largest.positions.toLocaleString('en')} positions in one enrollPositions call took ${Math.round(largest.ms).toLocaleString('en')} ms.`,
    );
    console.log(
      `Model requests in flight at most: ${maxInFlight} with ${AI_ORGANISATIONS} organisations (OPENAI_TOTAL_CONCURRENCY ${config.openai.totalConcurrency}), ${oneOrgInFlight} for one organisation alone (OPENAI_CONCURRENCY ${config.openai.concurrency}).`,
    );
  } finally {
    await workers.stop();
    await bus.close();
    await outreach.close();
    await owner.end();
    await fake.close();
    await dropDatabase(dbName);
    clearTimeout(watchdog);
  }
}

await main();
