// Workers as their own processes (`node workers/main.ts <name>`, as `npm run start:worker` runs them), for
// tests that kill them or take the broker away under them. Each is ready once it logs "worker started".
import { type ChildProcess, spawn } from 'node:child_process';

export interface WorkerProcesses {
  /** The last lines every worker wrote (JSON logs), for a failing test's message. */
  output(): string;
  /** SIGKILL: no shutdown, no goodbye — a crash. */
  kill(name: string): void;
  /** Starts the worker again (after a kill), and waits until it is ready. */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
  /** Each running worker's process id, by name. */
  pids(): Record<string, number>;
}

const READY_TIMEOUT_MS = 90_000;

export async function startWorkerProcesses(
  names: readonly string[],
  env: Record<string, string>,
  /** Node flags before the script (`--cpu-prof`…). */
  nodeArgs: readonly string[] = [],
): Promise<WorkerProcesses> {
  const children = new Map<string, ChildProcess>();
  const lines: string[] = [];

  const start = (name: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'workers/main.ts', name], {
        env: { ...process.env, LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.set(name, child);
      const timer = setTimeout(
        () => reject(new Error(`worker ${name} not ready:\n${tail()}`)),
        READY_TIMEOUT_MS,
      );
      const keep = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line.trim()) continue;
          lines.push(`${name}: ${line}`);
          if (line.includes('"worker started"')) {
            clearTimeout(timer);
            resolve();
          }
        }
        if (lines.length > 400) lines.splice(0, lines.length - 400);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (signal !== 'SIGKILL') reject(new Error(`worker ${name} exited (${code ?? signal}):\n${tail()}`));
      });
    });
  const tail = () => lines.slice(-40).join('\n');

  const stopOne = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  };

  const processes: WorkerProcesses = {
    output: tail,
    kill(name) {
      children.get(name)?.kill('SIGKILL');
    },
    async restart(name) {
      const old = children.get(name);
      if (old && old.exitCode === null && old.signalCode === null) {
        await new Promise<void>((resolve) => old.once('exit', () => resolve()));
      }
      await start(name);
    },
    async stop() {
      await Promise.all([...children.values()].map(stopOne));
    },
    pids() {
      return Object.fromEntries(
        [...children].flatMap(([name, child]) => (child.pid === undefined ? [] : [[name, child.pid]])),
      );
    },
  };
  try {
    await Promise.all(names.map(start));
  } catch (error) {
    await processes.stop();
    throw error;
  }
  return processes;
}
