// ClickHouse over HTTP (@clickhouse/client) for the raw tracking events. CLICKHOUSE_URL names the server and the
// database: http://user:password@host:8123/prospectflow (no path: the `default` database).
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';

/** Database names are written into SQL (18.16 takes no query parameters): letters, digits and _ only. */
const DATABASE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface ClickHouseTarget {
  /** The server's origin, without credentials or path. */
  url: string;
  username: string;
  password: string;
  database: string;
}

export function clickhouseTarget(clickhouseUrl: string): ClickHouseTarget {
  const parsed = new URL(clickhouseUrl);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new Error('CLICKHOUSE_URL must be an http(s) URL');
  const database = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, '')) || 'default';
  if (!DATABASE.test(database))
    throw new Error('CLICKHOUSE_URL names a database of letters, digits and _ only');
  return {
    url: parsed.origin,
    username: decodeURIComponent(parsed.username) || 'default',
    password: decodeURIComponent(parsed.password),
    database,
  };
}

/** A client of the URL's database (or of another one on the same server, e.g. `default` to create it). */
export function createClickHouse(target: ClickHouseTarget, database = target.database): ClickHouseClient {
  return createClient({
    url: target.url,
    username: target.username,
    password: target.password,
    database,
    request_timeout: 30_000,
    // 18.16 knows no async_insert and no compression negotiation beyond the basics
    compression: { request: false, response: false },
    // its own console logger would print every failed request with its arguments: callers handle errors
    log: { level: ClickHouseLogLevel.OFF },
  });
}
