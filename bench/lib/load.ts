// A closed-loop HTTP load generator: a fixed number of keep-alive connections, each sending its next
// request as soon as the previous answer is in, for a fixed time. Also reads process CPU time.
import { readdir, readFile } from 'node:fs/promises';
import { Pool } from 'undici';

export interface PreparedRequest {
  body: Buffer;
  headers: Record<string, string>;
}

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  /** called once per request: round-robin over users happens here */
  next: () => PreparedRequest;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** error text → how often it was seen */
  errorKinds: Map<string, number>;
  seconds: number;
  /** milliseconds, sorted ascending */
  latencies: Float64Array;
}

const REQUEST_TIMEOUT_MS = 30_000;

async function send(
  pool: Pool,
  path: string,
  req: PreparedRequest,
): Promise<{ status: number; text: string }> {
  const res = await pool.request({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...req.headers },
    body: req.body,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

/** What went wrong with one answer, or undefined when it is a clean 200 without GraphQL errors. */
export function answerProblem(status: number, text: string): string | undefined {
  if (status !== 200) return `HTTP ${status}: ${text.slice(0, 120)}`;
  // Parse only when the body might carry errors: parsing every answer would load the client.
  if (!text.includes('"errors"')) return undefined;
  try {
    const parsed = JSON.parse(text) as { errors?: { message?: string; extensions?: { code?: string } }[] };
    const first = parsed.errors?.[0];
    if (!first) return undefined;
    return `GraphQL error ${first.extensions?.code ?? ''} ${first.message ?? ''}`.slice(0, 160);
  } catch {
    return `unparseable body: ${text.slice(0, 120)}`;
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  // undici's pool: the same fixed set of keep-alive connections as before, for less client CPU per
  // request, which on a small machine is CPU taken from the services measured
  const pool = new Pool(url.origin, { connections: options.connections, pipelining: 1 });
  const path = `${url.pathname}${url.search}`;
  const latencies: number[] = [];
  const errorKinds = new Map<string, number>();
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const req = options.next();
      const t0 = performance.now();
      let problem: string | undefined;
      try {
        const { status, text } = await send(pool, path, req);
        problem = answerProblem(status, text);
      } catch (error) {
        problem = `request failed: ${(error as Error).message}`;
      }
      latencies.push(performance.now() - t0);
      if (problem) {
        errors++;
        errorKinds.set(problem, (errorKinds.get(problem) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return {
    requests: latencies.length,
    errors,
    errorKinds,
    seconds,
    latencies: Float64Array.from(latencies).sort(),
  };
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function mergeSorted(parts: Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all.sort();
}

// Clock ticks per second for /proc/<pid>/stat; 100 on every Linux build that matters here.
const CLOCK_TICKS = 100;

/** User + system CPU time of a process in milliseconds (its threads included), or undefined once it is gone. */
export async function cpuMs(pid: number): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may contain spaces and parentheses: fields are counted after its closing ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, i.e. 12 and 13 after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}

export async function cpuSnapshot(pids: Record<string, number>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(
    Object.entries(pids).map(async ([name, pid]) => {
      const ms = await cpuMs(pid);
      if (ms !== undefined) out[name] = ms;
    }),
  );
  return out;
}

/** User + system CPU of every process on the machine, by pid, with its command name. */
export async function machineCpu(): Promise<Map<number, { command: string; ms: number }>> {
  const out = new Map<number, { command: string; ms: number }>();
  const entries = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        let text: string;
        try {
          text = await readFile(`/proc/${entry}/stat`, 'utf8');
        } catch {
          return;
        }
        const command = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
        const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
        out.set(Number(entry), {
          command,
          ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS,
        });
      }),
  );
  return out;
}

/**
 * CPU spent between two machine snapshots, summed per group: `groupOf` names a process's group (a known pid,
 * else its command name), or undefined to leave it out. Processes born in between count from zero.
 */
export function cpuByGroup(
  before: Map<number, { command: string; ms: number }>,
  after: Map<number, { command: string; ms: number }>,
  groupOf: (pid: number, command: string) => string | undefined,
): Map<string, number> {
  const groups = new Map<string, number>();
  for (const [pid, now] of after) {
    const group = groupOf(pid, now.command);
    if (group === undefined) continue;
    const then = before.get(pid);
    const spent = now.ms - (then && then.command === now.command ? then.ms : 0);
    groups.set(group, (groups.get(group) ?? 0) + spent);
  }
  return groups;
}
