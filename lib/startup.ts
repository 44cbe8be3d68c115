// Start-up failures become one line saying what happened and what to do, then exit code 1: no stack.
import { access, constants, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { AppError, ErrorCode } from './errors.ts';

/** A failure at start-up whose message already tells the user what to do. */
export class StartupError extends Error {}

export interface PortClaim {
  port: number;
  /** The setting that moves it, named in the message. */
  variable: string;
  host?: string;
}

function probe(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error) => resolve(error));
    server.listen(port, host, () => server.close(() => resolve(undefined)));
  });
}

/** Fails before anything starts when a port is taken (port 0 means any free port and is skipped). */
export async function assertPortsFree(claims: PortClaim[]): Promise<void> {
  for (const { port, variable, host } of claims) {
    if (port === 0) continue;
    const error = await probe(port, host ?? '0.0.0.0');
    if (error?.code === 'EADDRINUSE') {
      throw new StartupError(
        `port ${port} is already in use (another ProspectFlow, or another program): stop it, or set ${variable} to a free port`,
      );
    }
    if (error)
      throw new StartupError(
        `cannot listen on port ${port} (${error.code}): set ${variable} to another port`,
      );
  }
}

/** A port nothing listens on now, chosen by the system. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/** Creates the data directory if needed and proves a file can be written there. */
export async function assertWritableDir(dir: string): Promise<void> {
  const resolved = path.resolve(dir);
  try {
    await mkdir(resolved, { recursive: true });
    await access(resolved, constants.W_OK);
    const probeFile = path.join(resolved, `.write-test-${process.pid}`);
    await writeFile(probeFile, '');
    await rm(probeFile, { force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new StartupError(
      `data directory ${resolved} is not writable (${code}): fix its permissions, or set DATA_DIR to a folder you can write`,
    );
  }
}

const PG_HINTS: Record<string, string> = {
  '28P01': 'the password was refused: set DB_PASSWORD_<SERVICE> to the role password (ALTER ROLE … PASSWORD)',
  '28000': 'the login was refused: check pg_hba.conf and the DB_PASSWORD_<SERVICE> settings',
  '3D000': 'the database does not exist: create it, or fix DATABASE_URL',
  '42501': 'permission denied: run `npm run migrate` as the owner so the service roles get their grants',
};

/** One line for any error that stops a start. */
export function describeStartupFailure(error: unknown): string {
  if (error instanceof StartupError) return error.message;
  if (error instanceof AppError && error.code === ErrorCode.ConfigInvalid) {
    return `invalid configuration: ${error.message}`;
  }
  const e = error as (NodeJS.ErrnoException & { port?: number; address?: string }) | undefined;
  if (e?.code === 'EADDRINUSE') {
    return `port ${e.port} is already in use (another ProspectFlow, or another program): stop it, or choose another port (PORT, IAM_PORT, CRM_PORT, OUTREACH_PORT, TRACKING_PORT)`;
  }
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'ETIMEDOUT') {
    return `cannot reach a server at ${e.address ?? ''}${e.port ? `:${e.port}` : ''} (${e.code}): is it running? Check DATABASE_URL, AMQP_URL and REDIS_URL`;
  }
  if (e?.code && PG_HINTS[e.code]) return `PostgreSQL: ${e.message}: ${PG_HINTS[e.code]}`;
  const message = e instanceof Error ? e.message : String(error);
  return `start-up failed: ${message.split('\n')[0]}`;
}

/** Runs an entry point; any failure prints one line on stderr and exits with code 1. */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    process.stderr.write(`prospectflow: ${describeStartupFailure(error)}\n`);
    process.exit(1);
  }
}
