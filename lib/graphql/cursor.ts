// Opaque keyset cursors: base64url of "<iso timestamp>|<uuid>".
import { isUuid } from '../db/orm.ts';
import { badInput } from '../errors.ts';

export interface CursorKey {
  createdAt: Date;
  id: string;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.createdAt.toISOString()}|${key.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): CursorKey {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at);
  if (!isUuid(id) || Number.isNaN(createdAt.getTime()))
    throw badInput('after is not a valid cursor', { field: 'after' });
  return { createdAt, id };
}

/** Clamps `first` to [1, max], defaulting when absent. */
export function pageSize(first: number | null | undefined, fallback = 50, max = 500): number {
  if (first === null || first === undefined) return fallback;
  if (!Number.isInteger(first) || first < 1 || first > max)
    throw badInput(`first must be between 1 and ${max}`, { field: 'first' });
  return first;
}
