// Bulk writes under RLS: one INSERT ... SELECT FROM unnest(...) per table, arrays bound as arrays.
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';

export interface ColumnSpec<Row> {
  column: string;
  /** PostgreSQL array element type the values are sent as, e.g. 'text', 'int', 'bigint', 'date', 'boolean'. */
  type: string;
  value: (row: Row) => unknown;
}

/**
 * Inserts rows or overwrites them by (organisation_id, id). The caller has already merged values and
 * decided which rows are new or changed; unchanged rows are not sent at all.
 */
export async function upsertRows<Row extends { id: string }>(
  em: EntityManager,
  table: string,
  organisationId: string,
  columns: ColumnSpec<Row>[],
  rows: Row[],
): Promise<void> {
  if (rows.length === 0) return;
  const names = columns.map((c) => c.column);
  const unnest = ['?::uuid[]', ...columns.map((c) => `?::${c.type}[]`)].join(', ');
  const bindings: unknown[] = [
    organisationId,
    rows.map((r) => r.id),
    ...columns.map((c) => rows.map(c.value)),
  ];
  const set = [...names.map((n) => `${n} = EXCLUDED.${n}`), 'updated_at = now()'].join(', ');
  await rawQuery(
    em,
    `INSERT INTO ${table} AS t (organisation_id, id, ${names.join(', ')})
     SELECT ?::uuid, u.* FROM unnest(${unnest}) AS u
     ON CONFLICT (organisation_id, id) DO UPDATE SET ${set}`,
    bindings,
  );
}
