// `npm run bench:api`: the read path through ProspectFlow's gateway against Hive Gateway over the same
// supergraph and subgraph processes: req/s, latency percentiles and CPU per request of every process,
// on identical traffic (one token) and mixed traffic (100 users in 20 organisations).
// Everything runs on 127.0.0.1, on a throwaway database that is dropped at the end.
// BENCH_SECONDS sets each run's length (default 10); `--quick` (or BENCH_QUICK=1) is a short smoke run.
// BENCH_QUERIES=me,page,campaigns,company runs a subset of the queries; BENCH_CONNECTIONS=10 one
// connection count; BENCH_NO_HIVE=1 measures ProspectFlow alone (no comparison, no Hive install).
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { LIVE_SUBGRAPH, LIVE_SUBGRAPH_URL } from '../gateway/live-schema.ts';
import { readOutbox } from '../lib/mail/outbox-reader.ts';
import { generatePharowBatch } from './fixtures/pharow-generator.ts';
import { GatewayClient, graphqlIngestBody } from './lib/client.ts';
import { ensureHive, type HiveGateway, startHive } from './lib/hive.ts';
import {
  answerProblem,
  cpuSnapshot,
  type LoadResult,
  mergeSorted,
  type PreparedRequest,
  percentile,
  runLoad,
} from './lib/load.ts';
import { createDatabase, databaseUrl, dropDatabase, type Platform, startPlatform } from './lib/platform.ts';
import { markdownTable, verdict } from './lib/report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SUPERGRAPH = join(ROOT, 'schema', 'supergraph.graphql');
const SUBGRAPHS = ['iam', 'crm', 'outreach', 'tracking'] as const;

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const SECONDS = parseSeconds(process.env.BENCH_SECONDS, QUICK ? 2 : 10);
const ROUNDS = QUICK ? 1 : 2;
const CONNECTIONS = parseConnections(process.env.BENCH_CONNECTIONS);
const NO_HIVE = process.env.BENCH_NO_HIVE === '1';
const WARMUP_SECONDS = Math.min(SECONDS, QUICK ? 1 : 3);

const ORGANISATIONS = 20;
const MEMBERS_PER_ORGANISATION = 4; // plus the owner: 5 users each, 100 in all
// Items per organisation: after the generator's duplicates and bad emails, about 500 positions.
const ITEMS_PER_ORGANISATION = 590;
const SEED = 20_250_301;
const SETUP_CONCURRENCY = 4;
const STARTUP_TIMEOUT_MS = 90_000;

const TARGET_P95_MS = 25;
const TARGET_ME_RPS = 1_500;
const TARGET_PAGE_RPS = 600;
const TARGET_VS_HIVE = 1.2;
const TARGET_CPU_ME_MS = 0.5;
const TARGET_CPU_PAGE_MS = 1.5;

// The bench drives far more reads per organisation than a customer may: the limiter keeps running
// (its cost is part of the read path) but never refuses bench traffic.
const PLATFORM_ENV = {
  RATE_LIMITS: 'ingestPharow=100000/60,signUp=100000/60,login=100000/60,write=1000000/60,read=1000000000/60',
  // runs can outlast the default token lifetime
  ACCESS_TOKEN_SECONDS: '86400',
};

function parseSeconds(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 600) {
    process.stderr.write(`BENCH_SECONDS must be a number of seconds between 0 and 600, got "${raw}"\n`);
    process.exit(2);
  }
  return n;
}

function parseConnections(raw: string | undefined): number[] {
  if (raw === undefined || raw === '') return [10, 50];
  const values = raw.split(',').map((v) => Number(v.trim()));
  if (values.some((n) => !Number.isInteger(n) || n < 1 || n > 1000)) {
    process.stderr.write(`BENCH_CONNECTIONS must be connection counts between 1 and 1000, got "${raw}"\n`);
    process.exit(2);
  }
  return values;
}

type GatewayName = 'ProspectFlow' | 'Hive';
type Traffic = 'identical' | 'mixed';

interface User {
  organisation: number;
  organisationId: string;
  token: string;
  email: string;
  companyId: string;
}

