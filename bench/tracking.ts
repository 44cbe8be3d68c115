// `npm run bench:tracking`: the open pixel under load, with wrk (Debian's `wrk` package): 50 connections for 20 s
// over 1,000 distinct valid pixel URLs (10 organisations × 100 messages), in the production topology on a
// throwaway database: each service in its own process (the tracking service, the gateway), hits group-committed
// to RabbitMQ, the events worker as a separate process writing raw events (ClickHouse when CLICKHOUSE_URL is
// set, else PostgreSQL). Runs, in one go:
//   - baseline: a bare node:http server answering the same GIF, storing nothing: the ceiling of this machine;
//   - the floor of the design: a bare server group-committing each hit to RabbitMQ as the service does, nothing
//     else (bench/lib/commit-floor.ts), with the disk's fdatasync time, which bounds every confirm;
//   - the tracking service directly (target ≥ 20,000 req/s, p99 < 20 ms);
//   - through the gateway (its /t/ proxy and rate rule), reported;
//   - the tracking service directly while the events worker is killed with SIGKILL mid-run and started again.
// Each tracking run then waits for the worker to catch up and counts the stored events: every answered hit must
// be stored (lost = answered − stored must be 0; stored may exceed answered by the requests in flight when wrk
// stopped, which the service answered after wrk stopped counting).
import 'reflect-metadata';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Connection } from 'rabbitmq-client';
import { ENGAGEMENT_QUEUE, HITS_QUEUE } from '../lib/bus/catalog.ts';
import { queueNames } from '../lib/bus/index.ts';
import { clickhouseTarget, createClickHouse } from '../lib/clickhouse/client.ts';
import { createTokenSigner } from '../lib/tracking/tokens.ts';
import { PIXEL_GIF } from '../subgraphs/tracking/routes/hit.route.ts';
import { deleteBrokerQueues } from '../test/helpers/broker.ts';
import { seedAwaitingMessages, seedDraftCampaign } from '../test/helpers/drafts.ts';
import { startWorkerProcesses } from '../test/helpers/worker-processes.ts';
import { createDatabase, databaseUrl, dropDatabase, freePorts, startPlatform } from './lib/platform.ts';
import { markdownTable } from './lib/report.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = 50;
const ORGANISATIONS = 10;
const MESSAGES_EACH = 100;
const TARGET_RPS = 20_000;
const TARGET_P99_MS = 20;
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const PREFIX = `bench-tracking-${randomBytes(4).toString('hex')}.`;
const FLOOR_PREFIX = `${PREFIX}floor.`;
const CATCH_UP_MS = 120_000;
const BUDGET_MS = 900_000;
const USER_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';

const dbName = `prospectflow_bench_tracking_${process.pid}`;
const ownerUrl = databaseUrl(dbName);
const clickhouseDb = `prospectflow_bench_tracking_${process.pid}`;
/** CLICKHOUSE_URL's server, with a database of the bench's own. */
function benchClickhouseUrl(given: string | undefined): string | undefined {
  if (!given) return undefined;
  const url = new URL(given);
  url.pathname = `/${clickhouseDb}`;
  return url.toString();
}
const clickhouseUrl = benchClickhouseUrl(process.env.CLICKHOUSE_URL);
const trackingSecret = randomBytes(32).toString('base64url');

