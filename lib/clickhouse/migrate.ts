// Applies migrations/clickhouse/*.sql in name order, once each, recording them in the database's
// `schema_migrations`. ClickHouse has no transactions and no advisory locks: every statement must be safe to run
// twice (CREATE … IF NOT EXISTS), so two processes starting together do no harm. The SQL must run on Debian's
// ClickHouse 18.16 and on current releases.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { StartupError } from '../startup.ts';
import { type ClickHouseTarget, createClickHouse } from './client.ts';

export const CLICKHOUSE_MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../migrations/clickhouse');
const FILE = /^\d{4}_[a-z0-9_]+\.sql$/;

/** A file's statements: `--` comment lines dropped, split at each `;` that ends a line. */
export function statementsOf(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !/^\s*--/.test(line))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Applies the pending migrations; a server that cannot be reached or refuses them stops the start, in one line. */
export async function migrateClickHouse(
  target: ClickHouseTarget,
  log: (message: string) => void = () => {},
  dir = CLICKHOUSE_MIGRATIONS_DIR,
): Promise<{ applied: string[] }> {
  try {
    return await applyMigrations(target, log, dir);
  } catch (error) {
    // the origin only: the URL's credentials stay out of the message
    const reason = String((error as Error)?.message ?? error).split('\n')[0];
    throw new StartupError(`ClickHouse at ${target.url} (CLICKHOUSE_URL) cannot be used: ${reason}`);
  }
}

async function applyMigrations(
  target: ClickHouseTarget,
  log: (message: string) => void,
  dir: string,
): Promise<{ applied: string[] }> {
  const server = createClickHouse(target, 'default');
  try {
    await server.command({ query: `CREATE DATABASE IF NOT EXISTS ${target.database}` });
  } finally {
    await server.close();
  }
  const client = createClickHouse(target);
  try {
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS schema_migrations (name String, applied_at DateTime DEFAULT now())
              ENGINE = MergeTree ORDER BY name`,
    });
    const done = new Set(
      (
        await (
          await client.query({ query: 'SELECT DISTINCT name FROM schema_migrations', format: 'JSONEachRow' })
        ).json<{ name: string }>()
      ).map((row) => row.name),
    );
    const applied: string[] = [];
    for (const file of (await readdir(dir)).filter((f) => FILE.test(f)).sort()) {
      if (done.has(file)) continue;
      for (const query of statementsOf(await readFile(path.join(dir, file), 'utf8')))
        await client.command({ query });
      // the name matched FILE: nothing in it to escape
      await client.command({ query: `INSERT INTO schema_migrations (name) VALUES ('${file}')` });
      applied.push(file);
      log(`clickhouse migration ${file} applied`);
    }
    return { applied };
  } finally {
    await client.close();
  }
}
