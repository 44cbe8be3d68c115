// `npm run bench:pipeline`: 10,000 enrolments over 20 Gmail mailboxes, from launchCampaign to emails accepted by
// the Gmail fake, through the real relay, scheduler, drafter (templates) and sender, on a throwaway database
// dropped at the end. Two topologies in the same run:
//   - production: one process per worker (`npm run start:worker -- <name>`), RabbitMQ between them;
//   - `npm start`: every worker in one process on the in-process bus.
// Each run counts duplicates (the same Message-ID, or one prospect reached twice, in the fake's log: must be 0)
// and lost emails (enrolled prospects never reached: must be 0). The baseline row is the Gmail fake alone, sent
// to through googleapis as fast as it goes: the ceiling any sender on this machine works under. The fake runs
// on a thread of its own (Gmail is another machine): in the `npm start` run it would otherwise share the
// workers' event loop.
import 'reflect-metadata';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { OAuth2Client } from 'google-auth-library';
import { gmail_v1 } from 'googleapis/build/src/apis/gmail/v1.js';
import pg from 'pg';
import { createBus } from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { migrate } from '../lib/db/migrate.ts';
import { createOrm, withTenant } from '../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { keepAliveAdapter } from '../lib/google/http-adapter.ts';
import { enrollPositions, launchCampaign } from '../subgraphs/outreach/services/campaign-lifecycle.ts';
import { addressOf, type GmailCampaign, seedGmailCampaign } from '../test/helpers/pipeline-seed.ts';
import { startWorkerProcesses } from '../test/helpers/worker-processes.ts';
import { startWorkers } from '../workers/launcher.ts';
import { WORKER_ENTITIES, WORKER_TENANT_ENTITIES } from '../workers/runtime.ts';
import { type GoogleFakeThread, type SentHeaders, startGoogleFakeThread } from './lib/google-fake-thread.ts';
import { cpuByGroup, machineCpu } from './lib/load.ts';
import { createDatabase, databaseUrl, dropDatabase } from './lib/platform.ts';
import { markdownTable } from './lib/report.ts';

const ENROLMENTS = Number(process.env.BENCH_ENROLMENTS ?? 10_000);
const MAILBOXES = 20;
const TARGET_PER_S = 300;
const PIPELINE_WORKERS = ['relay', 'scheduler', 'drafter', 'sender'];
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
// one run may not take longer than this; the whole bench ends by itself
const RUN_TIMEOUT_MS = 420_000;
const BUDGET_MS = 900_000;
// BENCH_RUNS=production,inprocess (default both; the baseline always runs)
const RUNS = new Set((process.env.BENCH_RUNS ?? 'production,inprocess').split(','));

const dbName = `prospectflow_bench_pipeline_${process.pid}`;
const ownerUrl = databaseUrl(dbName);
const secretsKey = randomBytes(32);

interface Row {
  run: string;
  emails: number;
  ms: number;
  /** From the first email accepted to the last. */
  sendingMs: number;
  duplicates: number;
  lost: number;
  target: number | undefined;
  /** CPU ms spent from the launch to the last email, per process group. */
  cpu?: Map<string, number>;
}

type Snapshot = Awaited<ReturnType<typeof machineCpu>>;

/**
 * Names a process: a worker by its pid, this bench (which hosts the Gmail fake), this database's PostgreSQL
 * backends, PostgreSQL's shared processes (WAL writer, checkpointer…) and other databases' backends, RabbitMQ.
 */
function groupsOf(
  workers: Record<string, number>,
  backends: Set<number>,
): (pid: number, command: string) => string {
  const byPid = new Map(Object.entries(workers).map(([name, pid]) => [pid, name]));
  return (pid, command) => {
    const worker = byPid.get(pid);
    if (worker) return worker;
    if (pid === process.pid) return byPid.size > 0 ? 'bench + Gmail fake' : 'workers + bench + Gmail fake';
    if (command === 'postgres') return backends.has(pid) ? 'PostgreSQL: this database' : 'PostgreSQL: other';
    if (command.startsWith('beam') || command === 'erl_child_setup' || command === 'epmd') return 'RabbitMQ';
    return 'other';
  };
}

/** The PostgreSQL backends serving this database now (the workers' pools are open for the whole run). */
async function backendsOf(owner: pg.Pool): Promise<Set<number>> {
  const { rows } = await owner.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  return new Set(rows.map((r) => r.pid));
}