interface QueryKind {
  name: string;
  query: string;
  variables: (user: User) => Record<string, unknown>;
  /** a sanity check of the answer beyond both gateways agreeing; returns what is wrong */
  checkData?: (data: Record<string, unknown>, user: User) => string | undefined;
}

const PAGE_QUERY = `query PositionsPage { positions(first: 20) { edges { node { id email person { fullName } company { name } enrollments { id status } } } } }`;

const ALL_QUERIES: (QueryKind & { short: string })[] = [
  {
    name: 'me',
    short: 'me',
    query: 'query Me { me { email } }',
    variables: () => ({}),
    checkData: (data, user) => {
      const email = (data.me as { email?: string } | undefined)?.email;
      return email === user.email ? undefined : `me.email is ${email}, expected ${user.email}`;
    },
  },
  {
    name: 'positions page',
    short: 'page',
    query: PAGE_QUERY,
    variables: () => ({}),
    checkData: (data) => {
      const edges = (data.positions as { edges?: unknown[] } | undefined)?.edges;
      return edges?.length === 20 ? undefined : `positions page has ${edges?.length} edges, expected 20`;
    },
  },
  {
    name: 'campaigns',
    short: 'campaigns',
    query: 'query Campaigns { campaigns { id name status launchedAt } }',
    variables: () => ({}),
  },
  {
    name: 'company(id)',
    short: 'company',
    query: 'query Company($id: ID!) { company(id: $id) { id name siren domain employeeRange hqAddress } }',
    variables: (user) => ({ id: user.companyId }),
    checkData: (data, user) =>
      (data.company as { id?: string } | null)?.id === user.companyId
        ? undefined
        : `company(id) did not return ${user.companyId}`,
  },
];

function selectQueries(raw: string | undefined): QueryKind[] {
  if (raw === undefined || raw === '') return ALL_QUERIES;
  const wanted = raw.split(',').map((v) => v.trim());
  const unknown = wanted.filter((w) => !ALL_QUERIES.some((q) => q.short === w));
  if (unknown.length || wanted.length === 0) {
    process.stderr.write(
      `BENCH_QUERIES must list some of ${ALL_QUERIES.map((q) => q.short).join(', ')}, got "${raw}"\n`,
    );
    process.exit(2);
  }
  return ALL_QUERIES.filter((q) => wanted.includes(q.short));
}

const QUERIES = selectQueries(process.env.BENCH_QUERIES);
const GATEWAYS: GatewayName[] = NO_HIVE ? ['ProspectFlow'] : ['ProspectFlow', 'Hive'];

interface Run {
  query: string;
  traffic: Traffic;
  connections: number;
  gateway: GatewayName;
  round: number;
  result: LoadResult;
  /** CPU ms spent during the run, per process (gateway = the gateway measured) */
  cpu: Record<string, number>;
}

const dbName = `prospectflow_bench_api_${process.pid}`;
const dbUrl = databaseUrl(dbName);
let platform: Platform | undefined;
let hive: HiveGateway | undefined;
let cleaning: Promise<void> | undefined;

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await hive?.stop().catch((error) => log(`stopping Hive Gateway failed: ${error}`));
    await platform?.stop().catch((error) => log(`stopping the platform failed: ${error}`));
    await dropDatabase(dbName).catch((error) => log(`dropping ${dbName} failed: ${error}`));
  })();
  return cleaning;
}

const RUN_COUNT = CONNECTIONS.length * QUERIES.length * 2 * ROUNDS * GATEWAYS.length;
// The run must end by itself: set-up (including a first Hive install), then every run with slack.
const RUN_BUDGET_MS = 600_000 + RUN_COUNT * (SECONDS + 3) * 1000;
const watchdog = setTimeout(() => {
  log(`run exceeded ${(RUN_BUDGET_MS / 1000).toFixed(0)} s: aborting`);
  void cleanup().finally(() => process.exit(2));
}, RUN_BUDGET_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function inBatches<T, R>(
  items: T[],
  size: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!, i);
      }
    }),
  );
  return out;
}

