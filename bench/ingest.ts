// `npm run bench:ingest`: Pharow ingest throughput through the gateway (GraphQL and webhook, fresh and repeat)
// against a naive one-item-per-transaction baseline, with the CRM subgraph process's peak memory.
// Everything runs on 127.0.0.1, on a throwaway database that is dropped at the end.
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generatePharowBatch, type RawItem } from './fixtures/pharow-generator.ts';
import {
  GatewayClient,
  graphqlIngestBody,
  type IngestResult,
  type Timed,
  webhookBody,
} from './lib/client.ts';
import { connectAsApp, type NaiveOutcome, naiveIngest } from './lib/naive.ts';
import {
  createDatabase,
  databaseUrl,
  dropDatabase,
  MemorySampler,
  type Platform,
  readMemory,
  startPlatform,
} from './lib/platform.ts';
import {
  describeNaive,
  describeResult,
  itemsPerSecond,
  mb,
  type Row,
  repeatProblems,
  sameOutcome,
  table,
  verdict,
} from './lib/report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ITEMS = 10_000;
const SEED = 20_240_611;
const NAIVE_SAMPLE = 1_000;
// fresh + repeat rounds per path, each in a new organisation (BENCH_ROUNDS)
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const WARMUP_ITEMS = 200;
// The whole run must end by itself: a watchdog cleans up and exits well before 5 minutes.
const RUN_BUDGET_MS = 280_000;
const STARTUP_TIMEOUT_MS = 90_000;

const TARGET_FRESH = 10_000;
const TARGET_REPEAT = 20_000;
const TARGET_RATIO = 10;
const TARGET_RSS_MB = 500;

const dbName = `prospectflow_bench_${process.pid}`;
const dbUrl = databaseUrl(dbName);
let platform: Platform | undefined;
let sampler: MemorySampler | undefined;
let appDb: pg.Client | undefined;
// superuser connection that lists this database's backends for the CPU figures
let statsDb: pg.Client | undefined;
// /proc/<pid>/stat counts CPU in clock ticks, 100 a second on Linux
const CLOCK_TICKS = 100;
let cleaning: Promise<void> | undefined;

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    sampler?.stop();
    await appDb?.end().catch(() => undefined);
    await statsDb?.end().catch(() => undefined);
    await platform?.stop().catch((error) => log(`stopping the platform failed: ${error}`));
    await dropDatabase(dbName).catch((error) => log(`dropping ${dbName} failed: ${error}`));
  })();
  return cleaning;
}

const watchdog = setTimeout(() => {
  log(`run exceeded ${RUN_BUDGET_MS / 1000} s: aborting`);
  void cleanup().finally(() => process.exit(2));
}, RUN_BUDGET_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** User + system CPU of one process so far, in ms (0 once it is gone). */
async function cpuMsOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name; utime and stime are the 12th and 13th of those
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** CPU of the gateway, the CRM subgraph and this database's PostgreSQL backends, per process group. */
async function cpuSnapshot(): Promise<Record<'gateway' | 'crm' | 'postgres', Map<number, number>>> {
  const { rows } = await statsDb!.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [dbName],
  );
  const snapshot = async (pids: number[]) =>
    new Map(await Promise.all(pids.map(async (p) => [p, await cpuMsOf(p)] as [number, number])));
  return {
    gateway: await snapshot([platform!.children.gateway.pid!]),
    crm: await snapshot([platform!.children.crm.pid!]),
    postgres: await snapshot(rows.map((r) => r.pid)),
  };
}

type CpuUse = Record<'gateway' | 'crm' | 'postgres', number>;

function cpuBetween(before: Awaited<ReturnType<typeof cpuSnapshot>>, after: typeof before): CpuUse {
  const used = (a: Map<number, number>, b: Map<number, number>) => {
    let total = 0;
    for (const [pid, ms] of b) total += ms - (a.get(pid) ?? 0);
    return total;
  };
  return {
    gateway: used(before.gateway, after.gateway),
    crm: used(before.crm, after.crm),
    postgres: used(before.postgres, after.postgres),
  };
}

/** Runs one measured call and records the CRM subgraph's peak RSS and every process's CPU during it. */
async function measure<T extends { ms: number }>(
  call: () => Promise<T>,
): Promise<{ out: T; peakKb: number; cpu: CpuUse }> {
  const s = sampler!;
  await s.sample();
  s.mark();
  const before = await cpuSnapshot();
  const out = await call();
  const after = await cpuSnapshot();
  await s.sample();
  return { out, peakKb: s.windowPeakKb, cpu: cpuBetween(before, after) };
}

