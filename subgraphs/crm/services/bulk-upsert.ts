// Bulk writes under RLS: one statement per table over unnest()ed arrays (bound as arrays, in binary, not inlined).
import { type BinaryElement, binaryArray } from '../../../lib/db/binary-array.ts';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';

/** Column types a bulk write binds: the binary array element types, and citext (bound as text, then cast). */
export type FieldType = BinaryElement | 'citext';

export interface FieldSpec<Row> {
  column: string;
  /** PostgreSQL element type the values are sent as */
  type: FieldType;
  key: keyof Row;
  /** Identifiers: a known value is kept, only an empty one is filled. */
  fillOnly?: boolean;
  /** Bookkeeping, not data: always overwritten (null included), and never counts as a change. */
  replace?: boolean;
  /** Stored by an insert when the row has no value (an update keeps the stored one). */
  whenAbsent?: string;
}

type Keyed = { id: string; sourceHash: string };

/** The element type a field's array is bound as: citext goes as text and is cast. */
const boundAs = (type: FieldType): BinaryElement => (type === 'citext' ? 'text' : type);

/** Each column's values as one array, bound in binary (lib/db/binary-array.ts). */
function arrays<Row>(fields: FieldSpec<Row>[], rows: (Row & Keyed)[]): Buffer[] {
  return [
    binaryArray(
      'uuid',
      rows.map((r) => r.id),
    ),
    binaryArray(
      'text',
      rows.map((r) => r.sourceHash),
    ),
    ...fields.map((f) =>
      binaryArray(
        boundAs(f.type),
        rows.map((r) => r[f.key]),
      ),
    ),
  ];
}

function unnest<Row>(fields: FieldSpec<Row>[]): string {
  const cast = (type: FieldType) => {
    const bound = boundAs(type);
    return bound === type ? `?::${type}[]` : `?::${bound}[]::${type}[]`;
  };
  return ['?::uuid[]', '?::text[]', ...fields.map((f) => cast(f.type))].join(', ');
}

/** A bulk write built ahead of its turn in the transaction: its statement and bound values, ready to send. */
export interface BulkStatement {
  sql: string;
  params: unknown[];
}

/** The insert of these rows, or undefined when there are none. */
export function insertStatement<Row>(
  table: string,
  organisationId: string,
  fields: FieldSpec<Row>[],
  rows: (Row & Keyed)[],
): BulkStatement | undefined {
  if (rows.length === 0) return undefined;
  const columns = fields.map((f) => f.column);
  const values = fields.map((f) =>
    f.whenAbsent === undefined ? `u.${f.column}` : `coalesce(u.${f.column}, ?::${f.type})`,
  );
  const defaults = fields.flatMap((f) => (f.whenAbsent === undefined ? [] : [f.whenAbsent]));
  return {
    sql: `INSERT INTO ${table} (organisation_id, id, source_hash, ${columns.join(', ')})
     SELECT ?::uuid, u.id, u.source_hash, ${values.join(', ')}
     FROM unnest(${unnest(fields)}) AS u(id, source_hash, ${columns.join(', ')})`,
    params: [organisationId, ...defaults, ...arrays(fields, rows)],
  };
}

/** Runs an insert built by insertStatement (nothing, for no rows). */
export async function runInsert(em: EntityManager, insert: BulkStatement | undefined): Promise<void> {
  if (insert) await rawQuery(em, insert.sql, insert.params);
}

/**
 * The merge of rows into stored ones (new non-empty values win, empty ones never blank, fill-only columns
 * keep a known value), or undefined when there are none; it answers with a row per changed-or-not row.
 */
export function updateStatement<Row>(
  table: string,
  organisationId: string,
  fields: FieldSpec<Row>[],
  rows: (Row & Keyed)[],
): BulkStatement | undefined {
  if (rows.length === 0) return undefined;
  const merged = (f: FieldSpec<Row>) => {
    if (f.replace) return `c.${f.column}`;
    return f.fillOnly ? `COALESCE(t.${f.column}, c.${f.column})` : `COALESCE(c.${f.column}, t.${f.column})`;
  };
  const columns = fields.map((f) => f.column);
  const data = fields.filter((f) => !f.replace);
  return {
    sql: `WITH c AS (SELECT * FROM unnest(${unnest(fields)}) AS d(id, source_hash, ${columns.join(', ')})),
     diff AS (
       SELECT c.id, (${data.map((f) => `t.${f.column}`).join(', ')}) IS DISTINCT FROM (${data.map(merged).join(', ')}) AS changed
       FROM c JOIN ${table} t ON t.organisation_id = ? AND t.id = c.id
     )
     UPDATE ${table} t SET ${fields.map((f) => `${f.column} = ${merged(f)}`).join(', ')},
       source_hash = c.source_hash,
       updated_at = CASE WHEN diff.changed THEN now() ELSE t.updated_at END
     FROM c JOIN diff ON diff.id = c.id
     WHERE t.organisation_id = ? AND t.id = c.id
     RETURNING diff.changed`,
    params: [...arrays(fields, rows), organisationId, organisationId],
  };
}

/** Runs a merge (updateStatement) and returns how many rows really changed. */
export async function runUpdate(em: EntityManager, update: BulkStatement | undefined): Promise<number> {
  if (!update) return 0;
  const result = await rawQuery<{ changed: boolean }>(em, update.sql, update.params);
  return result.filter((r) => r.changed).length;
}
