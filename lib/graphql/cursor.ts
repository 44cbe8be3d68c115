// Opaque keyset cursors: base64url of "<timestamp as PostgreSQL prints it>|<uuid>". The text keeps
// PostgreSQL's microseconds; a JS Date would round them to milliseconds and skip or repeat rows across
// pages. Every paged list orders by (created_at, id) and pages through keyset() below.
import type DataLoader from 'dataloader';
import { requireIdentity } from '../auth/identity.ts';
import { isUuid } from '../db/orm.ts';
import { numbered } from '../db/tenant-transaction.ts';
import { badInput } from '../errors.ts';
import { byKeys, type RequestContext } from './context.ts';

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(?:([+-])(\d{2})(?::?(\d{2})(?::?(\d{2}))?)?|Z)?$/;

export interface CursorKey {
  /** `created_at::text` of the row */
  createdAt: string;
  id: string;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.createdAt}|${key.id}`).toString('base64url');
}

/** True when PostgreSQL will read the text as a timestamptz: every field in range, a real calendar day. */
function isTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return false;
  // day 0 of the next month is the last day of this one
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return false;
  if (m[8]) {
    const [offsetHours, offsetMinutes, offsetSeconds] = [m[9], m[10], m[11]].map((v) => Number(v ?? 0));
    if (offsetHours > 15 || offsetMinutes > 59 || offsetSeconds > 59) return false;
  }
  return true;
}

/** The key in a cursor; a malformed or out-of-range one is BAD_USER_INPUT, never a database error. */
export function decodeCursor(cursor: string, field = 'after'): CursorKey {
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const [createdAt, id] = parts;
  if (parts.length !== 2 || !isUuid(id) || !isTimestamp(createdAt)) {
    throw badInput(`${field} is not a valid cursor`, { field });
  }
  return { createdAt, id };
}

export interface Keyset {
  /** SQL condition selecting the rows after the cursor (`TRUE` without one), with its bindings. */
  where: string;
  params: string[];
  /** ORDER BY list matching the condition. */
  orderBy: string;
  /** Select list item giving the text a row's cursor is made of, as `cursor_created_at`. */
  createdAtText: string;
}

/**
 * Keyset paging over `(created_at, id)` of the table aliased `alias`, compared inside PostgreSQL so no
 * precision is lost: oldest first by default, newest first with `'desc'`.
 */
export function keyset(
  alias: string,
  after: string | null | undefined,
  order: 'asc' | 'desc' = 'asc',
): Keyset {
  const columns = `(${alias}.created_at, ${alias}.id)`;
  const orderBy = `${alias}.created_at ${order.toUpperCase()}, ${alias}.id ${order.toUpperCase()}`;
  const createdAtText = `${alias}.created_at::text AS cursor_created_at`;
  if (!after) return { where: 'TRUE', params: [], orderBy, createdAtText };
  const key = decodeCursor(after);
  return {
    where: `${columns} ${order === 'asc' ? '>' : '<'} (?::timestamptz, ?::uuid)`,
    params: [key.createdAt, key.id],
    orderBy,
    createdAtText,
  };
}

/** The cursor of a row read with `keyset().createdAtText` in its select list. */
export function cursorOf(row: { id: string; cursor_created_at: string }): string {
  return encodeCursor({ createdAt: row.cursor_created_at, id: row.id });
}

/** Clamps `first` to [1, max], defaulting when absent. */
export function pageSize(first: number | null | undefined, fallback = 50, max = 500): number {
  if (first === null || first === undefined) return fallback;
  if (!Number.isInteger(first) || first < 1 || first > max) {
    throw badInput(`first must be between 1 and ${max}`, { field: 'first' });
  }
  return first;
}

/**
 * The cursors of rows of `table` (schema-qualified) by id, batched per request; a paged list primes it with
 * the cursors it already read, so a `cursor` field costs a query only for rows reached another way.
 */
export function cursorLoader(ctx: RequestContext<unknown>, table: string): DataLoader<string, string | null> {
  return ctx.sqlLoader<string, string>(`cursor:${table}`, async (ids) => {
    const rows = await ctx.sql<{ id: string; cursor_created_at: string }>(
      `SELECT t.id, t.created_at::text AS cursor_created_at FROM ${table} t
       WHERE t.id = ANY($1::uuid[]) AND t.organisation_id = $2`,
      [ids, requireIdentity(ctx.identity).organisationId],
    );
    return byKeys(ids, rows, (r) => r.id).map((r) => (r ? cursorOf(r) : null));
  });
}

export interface KeysetPageOptions {
  /** Schema-qualified table with `organisation_id`, `created_at` and `id` columns. */
  table: string;
  /** Extra SQL condition on the table aliased `t` (the tenant condition is always added). */
  filter?: string;
  params?: unknown[];
  after: string | null | undefined;
  order?: 'asc' | 'desc';
  limit: number;
}

/**
 * One page of `table` in the caller's organisation, in page order, as plain rows of the `select` list on the
 * table aliased `t` (its id alone by default), with their cursors primed for the `cursor` field. Read without
 * the ORM: with literal-safe values the page and the tenant setting travel in one round trip.
 */
export async function keysetRows<T extends { id: string }>(
  ctx: RequestContext<unknown>,
  options: KeysetPageOptions & { select?: string },
): Promise<T[]> {
  const page = keyset('t', options.after, options.order);
  const rows = await ctx.sql<T & { cursor_created_at: string }>(
    numbered(`SELECT ${options.select ?? 't.id'}, ${page.createdAtText} FROM ${options.table} t
     WHERE t.organisation_id = ? AND (${options.filter ?? 'TRUE'}) AND ${page.where}
     ORDER BY ${page.orderBy} LIMIT ?`),
    [requireIdentity(ctx.identity).organisationId, ...(options.params ?? []), ...page.params, options.limit],
  );
  const cursors = cursorLoader(ctx, options.table);
  for (const row of rows) cursors.prime(row.id, cursorOf(row));
  return rows;
}

/** The ids of one page of `table` (see keysetRows), for lists whose entities are then loaded by id. */
export async function keysetPage(
  ctx: RequestContext<unknown>,
  options: KeysetPageOptions,
): Promise<string[]> {
  return (await keysetRows(ctx, options)).map((r) => r.id);
}

/** Entities found by id, put back in the order of `ids`. */
export function inOrder<T extends { id: string }>(ids: readonly string[], found: T[]): T[] {
  const byId = new Map(found.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id)).filter((row): row is T => row !== undefined);
}