interface WrkResult {
  requests: number;
  ok: number;
  other: number;
  errors: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

interface Row {
  run: string;
  result: WrkResult;
  stored?: number;
  target?: boolean;
}

// wrk's Lua: each thread walks the URL list from its own offset, counts 200s, and the main thread prints one
// JSON line with the totals and latency percentiles (wrk gives microseconds).
const WRK_SCRIPT = `
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; other = 0; i = math.random(#paths) end
function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i], { ["User-Agent"] = os.getenv("BENCH_UA") })
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, x = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); x = x + t:get("other") end
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"ok":%d,"other":%d,"errors":%d,"us":%d,"p50":%d,"p99":%d}\\n',
    summary.requests, o, x, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
`;

async function wrk(base: string, pathsFile: string, scriptFile: string): Promise<WrkResult> {
  const child = spawn(
    'wrk',
    ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--timeout', '10s', '-s', scriptFile, base],
    {
      env: { ...process.env, BENCH_PATHS: pathsFile, BENCH_UA: USER_AGENT },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = /^BENCH (.*)$/m.exec(out)?.[1];
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}):\n${out}`);
  const r = JSON.parse(line) as Record<string, number>;
  return {
    requests: r.requests!,
    ok: r.ok!,
    other: r.other!,
    errors: r.errors!,
    seconds: r.us! / 1e6,
    p50Ms: r.p50! / 1000,
    p99Ms: r.p99! / 1000,
  };
}

/** The baseline: node:http answering the pixel's bytes and headers, nothing verified, nothing stored. */
async function startBaseline(port: number): Promise<ChildProcess> {
  const code = `
    const gif = Buffer.from(${JSON.stringify(PIXEL_GIF.toString('base64'))}, 'base64');
    require('node:http').createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'image/gif', 'content-length': gif.length,
        'cache-control': 'no-store, no-cache, must-revalidate, private, max-age=0' });
      res.end(gif);
    }).listen(${port}, '127.0.0.1', () => console.log('listening'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`baseline server exited (${c})`)));
  });
  return child;
}

/** The commit floor (bench/lib/commit-floor.ts) on `port`; `stop()` returns its mean publish → confirm time. */
async function startCommitFloor(port: number): Promise<{ stop(): Promise<number> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'bench/lib/commit-floor.ts'), String(port)],
    { env: { ...process.env, AMQP_URL, AMQP_PREFIX: FLOOR_PREFIX }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  await new Promise<void>((resolve, reject) => {
    const wait = setInterval(() => {
      if (out.includes('listening')) {
        clearInterval(wait);
        resolve();
      }
    }, 50);
    child.once('exit', (c) => {
      clearInterval(wait);
      reject(new Error(`commit floor exited (${c})`));
    });
  });
  return {
    async stop() {
      child.removeAllListeners('exit');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      const line = /^FLOOR (.*)$/m.exec(out)?.[1];
      return line ? (JSON.parse(line) as { confirmMs: number }).confirmMs : Number.NaN;
    },
  };
}

/** Mean time to append 4 KB and fdatasync it on this machine's disk: no durable confirm can come back sooner. */
async function fdatasyncMs(dir: string): Promise<number> {
  const file = await open(path.join(dir, 'fdatasync.probe'), 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    const rounds = 200;
    const started = performance.now();
    for (let i = 0; i < rounds; i++) {
      await file.write(block);
      await file.datasync();
    }
    return (performance.now() - started) / rounds;
  } finally {
    await file.close();
  }
}

async function storedEvents(owner: pg.Pool): Promise<number> {
  if (!clickhouseUrl) {
    const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM tracking.events');
    return rows[0]!.n;
  }
  const client = createClickHouse(clickhouseTarget(clickhouseUrl));
  try {
    const [row] = await (
      await client.query({ query: 'SELECT uniqExact(id) AS n FROM tracking_events', format: 'JSONEachRow' })
    ).json<{ n: string }>();
    return Number(row?.n ?? 0);
  } finally {
    await client.close();
  }
}