/** The token of the invitation mailed to this address, once it is in the outbox. */
async function invitationToken(dataDir: string, email: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const token = (await readOutbox(dataDir, email)).find((m) => m.token)?.token;
    if (token) return token;
    if (Date.now() > deadline) throw new Error(`no invitation mail for ${email} in ${dataDir}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** 20 organisations, each with its prospects and five users (the owner and four invited members). */
async function loadData(
  client: GatewayClient,
  dataDir: string,
): Promise<{ users: User[]; positions: number[] }> {
  const orgIndexes = Array.from({ length: ORGANISATIONS }, (_, i) => i);
  const setups = await inBatches(orgIndexes, SETUP_CONCURRENCY, async (i) => {
    const owner = await client.signUp(`api-${i}`);
    const { result: ingest } = await client.ingestGraphql(
      graphqlIngestBody(generatePharowBatch(ITEMS_PER_ORGANISATION, SEED + i)),
      owner.token,
    );
    const { result: me } = await client.graphql<{ me: { email: string } }>(
      '{ me { email } }',
      {},
      owner.token,
    );
    const { result: first } = await client.graphql<{
      positions: { edges: { node: { company: { id: string } } }[] };
    }>('{ positions(first: 1) { edges { node { company { id } } } } }', {}, owner.token);
    const companyId = first.positions.edges[0]?.node.company.id;
    if (!companyId) throw new Error(`organisation ${i} has no positions after the ingest`);
    const users: User[] = [
      {
        organisation: i,
        organisationId: owner.organisationId,
        token: owner.token,
        email: me.me.email,
        companyId,
      },
    ];
    for (let m = 0; m < MEMBERS_PER_ORGANISATION; m++) {
      const email = `member-${m}-${owner.organisationId}@bench.example.com`;
      await client.graphql(
        'mutation($e: String!){ inviteMember(email: $e, role: MEMBER) { role } }',
        { e: email },
        owner.token,
      );
      // the invitation is mailed to the invitee: the platform runs without SMTP, so it lands in its outbox
      const token = await invitationToken(dataDir, email);
      const { result: accepted } = await client.graphql<{ acceptInvitation: { accessToken: string } }>(
        'mutation($t: String!){ acceptInvitation(token: $t, password: "bench-password-0123", firstName: "Bench", lastName: "Member") { accessToken } }',
        { t: token },
      );
      users.push({
        organisation: i,
        organisationId: owner.organisationId,
        token: accepted.acceptInvitation.accessToken,
        email,
        companyId,
      });
    }
    return { users, positions: ingest.positions.created };
  });
  // Interleave organisations so consecutive requests of the mixed traffic hit different tenants.
  const users: User[] = [];
  for (let m = 0; m <= MEMBERS_PER_ORGANISATION; m++) for (const s of setups) users.push(s.users[m]!);
  return { users, positions: setups.map((s) => s.positions) };
}

function prepare(kind: QueryKind, user: User): PreparedRequest {
  return {
    body: Buffer.from(JSON.stringify({ query: kind.query, variables: kind.variables(user) })),
    headers: { authorization: `Bearer ${user.token}` },
  };
}

async function post(url: string, req: PreparedRequest): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...req.headers },
    body: req.body,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, text: await res.text() };
}

/**
 * Every query, for every user, through every gateway measured: the JSON must be error-free and, with
 * Hive running, the same on both.
 */
async function checkSameAnswers(urls: Partial<Record<GatewayName, string>>, users: User[]): Promise<number> {
  let checks = 0;
  for (const kind of QUERIES) {
    await inBatches(users, SETUP_CONCURRENCY, async (user) => {
      const req = prepare(kind, user);
      const answers: [GatewayName, { status: number; text: string }][] = [];
      for (const name of GATEWAYS) answers.push([name, await post(urls[name]!, req)]);
      for (const [name, answer] of answers) {
        const problem = answerProblem(answer.status, answer.text);
        if (problem)
          throw new Error(
            `${kind.name} for ${user.email} through ${name}: ${problem}\n${answer.text.slice(0, 1000)}`,
          );
      }
      const [a, b] = answers.map(([, answer]) => JSON.stringify(JSON.parse(answer.text)));
      if (b !== undefined && a !== b)
        throw new Error(
          `${kind.name} for ${user.email}: the gateways answered differently\nProspectFlow: ${a!.slice(0, 1500)}\nHive:         ${b.slice(0, 1500)}`,
        );
      const wrong = kind.checkData?.((JSON.parse(a!) as { data: Record<string, unknown> }).data, user);
      if (wrong) throw new Error(`${kind.name} for ${user.email}: ${wrong}`);
      checks++;
    });
  }
  return checks;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Plan Rows': number;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

/**
 * Looks at the page query's plan as the product left the database after ingest (the bench runs no
 * ANALYZE of its own): missing statistics or badly misestimated scans give warning lines.
 */
async function pagePlanWarnings(organisationId: string): Promise<{ summary: string; warnings: string[] }> {
  const db = new pg.Client({ connectionString: dbUrl, connectionTimeoutMillis: 10_000 });
  await db.connect();
  try {
    const warnings: string[] = [];
    const stats = await db.query<{ relname: string; reltuples: number; analysed: boolean }>(
      `SELECT c.relname, c.reltuples::float8 AS reltuples,
              (s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL) AS analysed
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE n.nspname = 'crm' AND c.relname IN ('positions', 'companies', 'people')`,
    );
    for (const t of stats.rows)
      if (t.reltuples < 0 || !t.analysed)
        warnings.push(
          `WARNING: crm.${t.relname} has no planner statistics after the ingest (never analysed): the page query's plan is guesswork`,
        );
    // The positions resolver's page query, with the organisation as a literal instead of the setting.
    const explain = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON)
       SELECT p.id, p.created_at::text AS created
         FROM crm.positions p
         JOIN crm.companies c ON c.organisation_id = p.organisation_id AND c.id = p.company_id
         JOIN crm.people pe ON pe.organisation_id = p.organisation_id AND pe.id = p.person_id
        WHERE p.organisation_id = $1
        ORDER BY p.created_at, p.id LIMIT 21`,
      [organisationId],
    );
    const [top] = explain.rows[0]!['QUERY PLAN'];
    const shape: string[] = [];
    // below a Limit the executor stops early: a node's actual rows say nothing about its estimate
    const walk = (node: PlanNode, parent?: PlanNode, limited = false) => {
      shape.push(
        node['Relation Name'] ? `${node['Node Type']} on ${node['Relation Name']}` : node['Node Type'],
      );
      const actual = node['Actual Rows'];
      const planned = node['Plan Rows'];
      if (
        !limited &&
        Math.max(actual, planned) >= 100 &&
        Math.max(actual, planned) / Math.max(1, Math.min(actual, planned)) >= 10
      )
        warnings.push(
          `WARNING: page query plan misestimates ${node['Node Type']}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}: ${planned} rows planned, ${actual} actual`,
        );
      if (
        parent?.['Node Type'] === 'Nested Loop' &&
        node['Node Type'] === 'Seq Scan' &&
        node['Actual Loops'] > 1
      )
        warnings.push(
          `WARNING: page query plan repeats a sequential scan of ${node['Relation Name']} inside a nested loop (${node['Actual Loops']} times)`,
        );
      for (const child of node.Plans ?? []) walk(child, node, limited || node['Node Type'] === 'Limit');
    };
    walk(top.Plan);
    return { summary: `${shape.join(' > ')}; ${top['Execution Time'].toFixed(2)} ms`, warnings };
  } finally {
    await db.end();
  }
}

const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

interface Summary {
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  requests: number;
  cpuPerRequest: Record<string, number>;
}

function summarise(runs: Run[]): Summary {
  const requests = runs.reduce((n, r) => n + r.result.requests, 0);
  const seconds = runs.reduce((n, r) => n + r.result.seconds, 0);
  const latencies = mergeSorted(runs.map((r) => r.result.latencies));
  const cpuPerRequest: Record<string, number> = {};
  for (const name of ['gateway', ...SUBGRAPHS, 'postgres']) {
    const ms = runs.reduce((n, r) => n + (r.cpu[name] ?? 0), 0);
    cpuPerRequest[name] = requests > 0 ? ms / requests : Number.NaN;
  }
  return {
    rps: seconds > 0 ? requests / seconds : 0,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    errors: runs.reduce((n, r) => n + r.result.errors, 0),
    requests,
    cpuPerRequest,
  };
}

/**
 * CPU ms so far of every PostgreSQL backend serving the bench's database, by pid (from /proc, as the
 * services' own): the server is shared with other work, so only this database's sessions are counted.
 */
async function postgresCpu(): Promise<Record<string, number>> {
  const db = new pg.Client({ connectionString: dbUrl, connectionTimeoutMillis: 10_000 });
  await db.connect();
  try {
    const { rows } = await db.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return await cpuSnapshot(Object.fromEntries(rows.map((r) => [String(r.pid), r.pid])));
  } finally {
    await db.end();
  }
}

/** CPU ms between two postgresCpu() readings: a backend that started in between counts in full. */
function postgresSpent(before: Record<string, number>, after: Record<string, number>): number {
  let ms = 0;
  for (const [pid, now] of Object.entries(after)) ms += now - (before[pid] ?? 0);
  return ms;
}

const subgraphCpu = (s: Summary) => SUBGRAPHS.reduce((n, name) => n + (s.cpuPerRequest[name] ?? 0), 0);

async function main(): Promise<void> {
  const loadBefore = loadavg();
  log(
    `${QUICK ? 'quick run: ' : ''}${RUN_COUNT} runs of ${SECONDS} s (${ROUNDS} round(s) per gateway, ${CONNECTIONS.join(' and ')} connections)`,
  );
  const hiveDir = NO_HIVE ? undefined : await ensureHive(log);
  log(`creating database ${dbName}`);
  await createDatabase(dbName);
  log('starting the platform (one child process per service)');
  platform = await startPlatform(ROOT, dbUrl, STARTUP_TIMEOUT_MS, PLATFORM_ENV);
  if (hiveDir) {
    log(`starting Hive Gateway from ${hiveDir}`);
    // the live subgraph answers in the gateway's process and only @inaccessible fields: its placeholder stays
    hive = await startHive(
      hiveDir,
      SUPERGRAPH,
      { ...platform.subgraphUrls, [LIVE_SUBGRAPH]: LIVE_SUBGRAPH_URL },
      STARTUP_TIMEOUT_MS,
    );
  }
  const urls: Partial<Record<GatewayName, string>> = {
    ProspectFlow: `${platform.gatewayUrl}/graphql`,
    Hive: hive?.url,
  };
  const gatewayPids: Partial<Record<GatewayName, number>> = {
    ProspectFlow: platform.children.gateway!.pid!,
    Hive: hive?.child.pid,
  };
  const subgraphPids = Object.fromEntries(SUBGRAPHS.map((name) => [name, platform!.children[name]!.pid!]));

  log(`loading ${ORGANISATIONS} organisations × ${ITEMS_PER_ORGANISATION} Pharow items and their users`);
  const client = new GatewayClient(platform.gatewayUrl);
  const { users, positions } = await loadData(client, platform.dataDir);
  const plan = await pagePlanWarnings(users[0]!.organisationId);

  log(
    `checking that both gateways give the same answers (${QUERIES.length} queries × ${users.length} users)`,
  );
  const checks = await checkSameAnswers(urls, users);

  const prepared = new Map(QUERIES.map((kind) => [kind.name, users.map((user) => prepare(kind, user))]));
  const source = (kind: QueryKind, traffic: Traffic) => {
    const all = prepared.get(kind.name)!;
    // identical traffic: the first organisation's owner, always
    if (traffic === 'identical') return () => all[0]!;
    let next = 0;
    return () => all[next++ % all.length]!;
  };

  for (const gateway of GATEWAYS) {
    log(`warming up ${gateway} (${WARMUP_SECONDS} s)`);
    const mixed = QUERIES.flatMap((kind) => prepared.get(kind.name)!);
    let next = 0;
    await runLoad({
      url: urls[gateway]!,
      connections: 10,
      seconds: WARMUP_SECONDS,
      next: () => mixed[next++ % mixed.length]!,
    });
  }

  const runs: Run[] = [];
  for (const connections of CONNECTIONS) {
    for (const kind of QUERIES) {
      for (const traffic of ['identical', 'mixed'] as const) {
        for (let round = 1; round <= ROUNDS; round++) {
          // alternate which gateway goes first, so neither always runs on a warmer machine
          const order: GatewayName[] = round % 2 === 1 ? GATEWAYS : [...GATEWAYS].reverse();
          for (const gateway of order) {
            log(`${kind.name}, ${traffic} traffic, ${connections} connections, ${gateway}, round ${round}`);
            const pids = { gateway: gatewayPids[gateway]!, ...subgraphPids };
            const pgBefore = await postgresCpu();
            const before = await cpuSnapshot(pids);
            const result = await runLoad({
              url: urls[gateway]!,
              connections,
              seconds: SECONDS,
              next: source(kind, traffic),
            });
            const after = await cpuSnapshot(pids);
            const pgAfter = await postgresCpu();
            const cpu: Record<string, number> = {};
            for (const name of Object.keys(pids))
              cpu[name] = (after[name] ?? Number.NaN) - (before[name] ?? Number.NaN);
            cpu.postgres = postgresSpent(pgBefore, pgAfter);
            runs.push({ query: kind.name, traffic, connections, gateway, round, result, cpu });
          }
        }
      }
    }
  }
  const loadAfter = loadavg();

  const out: string[] = [];
  out.push(
    markdownTable(
      [
        'query',
        'traffic',
        'conns',
        'gateway',
        'round',
        'req/s',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'errors',
        'CPU ms/req gateway',
        ...SUBGRAPHS,
        'subgraphs total',
        'PostgreSQL',
      ],
      runs.map((r) => {
        const s = summarise([r]);
        return [
          r.query,
          r.traffic,
          String(r.connections),
          r.gateway,
          String(r.round),
          fixed(s.rps, 0),
          fixed(s.p50),
          fixed(s.p95),
          fixed(s.p99),
          s.errors ? `${s.errors}/${s.requests}` : '0',
          fixed(s.cpuPerRequest.gateway!, 2),
          ...SUBGRAPHS.map((name) => fixed(s.cpuPerRequest[name]!, 2)),
          fixed(subgraphCpu(s), 2),
          fixed(s.cpuPerRequest.postgres!, 2),
        ];
      }),
    ),
  );

  const errorLines: string[] = [];
  for (const r of runs)
    for (const [kind, count] of r.result.errorKinds)
      errorLines.push(
        `- ${r.query}, ${r.traffic}, ${r.connections} conns, ${r.gateway}, round ${r.round}: ${count} × ${kind}`,
      );
  if (errorLines.length)
    out.push('', 'Errors (non-200 answers and GraphQL errors):', ...errorLines.slice(0, 40));

  out.push('');
  out.push(
    `Data: ${ORGANISATIONS} organisations loaded through the Pharow ingest (${positions.join(', ')} positions created), each with 5 users (the owner from signUp and 4 members through inviteMember + acceptInvitation): ${users.length} user tokens. Identical traffic uses the first organisation's owner token; mixed traffic takes the next of the ${users.length} tokens round-robin for each request. The public API creates no campaigns or enrollments, so those lists are empty (their subgraph calls still happen).`,
  );
  out.push(
    `Answers checked ${hive ? 'identical on both gateways' : 'error-free (ProspectFlow alone)'} before measuring: ${checks} (every query for every user). Page query plan (first organisation): ${plan.summary}`,
  );
  out.push(
    `ProspectFlow ran with its rate limiter on but limits raised above the bench's rate; ${hive ? `Hive Gateway ${hive.version}` : 'Hive Gateway not run (BENCH_NO_HIVE=1)'} with default settings (NODE_ENV=production), forwarding authorization and x-api-key to the subgraphs, over the same supergraph and subgraph processes. CPU ms/req: user + system time of each process during the run divided by its requests ("gateway" is the gateway measured in that row); PostgreSQL: the backends serving the bench's database (the server's own background processes are not included).`,
  );
  out.push(
    `Environment: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), load average ${loadBefore.map((v) => v.toFixed(2)).join(' ')} before / ${loadAfter.map((v) => v.toFixed(2)).join(' ')} after; ${SECONDS} s per run, ${ROUNDS} round(s)${QUICK ? ' (quick run: figures are a smoke test only)' : ''}.`,
  );
  if (plan.warnings.length) out.push('', ...plan.warnings);

  // Targets, on the rounds of each combination taken together.
  const pick = (query: string, traffic: Traffic, connections: number, gateway: GatewayName) =>
    summarise(
      runs.filter(
        (r) =>
          r.query === query &&
          r.traffic === traffic &&
          r.connections === connections &&
          r.gateway === gateway,
      ),
    );
  const clean = (s: Summary) => (s.errors ? ` (${s.errors} errors: NOT met)` : '');
  const ok = (met: boolean, s: Summary) => verdict(met && s.errors === 0);
  const measured = (name: string) => QUERIES.some((q) => q.name === name) && CONNECTIONS.includes(10);
  if (CONNECTIONS.includes(10)) out.push('', 'Targets (ProspectFlow, all rounds of a combination together):');
  for (const traffic of ['identical', 'mixed'] as const) {
    if (!CONNECTIONS.includes(10)) break;
    for (const kind of QUERIES) {
      const s = pick(kind.name, traffic, 10, 'ProspectFlow');
      out.push(
        `- ${kind.name}, ${traffic}, 10 conns: p95 < ${TARGET_P95_MS} ms: ${fixed(s.p95)} ms — ${ok(s.p95 < TARGET_P95_MS, s)}${clean(s)}`,
      );
    }
    const me = pick('me', traffic, 10, 'ProspectFlow');
    const page = pick('positions page', traffic, 10, 'ProspectFlow');
    if (measured('me'))
      out.push(
        `- me, ${traffic}, 10 conns: ≥ ${TARGET_ME_RPS} req/s: ${fixed(me.rps, 0)} — ${ok(me.rps >= TARGET_ME_RPS, me)}`,
      );
    if (measured('positions page'))
      out.push(
        `- positions page, ${traffic}, 10 conns: ≥ ${TARGET_PAGE_RPS} req/s: ${fixed(page.rps, 0)} — ${ok(page.rps >= TARGET_PAGE_RPS, page)}`,
      );
    if (measured('me'))
      out.push(
        `- me, ${traffic}, 10 conns: subgraph CPU ≤ ${TARGET_CPU_ME_MS} ms/req: ${fixed(subgraphCpu(me), 2)} — ${verdict(subgraphCpu(me) <= TARGET_CPU_ME_MS)}`,
      );
    if (measured('positions page'))
      out.push(
        `- positions page, ${traffic}, 10 conns: subgraph CPU ≤ ${TARGET_CPU_PAGE_MS} ms/req: ${fixed(subgraphCpu(page), 2)} — ${verdict(subgraphCpu(page) <= TARGET_CPU_PAGE_MS)}`,
      );
  }
  if (hive) {
    out.push('', `Against Hive Gateway (req/s ratio, target ≥ ${TARGET_VS_HIVE}×):`);
    for (const connections of CONNECTIONS)
      for (const traffic of ['identical', 'mixed'] as const)
        for (const kind of QUERIES) {
          const ours = pick(kind.name, traffic, connections, 'ProspectFlow');
          const theirs = pick(kind.name, traffic, connections, 'Hive');
          const ratio = ours.rps / theirs.rps;
          out.push(
            `- ${kind.name}, ${traffic}, ${connections} conns: ${fixed(ours.rps, 0)} vs ${fixed(theirs.rps, 0)} req/s = ${fixed(ratio, 2)}× (p99 ${fixed(ours.p99)} vs ${fixed(theirs.p99)} ms) — ${ok(ratio >= TARGET_VS_HIVE, ours)}${clean(ours)}`,
          );
        }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  if (platform?.output.length) log(`platform output (last lines):\n${platform.output.slice(-20).join('\n')}`);
  if (hive?.output.length) log(`Hive Gateway output (last lines):\n${hive.output.slice(-20).join('\n')}`);
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
process.exit(exitCode);
