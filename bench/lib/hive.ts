// Hive Gateway as the reference gateway: installed once into a scratch folder (kept between runs, never
// in the project's own dependencies) and run as a child process over the same supergraph and subgraphs.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './platform.ts';

// 2.15.x declares node >=20; some of its @whatwg-node dependencies declare node >=22 yet run on Node 20.
export const HIVE_VERSION = '2.15.1';
const HIVE_PACKAGE = '@graphql-hive/gateway';
const INSTALL_TIMEOUT_MS = 300_000;

export interface HiveGateway {
  child: ChildProcess;
  url: string;
  version: string;
  output: string[];
  stop(): Promise<void>;
}

function installDir(): string {
  return join(tmpdir(), 'prospectflow-bench-hive');
}

async function installedVersion(dir: string): Promise<string | undefined> {
  try {
    const pkg = JSON.parse(
      await readFile(join(dir, 'node_modules', '@graphql-hive', 'gateway', 'package.json'), 'utf8'),
    ) as { version?: string };
    return pkg.version;
  } catch {
    return undefined;
  }
}

/** Installs the pinned Hive Gateway unless that exact version is already there; returns its folder. */
export async function ensureHive(log: (line: string) => void): Promise<string> {
  const dir = installDir();
  if ((await installedVersion(dir)) === HIVE_VERSION) return dir;
  log(`installing ${HIVE_PACKAGE}@${HIVE_VERSION} into ${dir} (once; kept for later runs)`);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'prospectflow-bench-hive', private: true, dependencies: { [HIVE_PACKAGE]: HIVE_VERSION } }, null, 2)}\n`,
  );
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const child = spawn(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (c: Buffer) => output.push(c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString('utf8')));
  const killer = setTimeout(() => child.kill('SIGKILL'), INSTALL_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(killer);
  const version = await installedVersion(dir);
  if (code !== 0 || version !== HIVE_VERSION)
    throw new Error(
      `installing ${HIVE_PACKAGE}@${HIVE_VERSION} failed (exit ${code}):\n${output.join('').slice(-2000)}`,
    );
  return dir;
}

/** The supergraph with each `join__graph(name: "x", url: ...)` pointed at the running subgraph x. */
export function rewriteSubgraphUrls(supergraph: string, urls: Record<string, string>): string {
  const seen = new Set<string>();
  const out = supergraph.replace(/@join__graph\(name: "([^"]+)", url: "[^"]*"\)/g, (_match, name: string) => {
    const url = urls[name];
    if (!url) throw new Error(`the supergraph names subgraph "${name}", which is not running`);
    seen.add(name);
    return `@join__graph(name: "${name}", url: "${url}")`;
  });
  const missing = Object.keys(urls).filter((n) => !seen.has(n));
  if (missing.length) throw new Error(`the supergraph has no join__graph for ${missing.join(', ')}`);
  return out;
}

// Default settings apart from the supergraph source and forwarding the client's credentials, which
// the subgraphs verify themselves.
const CONFIG = (supergraphPath: string) => `export const gatewayConfig = {
  supergraph: ${JSON.stringify(supergraphPath)},
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      return {
        authorization: request.headers.get('authorization'),
        'x-api-key': request.headers.get('x-api-key'),
      };
    },
  },
};
`;

export async function startHive(
  installPath: string,
  supergraphPath: string,
  subgraphUrls: Record<string, string>,
  timeoutMs: number,
): Promise<HiveGateway> {
  const workDir = await mkdtemp(join(tmpdir(), 'prospectflow-bench-hive-run-'));
  const supergraph = join(workDir, 'supergraph.graphql');
  await writeFile(supergraph, rewriteSubgraphUrls(await readFile(supergraphPath, 'utf8'), subgraphUrls));
  const configPath = join(workDir, 'gateway.config.mjs');
  await writeFile(configPath, CONFIG(supergraph));
  const [port] = await freePorts(1);
  const bin = join(installPath, 'node_modules', '@graphql-hive', 'gateway', 'dist', 'bin.js');
  // node runs the CLI directly, so the child's pid is the gateway's own (for its CPU time).
  const child = spawn(
    process.execPath,
    [
      bin,
      'supergraph',
      supergraph,
      '--config-path',
      configPath,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ],
    { cwd: workDir, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) output.push(line);
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(workDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `Hive Gateway exited during start-up (code ${child.exitCode}):\n${output.slice(-30).join('\n')}`,
      );
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Hive Gateway not ready within ${timeoutMs} ms:\n${output.slice(-30).join('\n')}`);
    }
    try {
      const res = await fetch(`${base}/readiness`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { child, url: `${base}/graphql`, version: HIVE_VERSION, output, stop };
}
