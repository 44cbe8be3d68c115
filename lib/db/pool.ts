// A plain pg pool for processes without an ORM (the gateway), logged in as that service's role.
import pg from 'pg';
import type { SqlRunner } from '../auth/authenticate.ts';

/** `databaseUrl` is the service's own URL (serviceDatabaseUrl), never the owner's. */
export function createAppPool(databaseUrl: string, onError: (error: Error) => void, max = 5): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  // an idle connection dropped by the server (restart, Ctrl-C reaching it first) must not crash the process
  pool.on('error', onError);
  return pool;
}

/** Runs `?`-placeholder SQL (as the ORM does) on a pg pool. */
export function poolRunner(pool: pg.Pool): SqlRunner {
  return async (sql, params) => {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    return (await pool.query(text, params)).rows;
  };
}

// admin_shutdown, crash_shutdown, cannot_connect_now, connection_failure, sqlclient_unable_to_establish_sqlconnection
const UNAVAILABLE_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '08006',
  '08001',
  'ECONNREFUSED',
  'ECONNRESET',
]);

/** True when an error says the database is going away or not there (a restart, a failover, Ctrl-C). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  if (e?.code && UNAVAILABLE_CODES.has(e.code)) return true;
  return /Connection terminated|Connection ended unexpectedly/i.test(e?.message ?? '');
}
