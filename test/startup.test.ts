// What a new user sees when a start cannot work: one line saying what to do, exit code 1, no stack.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'prospectflow-start-'));
  // the embedded PostgreSQL runs as user postgres when we are root: it must reach the folder
  await chmod(dir, 0o755);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function occupiedPort(host = '0.0.0.0'): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as { port: number }).port;
}

const FREE_PORTS = { PORT: '0', IAM_PORT: '0', CRM_PORT: '0', OUTREACH_PORT: '0', TRACKING_PORT: '0' };

function launch(entry: string, args: string[], env: Record<string, string>, uid?: number): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    uid,
    gid: uid,
  });
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(entry: string, args: string[], env: Record<string, string>, uid?: number): Promise<Outcome> {
  const child = launch(entry, args, env, uid);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Exit code 1 and exactly one line on stderr, with no stack frame. */
function expectOneLine(outcome: Outcome, pattern: RegExp) {
  expect(outcome.code).toBe(1);
  const lines = outcome.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^prospectflow: /);
  expect(lines[0]).toMatch(pattern);
  expect(outcome.stderr).not.toMatch(/\bat .*:\d+:\d+/);
}

describe('start-up failures', () => {
  it('npm start with the gateway port taken names the port and the setting', async () => {
    const busy = await occupiedPort();
    const outcome = await run('start.ts', [], {
      ...FREE_PORTS,
      PORT: String(busy),
      DATA_DIR: await tempDir(),
    });
    expectOneLine(outcome, new RegExp(`port ${busy} is already in use.*set PORT to a free port`));
  });

  it('a subgraph or the gateway alone on a taken port says which setting moves it', async () => {
    const busy = await occupiedPort();
    const env = { DATABASE_URL: inject('databaseUrl'), DATA_DIR: await tempDir() };
    expectOneLine(
      await run('subgraphs/main.ts', ['crm'], { ...env, CRM_PORT: String(busy) }),
      new RegExp(`port ${busy} is already in use.*set CRM_PORT`),
    );
    expectOneLine(
      await run('gateway/main.ts', [], { ...env, PORT: String(busy) }),
      new RegExp(`port ${busy} is already in use.*set PORT`),
    );
  });

  it('a bad setting is one line, not a stack', async () => {
    expectOneLine(
      await run('start.ts', [], { PORT: 'eighty' }),
      /invalid configuration: PORT must be an integer/,
    );
  });

  it('a data directory that cannot be written says so and names DATA_DIR', async () => {
    const dir = await tempDir();
    await chmod(dir, 0o555);
    // root writes anywhere: run as nobody then, like a user without rights on the folder
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    const outcome = await run('start.ts', [], { ...FREE_PORTS, DATA_DIR: path.join(dir, 'data') }, uid);
    expectOneLine(outcome, /data directory .* is not writable.*DATA_DIR/);
  });

  it('a taken EMBEDDED_PG_PORT is named instead of failing with a bare undefined', async () => {
    const busy = await occupiedPort('127.0.0.1');
    const outcome = await run('start.ts', [], {
      ...FREE_PORTS,
      DATA_DIR: await tempDir(),
      EMBEDDED_PG_PORT: String(busy),
    });
    expectOneLine(outcome, new RegExp(`port ${busy} is already in use.*EMBEDDED_PG_PORT`));
  });
});

describe('the embedded default', () => {
  it('keeps its port and log in the data directory, logs services in as their roles, and refuses a second start', {
    timeout: 120_000,
  }, async () => {
    const dataDir = await tempDir();
    const first = launch('start.ts', [], { ...FREE_PORTS, DATA_DIR: dataDir });
    cleanups.push(async () => {
      if (first.exitCode !== null) return;
      first.kill('SIGTERM');
      await new Promise((resolve) => first.once('close', resolve));
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      first.stdout!.on('data', (chunk) => {
        output += chunk;
        if (output.includes('ProspectFlow is running')) resolve();
      });
      first.stderr!.on('data', (chunk) => {
        output += chunk;
      });
      first.once('close', () => reject(new Error(`start exited early: ${output}`)));
    });

    // health reaches the database from the gateway and from every subgraph
    const gatewayPort = /Health: http:\/\/localhost:(\d+)\/health/.exec(output)![1];
    expect((await fetch(`http://127.0.0.1:${gatewayPort}/health`)).status).toBe(200);

    const port = Number((await readFile(path.join(dataDir, 'postgres.port'), 'utf8')).trim());
    expect(port).toBeGreaterThan(0);
    expect(await readFile(path.join(dataDir, 'postgres.log'), 'utf8')).toMatch(/ready to accept connections/);
    expect((await stat(path.join(dataDir, 'service-roles.json'))).mode & 0o077).toBe(0);

    const owner = new pg.Client({
      connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/prospectflow`,
    });
    await owner.connect();
    try {
      const { rows } = await owner.query(
        `SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'prospectflow' AND pid <> pg_backend_pid()`,
      );
      expect(rows.map((r) => r.usename).sort()).toEqual([
        'prospectflow_crm',
        'prospectflow_gateway',
        'prospectflow_iam',
        'prospectflow_outreach',
        'prospectflow_tracking',
        // the workers run beside the services, with the password generated for their role
        'prospectflow_worker',
      ]);
    } finally {
      await owner.end();
    }

    const second = await run('start.ts', [], { ...FREE_PORTS, DATA_DIR: dataDir });
    expectOneLine(
      second,
      new RegExp(`another ProspectFlow \\(pid ${first.pid}\\) is already running on data directory`),
    );

    first.kill('SIGTERM');
    await new Promise((resolve) => first.once('close', resolve));
    expect(existsSync(path.join(dataDir, 'prospectflow.pid'))).toBe(false);
  });
});
