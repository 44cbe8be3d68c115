// Opaque keyset cursors: base64url of "<timestamp as PostgreSQL prints it>|<uuid>". The text keeps
// PostgreSQL's microseconds; a JS Date would round them to milliseconds and repeat rows across pages.
import { isUuid } from '../db/orm.ts';
import { badInput } from '../errors.ts';

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)?$/;

export interface CursorKey {
  /** `created_at::text` of the row */
  createdAt: string;
  id: string;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.createdAt}|${key.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): CursorKey {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!isUuid(id) || !TIMESTAMP.test(createdAt ?? '')) {
    throw badInput('after is not a valid cursor', { field: 'after' });
  }
  return { createdAt, id };
}

/** Clamps `first` to [1, max], defaulting when absent. */
export function pageSize(first: number | null | undefined, fallback = 50, max = 500): number {
  if (first === null || first === undefined) return fallback;
  if (!Number.isInteger(first) || first < 1 || first > max) {
    throw badInput(`first must be between 1 and ${max}`, { field: 'first' });
  }
  return first;
}
