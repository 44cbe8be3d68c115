// Runs the whole platform as a child process on a throwaway database, and samples its memory.
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { QUEUES } from '../../lib/bus/catalog.ts';
import { deleteBrokerQueues } from '../../test/helpers/broker.ts';

export const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createDatabase(name: string): Promise<void> {
  await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE "${name}"`);
}

export async function dropDatabase(name: string): Promise<void> {
  // FORCE: the child may still hold pool connections if it had to be killed.
  await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** Distinct free ports on 127.0.0.1, all held open until every one is chosen so none repeats. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

export interface MemoryStatus {
  rssKb: number;
  hwmKb: number;
}

export async function readMemory(pid: number): Promise<MemoryStatus | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** Polls VmRSS every `intervalMs`; `mark()` starts a new window so each measurement gets its own peak. */
export class MemorySampler {
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  peakKb = 0;
  windowPeakKb = 0;
  samples = 0;
  lastHwmKb = 0;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  async sample(): Promise<void> {
    // Skip a tick rather than pile up reads when the event loop is busy.
    if (this.reading) return;
    this.reading = true;
    try {
      const status = await readMemory(this.pid);
      if (!status) return;
      this.samples++;
      this.peakKb = Math.max(this.peakKb, status.rssKb);
      this.windowPeakKb = Math.max(this.windowPeakKb, status.rssKb);
      this.lastHwmKb = Math.max(this.lastHwmKb, status.hwmKb);
    } finally {
      this.reading = false;
    }
  }

  mark(): void {
    this.windowPeakKb = 0;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export interface Platform {
  /** the CRM subgraph's process: it does the ingest, so its memory is the one that matters */
  child: ChildProcess;
  /** every service process, by name (gateway, iam, crm, outreach, tracking) */
  children: Record<string, ChildProcess>;
  gatewayUrl: string;
  /** each subgraph's GraphQL URL, by name (iam, crm, outreach, tracking) */
  subgraphUrls: Record<string, string>;
  dataDir: string;
  /** last lines the children wrote, for diagnostics */
  output: string[];
  stop(): Promise<void>;
}

/** An Ed25519 key pair for access tokens and a key for stored credentials, as an operator provides them. */
function benchSecrets(): {
  JWT_PRIVATE_KEY: string;
  JWT_PUBLIC_KEY: string;
  SECRETS_KEY: string;
  TRACKING_SECRET: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    SECRETS_KEY: randomBytes(32).toString('base64'),
    TRACKING_SECRET: randomBytes(32).toString('base64url'),
  };
}

/**
 * Starts the production topology: migrations, then each subgraph and the gateway in its own process
 * (`npm run start:subgraph -- <name>`, `npm run start:gateway`), as docker-compose runs them.
 */

export async function startPlatform(
  cwd: string,
  dbUrl: string,
  timeoutMs: number,
  /** extra environment for every service, over the defaults below */
  envOverrides: Record<string, string> = {},
): Promise<Platform> {
  const dataDir = await mkdtemp(join(tmpdir(), 'prospectflow-bench-'));
  const [port, iam, crm, outreach, tracking] = await freePorts(5);
  // the tracking service needs a broker; the queues it declares live under a prefix of this run's own
  const broker = {
    AMQP_URL: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    AMQP_PREFIX: `bench-platform-${randomBytes(4).toString('hex')}.`,
    ...pick(envOverrides, ['AMQP_URL', 'AMQP_PREFIX']),
  };
  const env = {
    ...process.env,
    ...broker,
    // production settings, as deployed (and as Hive runs): the bench brings its own signing keys
    NODE_ENV: 'production',
    ...benchSecrets(),
    DATABASE_URL: dbUrl,
    PORT: String(port),
    IAM_PORT: String(iam),
    CRM_PORT: String(crm),
    OUTREACH_PORT: String(outreach),
    TRACKING_PORT: String(tracking),
    LOG_LEVEL: 'warn',
    RATE_LIMITS: 'ingestPharow=1000/60,signUp=100/60',
    DATA_DIR: dataDir,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    ...envOverrides,
  };
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) output.push(line);
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  // the same node flags as the start:* scripts in package.json
  // BENCH_CPU_PROFILE=<dir> writes a V8 CPU profile of every service process into <dir> when it stops
  const profile = process.env.BENCH_CPU_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`]
    : [];
  const run = (args: string[]) => {
    const child = spawn(
      process.execPath,
      ['--max-semi-space-size=32', ...profile, '--import', 'tsx', ...args],
      {
        cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return child;
  };
  const migrate = run(['migrations/migrate.ts']);
  const migrated = await new Promise<number | null>((resolve) =>
    migrate.once('exit', (code) => resolve(code)),
  );
  if (migrated !== 0) throw new Error(`migrations failed:\n${output.slice(-30).join('\n')}`);

  const children: Record<string, ChildProcess> = {};
  // the first subgraph creates the shared JWT keys; the others must read them, not race to create them
  children.iam = run(['subgraphs/main.ts', 'iam']);
  await waitHealthy(`http://127.0.0.1:${iam}/health`, children.iam, Date.now() + timeoutMs);
  for (const [name, p] of [
    ['crm', crm],
    ['outreach', outreach],
    ['tracking', tracking],
  ] as const) {
    children[name] = run(['subgraphs/main.ts', name]);
    await waitHealthy(`http://127.0.0.1:${p}/health`, children[name], Date.now() + timeoutMs).catch(
      async (error) => {
        await stopAll(children);
        throw error;
      },
    );
  }
  children.gateway = run(['gateway/main.ts']);
  const gatewayUrl = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopAll(children);
    await rm(dataDir, { recursive: true, force: true });
    await deleteBrokerQueues(
      broker.AMQP_URL,
      broker.AMQP_PREFIX,
      QUEUES.map((q) => q.name),
    ).catch((error) => console.error(`bench queues not deleted: ${(error as Error).message}`));
  };
  try {
    await waitHealthy(`${gatewayUrl}/health`, children.gateway, Date.now() + timeoutMs);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output.slice(-30).join('\n')}`);
  }
  const subgraphUrls = Object.fromEntries(
    Object.entries({ iam, crm, outreach, tracking }).map(([name, p]) => [
      name,
      `http://127.0.0.1:${p}/graphql`,
    ]),
  );
  return { child: children.crm, children, gatewayUrl, subgraphUrls, dataDir, output, stop };
}

function pick(from: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(
    names.filter((name) => from[name] !== undefined).map((name) => [name, from[name]!]),
  );
}

async function stopAll(children: Record<string, ChildProcess>): Promise<void> {
  await Promise.all(
    Object.values(children).map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }),
  );
}

async function waitHealthy(url: string, child: ChildProcess, deadline: number): Promise<void> {
  while (true) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${url}: process exited early (code ${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`${url}: not healthy in time`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