async function untilSent(
  owner: pg.Pool,
  fake: GoogleFakeThread,
  run: string,
  seeded: GmailCampaign,
  started: number,
  cpu: { before: Snapshot; groupOf: (backends: Set<number>) => (pid: number, command: string) => string },
): Promise<Row> {
  const expected = seeded.positionIds.length;
  // progress is read from the fake's log (free), not by counting rows: a count every 100 ms cost PostgreSQL
  // almost a millisecond of CPU per email; the database is asked only once the fake has them all
  const mine: SentHeaders[] = [];
  const reachedRecipients = new Set<string>();
  let next = 0;
  const reached = async () => {
    const read = await fake.sentSince(next);
    next = read.next;
    for (const m of read.sent) {
      const to = addressOf(m.to);
      if (!seeded.emails.has(to)) continue;
      mine.push(m);
      reachedRecipients.add(to);
    }
    return reachedRecipients.size;
  };
  let firstSentAt: number | undefined;
  let sent = 0;
  while (sent < expected) {
    if (performance.now() - started > RUN_TIMEOUT_MS) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const accepted = await reached();
    if (accepted > 0 && firstSentAt === undefined) firstSentAt = performance.now();
    if (accepted < expected) continue;
    const { rows } = await owner.query<{ sent: number }>(
      `SELECT count(*)::int AS sent FROM outreach.messages m
       JOIN outreach.campaign_enrollments e ON e.organisation_id = m.organisation_id AND e.id = m.enrollment_id
       WHERE e.campaign_id = $1 AND m.status = 'SENT'`,
      [seeded.campaignId],
    );
    sent = rows[0]!.sent;
  }
  const ms = performance.now() - started;
  const backends = await backendsOf(owner);
  const spent = cpuByGroup(cpu.before, await machineCpu(), cpu.groupOf(backends));
  // the fake's log, this campaign's recipients only
  await reached();
  const messageIds = new Set(mine.map((m) => m.messageId));
  const recipients = new Set(mine.map((m) => addressOf(m.to)));
  const duplicates = mine.length - Math.min(messageIds.size, recipients.size);
  return {
    run,
    emails: recipients.size,
    ms,
    sendingMs: ms - ((firstSentAt ?? performance.now()) - started),
    duplicates,
    lost: expected - recipients.size,
    target: TARGET_PER_S,
    cpu: spent,
  };
}

async function enrolAndLaunch(
  outreach: MikroORM,
  owner: pg.Pool,
  seeded: GmailCampaign,
): Promise<{ started: number; before: Snapshot }> {
  await withTenant(outreach, seeded.organisationId, (em) =>
    enrollPositions(em, seeded.campaignId, seeded.positionIds, new Date()),
  );
  // the product must not wait for autovacuum's statistics after a bulk write: the bench does not hide it either
  await owner.query('ANALYZE');
  const before = await machineCpu();
  const started = performance.now();
  await withTenant(outreach, seeded.organisationId, (em) =>
    launchCampaign(em, seeded.campaignId, new Date()),
  );
  return { started, before };
}

function workerEnv(fake: GoogleFakeThread, dataDir: string): Record<string, string> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    NODE_ENV: 'production',
    DATABASE_URL: ownerUrl,
    AMQP_URL,
    DATA_DIR: dataDir,
    JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    SECRETS_KEY: secretsKey.toString('base64'),
    TRACKING_SECRET: randomBytes(32).toString('base64url'),
    PUBLIC_URL: 'https://prospectflow.bench.example',
    GMAIL_API_URL: fake.gmailUrl,
    GOOGLE_TOKEN_URL: fake.tokenUrl,
    SCHEDULER_INTERVAL_MS: '50',
  };
}

/**
 * The Gmail fake alone: as many sends through googleapis (over the sender's HTTP adapter) as it takes, 32 in
 * flight over the 20 mailboxes.
 */
async function baseline(fake: GoogleFakeThread, count: number): Promise<Row> {
  const adapter = keepAliveAdapter(64) as unknown as NonNullable<
    ConstructorParameters<typeof gmail_v1.Gmail>[0]
  >['adapter'];
  const clients = Array.from({ length: MAILBOXES }, (_, i) => {
    const auth = new OAuth2Client({
      clientId: 'bench',
      clientSecret: 'bench',
      endpoints: { oauth2TokenUrl: fake.tokenUrl },
    });
    auth.setCredentials({ refresh_token: `refresh:baseline${i}@bench.fr` });
    return new gmail_v1.Gmail({ auth, adapter, rootUrl: `${fake.gmailUrl}/` });
  });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        const i = next++;
        const raw = Buffer.from(
          `From: baseline@bench.fr\r\nTo: r${i}@baseline.fr\r\nSubject: Hi\r\nMessage-ID: <b${i}@bench>\r\n\r\nHello\r\n`,
        ).toString('base64url');
        await clients[i % MAILBOXES]!.users.messages.send({ userId: 'me', requestBody: { raw } });
      }
    }),
  );
  const ms = performance.now() - started;
  return {
    run: 'baseline: the Gmail fake alone (googleapis, 32 in flight)',
    emails: count,
    ms,
    sendingMs: ms,
    duplicates: 0,
    lost: 0,
    target: undefined,
  };
}