const flat = <T>(timed: Timed<T>) => ({ ms: timed.ms, result: timed.result });

/**
 * Waits for the CRM to index the search terms the last call queued (migration 0068: after the response), so
 * that the next call does not share the database with it; how long that took and the database's CPU for it.
 */
async function searchIndexed(): Promise<{ ms: number; postgresMs: number }> {
  const started = performance.now();
  const before = await cpuSnapshot();
  for (;;) {
    const { rows } = await statsDb!.query<{ queued: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM crm.search_queue) AS queued',
    );
    if (!rows[0]?.queued) break;
    if (performance.now() - started > 60_000)
      throw new Error('search terms still queued a minute after an ingest');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const ms = performance.now() - started;
  return { ms, postgresMs: cpuBetween(before, await cpuSnapshot()).postgres };
}

async function rowCounts(organisationIds: Record<string, string>): Promise<string[]> {
  // Superuser connection: reads across organisations, only for this summary.
  const db = new pg.Client({ connectionString: dbUrl, connectionTimeoutMillis: 10_000 });
  await db.connect();
  try {
    const lines: string[] = [];
    for (const [label, id] of Object.entries(organisationIds)) {
      const { rows } = await db.query<{ companies: number; people: number; positions: number }>(
        `SELECT (SELECT count(*) FROM crm.companies WHERE organisation_id = $1)::int AS companies,
                (SELECT count(*) FROM crm.people WHERE organisation_id = $1)::int AS people,
                (SELECT count(*) FROM crm.positions WHERE organisation_id = $1)::int AS positions`,
        [id],
      );
      const r = rows[0]!;
      lines.push(`- ${label}: ${r.companies} companies, ${r.people} people, ${r.positions} positions`);
    }
    return lines;
  } finally {
    await db.end();
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  log(`creating database ${dbName}`);
  await createDatabase(dbName);
  log('starting the platform (one child process per service)');
  const startedAt = performance.now();
  platform = await startPlatform(ROOT, dbUrl, STARTUP_TIMEOUT_MS);
  const startupMs = performance.now() - startedAt;
  const pid = platform.child.pid!;
  sampler = new MemorySampler(pid, 50);
  sampler.start();
  const idle = await readMemory(pid);
  log(
    `platform healthy (CRM subgraph pid ${pid}) at ${platform.gatewayUrl} after ${startupMs.toFixed(0)} ms`,
  );

  const client = new GatewayClient(platform.gatewayUrl);
  const batch = generatePharowBatch(ITEMS, SEED);
  // Serialised once, before any clock starts: building the request is the client's own cost.
  const gqlBody = graphqlIngestBody(batch);
  const hookBody = webhookBody(batch);

  // Warm-up in a throwaway organisation so JIT compilation and connection set-up are not measured.
  log('warming up');
  const warm = await client.signUp('warmup');
  const warmKey = await client.createIngestKey(warm.token);
  const warmGql = graphqlIngestBody(generatePharowBatch(WARMUP_ITEMS, SEED + 1));
  const warmHook = webhookBody(generatePharowBatch(WARMUP_ITEMS, SEED + 2));
  for (let i = 0; i < 2; i++) {
    await client.ingestGraphql(warmGql, warm.token);
    await client.ingestWebhook(warmHook, warmKey);
  }
  appDb = await connectAsApp(dbUrl);
  await naiveIngest(appDb, warm.organisationId, generatePharowBatch(WARMUP_ITEMS, SEED + 3).data);

  const rows: Row[] = [];
  const results: Record<string, IngestResult> = {};
  const cpuRows: string[] = [];
  const roundWarnings: string[] = [];
  const cpuRow = (path: string, run: string, cpu: CpuUse) =>
    cpuRows.push(
      `| ${path} | ${run} | ${cpu.gateway.toFixed(0)} | ${cpu.crm.toFixed(0)} | ${cpu.postgres.toFixed(0)} | ${(cpu.gateway + cpu.crm + cpu.postgres).toFixed(0)} |`,
    );
  statsDb = new pg.Client({ connectionString: dbUrl, connectionTimeoutMillis: 10_000 });
  await statsDb.connect();

  // Each path ingests the batch into ROUNDS new organisations (fresh, then repeat in the same one); the
  // table gives the median round, so one slow or lucky call on a shared machine does not decide a verdict.
  const paths = [
    {
      path: 'GraphQL ingestPharow',
      key: 'graphql',
      bytes: gqlBody.length,
      prepare: async (round: number) => {
        const org = await client.signUp(`graphql-${round}`);
        return { org, call: () => client.ingestGraphql(gqlBody, org.token) };
      },
    },
    {
      path: 'webhook POST /webhooks/pharow',
      key: 'webhook',
      bytes: hookBody.length,
      prepare: async (round: number) => {
        const org = await client.signUp(`webhook-${round}`);
        const key = await client.createIngestKey(org.token);
        return { org, call: () => client.ingestWebhook(hookBody, key) };
      },
    },
  ];
  const organisations: Record<string, string> = {};
  type Run = { ms: number; peakKb: number; cpu: CpuUse; result: IngestResult };
  const runs = new Map(paths.map((p) => [p.path, { fresh: [] as Run[], repeat: [] as Run[] }]));
  const indexing: { ms: number; postgresMs: number }[] = [];
  for (const { path, bytes } of paths)
    log(`${path}: ${ITEMS} items (${(bytes / 1e6).toFixed(1)} MB request), ${ROUNDS} rounds`);
  // round by round, both paths in each: the first round is one ingest of each kind into a process that
  // has not yet accumulated the later rounds' garbage
  for (let round = 1; round <= ROUNDS; round++) {
    for (const { path, prepare } of paths) {
      const { org, call } = await prepare(round);
      if (round === 1) organisations[`${path} organisation (round 1)`] = org.organisationId;
      for (const run of ['fresh', 'repeat'] as const) {
        const { out, peakKb, cpu } = await measure(async () => flat(await call()));
        runs.get(path)![run].push({ ms: out.ms, peakKb, cpu, result: out.result });
        const indexed = await searchIndexed();
        if (run === 'fresh') indexing.push(indexed);
        log(
          `round ${round}, ${path} ${run}: ${out.ms.toFixed(0)} ms, CRM peak RSS ${mb(peakKb)} MB; search terms indexed ${indexed.ms.toFixed(0)} ms after the response`,
        );
      }
    }
  }
  for (const { path, key } of paths) {
    for (const run of ['fresh', 'repeat'] as const) {
      const all = runs.get(path)![run];
      const sorted = [...all].sort((a, b) => a.ms - b.ms);
      const median = sorted[Math.floor(sorted.length / 2)];
      rows.push({
        path,
        run,
        items: ITEMS,
        ms: median.ms,
        peakRssKb: all[0].peakKb,
        rounds: all.map((r) => r.ms),
      });
      cpuRow(path, run, median.cpu);
      results[`${key} ${run}`] = median.result;
      // every round of a path must have counted the same
      for (const r of all)
        if (!sameOutcome(r.result, median.result))
          roundWarnings.push(`WARNING: ${path} ${run} rounds returned different counts for the same items`);
    }
  }

  log(`naive baseline: first ${NAIVE_SAMPLE} items, one by one`);
  const naiveOrg = await client.signUp('naive');
  const sample: RawItem[] = batch.data.slice(0, NAIVE_SAMPLE);
  const naive: Partial<Record<Row['run'], Row>> = {};
  const naiveResults: Partial<Record<Row['run'], NaiveOutcome>> = {};
  for (const run of ['fresh', 'repeat'] as const) {
    // Runs in this process, so the platform's memory says nothing about it: no RSS column.
    const out = await naiveIngest(appDb!, naiveOrg.organisationId, sample);
    naive[run] = {
      path: `naive one-by-one (${NAIVE_SAMPLE.toLocaleString('en')}-item sample)`,
      run,
      items: NAIVE_SAMPLE,
      ms: out.ms,
    };
    naiveResults[run] = out;
  }
  const naiveRows = naive as Record<Row['run'], Row>;

  const counts = await rowCounts({
    ...organisations,
    'naive organisation (sample)': naiveOrg.organisationId,
  });
  await sampler.sample();
  const final = await readMemory(pid);
  const hwmKb = Math.max(final?.hwmKb ?? 0, sampler.lastHwmKb);
  const firstRoundPeakKb = Math.max(...rows.flatMap((r) => (r.peakRssKb === undefined ? [] : [r.peakRssKb])));
  const loadAfter = loadavg();

  // Report on stdout; progress went to stderr.
  const out: string[] = [];
  out.push(table([...rows, naiveRows.fresh, naiveRows.repeat], naiveRows));
  out.push('');
  // CPU is what contention on a shared machine disturbs least: compare runs by it
  out.push(
    "CPU ms per call, by process, in the median round (from /proc; PostgreSQL = this database's backends):",
  );
  out.push('');
  out.push('| path | run | gateway | CRM subgraph | PostgreSQL | total |');
  out.push('|---|---|---|---|---|---|');
  out.push(...cpuRows);
  out.push('');
  const byMs = [...indexing].sort((a, b) => a.ms - b.ms);
  const medianIndexing = byMs[Math.floor(byMs.length / 2)]!;
  out.push(
    `After the response, the CRM indexes a fresh ingest's search terms (a search finds the rows meanwhile): median ${medianIndexing.ms.toFixed(0)} ms, PostgreSQL CPU ${medianIndexing.postgresMs.toFixed(0)} ms, over ${indexing.length} fresh ingests. Each call starts once the one before is indexed.`,
  );
  out.push('');
  out.push(
    `Naive baseline ran on the first ${NAIVE_SAMPLE} of the ${ITEMS} items (a sample: it writes one item per transaction); "vs naive" compares items/s for the same run type.`,
  );
  out.push('');
  out.push('Counts returned:');
  for (const [label, result] of Object.entries(results)) out.push(`- ${describeResult(label, result)}`);
  for (const run of ['fresh', 'repeat'] as const)
    out.push(`- ${describeNaive(`naive ${run}`, naiveResults[run]!)}`);
  out.push('');
  out.push('Rows stored afterwards:');
  out.push(...counts);

  const warnings: string[] = [...new Set(roundWarnings)];
  for (const path of ['graphql', 'webhook']) {
    const problems = repeatProblems(results[`${path} fresh`]!, results[`${path} repeat`]!);
    for (const p of problems) warnings.push(`WARNING: ${path} repeat run was not all unchanged — ${p}`);
  }
  if (!sameOutcome(results['graphql fresh']!, results['webhook fresh']!))
    warnings.push('WARNING: GraphQL and webhook fresh runs returned different counts for the same items');
  if (warnings.length) out.push('', ...warnings);

  out.push('');
  out.push(
    `CRM subgraph process (pid ${pid}; production topology, one process per service): peak RSS during a first-round ingest ${mb(firstRoundPeakKb)} MB; over the whole run (${ROUNDS} rounds per path, VmHWM) ${mb(hwmKb)} MB, highest 50 ms sample ${mb(sampler.peakKb)} MB (${sampler.samples} samples), idle after start-up ${mb(idle?.rssKb ?? 0)} MB. Later rounds start with the earlier ones' garbage not yet collected: V8 grows the heap until its next full collection.`,
  );
  out.push(
    `Environment: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), load average ${loadBefore.map((v) => v.toFixed(2)).join(' ')} before / ${loadAfter.map((v) => v.toFixed(2)).join(' ')} after, platform start-up ${startupMs.toFixed(0)} ms`,
  );

  out.push('');
  out.push('Targets:');
  const rate = (path: string, run: Row['run']) =>
    itemsPerSecond(rows.find((r) => r.path === path && r.run === run)!);
  for (const path of [...new Set(rows.map((r) => r.path))]) {
    const fresh = rate(path, 'fresh');
    const repeat = rate(path, 'repeat');
    out.push(
      `- ${path} fresh ≥ ${TARGET_FRESH} items/s: ${fresh.toFixed(0)} — ${verdict(fresh >= TARGET_FRESH)}`,
    );
    out.push(
      `- ${path} repeat ≥ ${TARGET_REPEAT} items/s: ${repeat.toFixed(0)} — ${verdict(repeat >= TARGET_REPEAT)}`,
    );
    for (const run of ['fresh', 'repeat'] as const) {
      const ratio = rate(path, run) / itemsPerSecond(naiveRows[run]);
      out.push(
        `- ${path} ${run} ≥ ${TARGET_RATIO}x naive: ${ratio.toFixed(1)}x — ${verdict(ratio >= TARGET_RATIO)}`,
      );
    }
  }
  out.push(
    `- CRM subgraph peak RSS during one ingest < ${TARGET_RSS_MB} MB: ${mb(firstRoundPeakKb)} MB — ${verdict(firstRoundPeakKb / 1024 < TARGET_RSS_MB)}`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  const child = platform?.child;
  if (child && (child.exitCode !== null || child.signalCode !== null))
    log(
      `the CRM subgraph process had exited (code ${child.exitCode}, signal ${child.signalCode}) — if nothing in its output explains it, something outside the bench stopped it`,
    );
  if (platform?.output.length) log(`platform output (last lines):\n${platform.output.slice(-20).join('\n')}`);
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
process.exit(exitCode);
