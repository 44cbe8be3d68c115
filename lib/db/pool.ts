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