function report(rows: Row[]): string {
  return markdownTable(
    [
      'run',
      'emails',
      'launch → last sent (s)',
      'emails/s',
      'sending phase emails/s',
      'duplicates',
      'lost',
      'target',
      'met',
    ],
    rows.map((r) => {
      const rate = (r.emails * 1000) / r.ms;
      const met =
        r.target === undefined ? '—' : rate >= r.target && r.duplicates === 0 && r.lost === 0 ? 'yes' : 'no';
      return [
        r.run,
        String(r.emails),
        (r.ms / 1000).toFixed(1),
        rate.toFixed(0),
        ((r.emails * 1000) / Math.max(1, r.sendingMs)).toFixed(0),
        String(r.duplicates),
        String(r.lost),
        r.target === undefined ? 'ceiling' : `≥ ${r.target}/s, 0 duplicates, 0 lost`,
        met,
      ];
    }),
  );
}

function cpuReport(rows: Row[]): string {
  const measured = rows.filter((r) => r.cpu && r.emails > 0);
  const groups = [...new Set(measured.flatMap((r) => [...r.cpu!.keys()]))].sort();
  return markdownTable(
    ['run', ...groups, 'total'],
    measured.map((r) => {
      const per = (ms: number) => (ms / r.emails).toFixed(2);
      const total = [...r.cpu!.values()].reduce((a, b) => a + b, 0);
      return [r.run, ...groups.map((g) => per(r.cpu!.get(g) ?? 0)), per(total)];
    }),
  );
}

async function main() {
  const watchdog = setTimeout(() => {
    console.error('bench:pipeline ran out of its time budget');
    void dropDatabase(dbName).finally(() => process.exit(1));
  }, BUDGET_MS);
  watchdog.unref();

  const dataDir = await mkdtemp(path.join(tmpdir(), 'prospectflow-bench-pipeline-'));
  await createDatabase(dbName);
  await migrate(ownerUrl);
  const owner = new pg.Pool({ connectionString: ownerUrl, max: 4 });
  const fake = await startGoogleFakeThread({ dir: dataDir });
  const outreach = await createOrm({
    databaseUrl: serviceDatabaseUrl(ownerUrl, 'outreach'),
    schema: 'outreach',
    entities: WORKER_ENTITIES,
    tenantEntities: WORKER_TENANT_ENTITIES,
  });
  const env = workerEnv(fake, dataDir);
  const rows: Row[] = [];
  try {
    rows.push(await baseline(fake, ENROLMENTS));

    if (RUNS.has('production')) {
      const production = await seedGmailCampaign(owner, {
        count: ENROLMENTS,
        mailboxes: MAILBOXES,
        secretsKey,
      });
      // ready when each has logged "worker started": the launch is not timed against module loading
      const processes = await startWorkerProcesses(
        PIPELINE_WORKERS,
        env,
        // BENCH_CPU_PROFILE=<dir> writes a V8 CPU profile of every worker process into <dir> when it stops
        process.env.BENCH_CPU_PROFILE
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`]
          : [],
      );
      try {
        const { started, before } = await enrolAndLaunch(outreach, owner, production);
        rows.push(
          await untilSent(
            owner,
            fake,
            `production topology: ${PIPELINE_WORKERS.length} worker processes, RabbitMQ`,
            production,
            started,
            { before, groupOf: (backends) => groupsOf(processes.pids(), backends) },
          ),
        );
      } finally {
        await processes.stop();
      }
    }

    if (RUNS.has('inprocess')) {
      const inProcess = await seedGmailCampaign(owner, {
        count: ENROLMENTS,
        mailboxes: MAILBOXES,
        secretsKey,
      });
      const { NODE_ENV: _env, AMQP_URL: _amqp, ...rest } = env;
      const config = loadConfig({ ...rest, NODE_ENV: 'development', LOG_LEVEL: 'warn' });
      const bus = await createBus();
      const workers = await startWorkers(PIPELINE_WORKERS, config, bus);
      try {
        const { started, before } = await enrolAndLaunch(outreach, owner, inProcess);
        rows.push(
          await untilSent(
            owner,
            fake,
            '`npm start`: every worker in one process, in-process bus',
            inProcess,
            started,
            { before, groupOf: (backends) => groupsOf({}, backends) },
          ),
        );
      } finally {
        await workers.stop();
        await bus.close();
      }
    }

    console.log(
      `\nbench:pipeline — ${ENROLMENTS.toLocaleString('en')} enrolments, ${MAILBOXES} Gmail mailboxes (local fake), one template step; PostgreSQL 127.0.0.1, ${availableParallelism()} cores, load average ${loadavg()[0].toFixed(1)} at the end\n`,
    );
    console.log(report(rows));
    console.log(
      '\nCPU ms per email sent, from the launch to the last email, per process (2 cores = 2,000 ms/s):\n',
    );
    console.log(cpuReport(rows));
  } finally {
    await outreach.close();
    await owner.end();
    await fake.close();
    if (process.env.BENCH_KEEP_DB) console.log(`kept database ${dbName}`);
    else await dropDatabase(dbName);
    await rm(dataDir, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
}

await main();