/** Waits until the stored count reaches `expected` or stops moving for a while; returns it. */
async function caughtUp(owner: pg.Pool, expected: number): Promise<number> {
  const started = Date.now();
  let last = -1;
  let still = Date.now();
  for (;;) {
    const now = await storedEvents(owner);
    if (now >= expected) return now;
    if (now !== last) {
      last = now;
      still = Date.now();
    }
    if (Date.now() - still > 15_000 || Date.now() - started > CATCH_UP_MS) return now;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function cells(row: Row): string[] {
  const r = row.result;
  const rps = r.requests / r.seconds;
  const lost = row.stored === undefined ? '—' : String(Math.max(0, r.ok - row.stored));
  return [
    row.run,
    rps.toFixed(0),
    r.p50Ms.toFixed(1),
    r.p99Ms.toFixed(1),
    String(r.ok),
    String(r.other + r.errors),
    row.stored === undefined ? '—' : String(row.stored),
    lost,
    row.target === undefined ? '—' : row.target ? 'met' : 'missed',
  ];
}

async function deleteQueues(): Promise<void> {
  const queues = [HITS_QUEUE.name, ENGAGEMENT_QUEUE.name];
  await deleteBrokerQueues(AMQP_URL, PREFIX, queues);
  await deleteBrokerQueues(AMQP_URL, FLOOR_PREFIX, queues);
}

/** No consumer of the counters' queue runs here: empty it between runs so the broker does not hoard them. */
async function purgeEngagement(): Promise<void> {
  const conn = new Connection(AMQP_URL);
  try {
    await conn.queuePurge({ queue: queueNames(PREFIX, ENGAGEMENT_QUEUE.name).work }).catch(() => {});
  } finally {
    await conn.close();
  }
}

async function main(): Promise<void> {
  if (spawnSync('wrk', ['--version']).error) {
    console.error('bench:tracking: wrk is not installed (apt-get install -y wrk)');
    process.exit(1);
  }
  const watchdog = setTimeout(() => {
    console.error('bench:tracking ran out of its time budget');
    void dropDatabase(dbName).finally(() => process.exit(1));
  }, BUDGET_MS);
  watchdog.unref();

  await createDatabase(dbName);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'prospectflow-bench-tracking-'));
  const env: Record<string, string> = {
    AMQP_URL,
    AMQP_PREFIX: PREFIX,
    TRACKING_SECRET: trackingSecret,
    // one client address sends everything here: the per-address rule must not be what is measured
    RATE_LIMITS: 'tracking=100000000/60,ingestPharow=1000/60,signUp=100/60',
    ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : {}),
  };
  const platform = await startPlatform(ROOT, ownerUrl, 120_000, env);
  const owner = new pg.Pool({ connectionString: ownerUrl, max: 4 });
  let baseline: ChildProcess | undefined;
  let events: Awaited<ReturnType<typeof startWorkerProcesses>> | undefined;
  const rows: Row[] = [];
  let floorConfirmMs = Number.NaN;
  let syncMs = Number.NaN;
  try {
    const signer = createTokenSigner([trackingSecret]);
    const paths: string[] = [];
    for (let o = 0; o < ORGANISATIONS; o++) {
      const seed = await seedDraftCampaign(owner, {
        steps: [{ subject: 'Hello', body: 'Hi' }],
        people: Array.from({ length: MESSAGES_EACH }, (_, i) => ({ firstName: `P${i}` })),
        requireApproval: true,
      });
      for (const messageId of await seedAwaitingMessages(owner, seed, 0)) {
        const token = { kind: 'open' as const, organisationId: seed.organisationId, messageId };
        paths.push(`/t/o/${signer.sign(token)}.gif`);
      }
    }
    const pathsFile = path.join(dataDir, 'paths.txt');
    const scriptFile = path.join(dataDir, 'wrk.lua');
    await writeFile(pathsFile, `${paths.join('\n')}\n`);
    await writeFile(scriptFile, WRK_SCRIPT);

    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    events = await startWorkerProcesses(['events'], {
      ...env,
      NODE_ENV: 'production',
      DATABASE_URL: ownerUrl,
      DATA_DIR: dataDir,
      JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      SECRETS_KEY: randomBytes(32).toString('base64'),
      PUBLIC_URL: platform.gatewayUrl,
    });

    const [baselinePort] = await freePorts(1);
    baseline = await startBaseline(baselinePort!);
    rows.push({
      run: 'baseline: bare node:http GIF, nothing stored',
      result: await wrk(`http://127.0.0.1:${baselinePort}`, pathsFile, scriptFile),
    });
    baseline.kill('SIGTERM');

    const [floorPort] = await freePorts(1);
    const floor = await startCommitFloor(floorPort!);
    const floorResult = await wrk(`http://127.0.0.1:${floorPort}`, pathsFile, scriptFile);
    floorConfirmMs = await floor.stop();
    rows.push({ run: 'floor: bare node:http, each hit group-committed to RabbitMQ', result: floorResult });
    syncMs = await fdatasyncMs(dataDir);

    const trackingBase = platform.subgraphUrls.tracking!.replace(/\/graphql$/, '');
    const measured = async (run: string, base: string, during?: () => Promise<void>, target = false) => {
      const before = await storedEvents(owner);
      const [result] = await Promise.all([wrk(base, pathsFile, scriptFile), during?.()]);
      const stored = (await caughtUp(owner, before + result.ok)) - before;
      await purgeEngagement();
      const row: Row = { run, result, stored };
      if (target)
        row.target =
          result.requests / result.seconds >= TARGET_RPS &&
          result.p99Ms < TARGET_P99_MS &&
          stored >= result.ok;
      rows.push(row);
      console.error(`${run}: done`);
    };
    await measured('tracking service directly', trackingBase, undefined, true);
    await measured('through the gateway', platform.gatewayUrl);
    await measured('tracking service directly, events worker SIGKILLed mid-run', trackingBase, async () => {
      await new Promise((resolve) => setTimeout(resolve, (SECONDS * 1000) / 2));
      events!.kill('events');
      await events!.restart('events');
    });
  } finally {
    baseline?.kill('SIGKILL');
    await events?.stop().catch(() => {});
    await owner.end();
    await platform.stop();
    await deleteQueues().catch((error) => console.error(`queues not deleted: ${error.message}`));
    if (clickhouseUrl) {
      const client = createClickHouse(clickhouseTarget(clickhouseUrl), 'default');
      await client.command({ query: `DROP DATABASE IF EXISTS ${clickhouseDb}` }).catch(() => {});
      await client.close();
    }
    await dropDatabase(dbName);
    await rm(dataDir, { recursive: true, force: true });
  }

  // `wrk -v` prints its version and exits 1
  const wrkVersion = spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0];
  console.log(
    `\n## bench:tracking — ${CONNECTIONS} connections, ${SECONDS} s per run, ${ORGANISATIONS * MESSAGES_EACH} distinct pixel URLs, raw events in ${clickhouseUrl ? 'ClickHouse' : 'PostgreSQL'}\n`,
  );
  console.log(
    markdownTable(
      [
        'run',
        'req/s',
        'p50 ms',
        'p99 ms',
        'answered 200',
        'other/errors',
        'stored events',
        'lost',
        `target (≥ ${TARGET_RPS} req/s, p99 < ${TARGET_P99_MS} ms, 0 lost)`,
      ],
      rows.map(cells),
    ),
  );
  console.log(
    `\n${availableParallelism()} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; ${wrkVersion}; load generator, services, RabbitMQ and the store all on this machine.`,
  );
  // a request is answered one confirm after it joins a batch, so N connections cannot go faster than N per confirm
  console.log(
    `Floor: a batch's publish → confirm took ${floorConfirmMs.toFixed(1)} ms on average; fdatasync of 4 KB on this disk ${syncMs.toFixed(2)} ms. ` +
      `With every answer waiting for a durable confirm, ${CONNECTIONS} connections cannot exceed ${CONNECTIONS} ÷ confirm time: ` +
      `${Math.round(CONNECTIONS / (floorConfirmMs / 1000))} req/s at the floor's confirm time, ${Math.round(CONNECTIONS / (syncMs / 1000))} req/s if a confirm cost only one fdatasync.`,
  );
}

await main();
