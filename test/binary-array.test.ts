// Bulk writes bind their columns as binary arrays (lib/db/binary-array.ts): PostgreSQL must read back exactly
// the values the text literals gave it.
import { describe, expect, it } from 'vitest';
import { type BinaryElement, binaryArray } from '../lib/db/binary-array.ts';
import { ownerClient, withClient } from './helpers/db.ts';

const CASES: [BinaryElement, unknown[]][] = [
  ['text', ['Société Générale', '', 'a "quoted" \\ value', null, '{braces, commas}', 'NULL', '💡']],
  ['uuid', ['0b9ce06b-1ee2-475b-9620-1768ecd1e155', null, 'FFFFFFFF-0000-4000-8000-00000000000A']],
  ['int', [0, -1, 2_147_483_647, -2_147_483_648, null]],
  ['smallint', [0, 100, -32_768, 32_767]],
  ['bigint', [0, 1_250_000_000_000, -9_007_199_254_740_991, null]],
  ['date', ['2000-01-01', '1999-12-31', '2024-02-29', '1789-07-14', '2099-12-31', null]],
  ['boolean', [true, false, null]],
];

describe('binary arrays', () => {
  it('are read by PostgreSQL as the values they hold, NULLs included', async () => {
    await withClient(ownerClient(), async (c) => {
      for (const [type, values] of CASES) {
        const { rows } = await c.query(
          `SELECT u::text AS v FROM unnest($1::${type}[]) WITH ORDINALITY AS t(u, n) ORDER BY n`,
          [binaryArray(type, values)],
        );
        const expected = values.map((v) => {
          if (v === null) return null;
          if (type === 'uuid') return (v as string).toLowerCase();
          if (type === 'boolean') return v ? 'true' : 'false';
          return String(v);
        });
        expect({ type, values: rows.map((r) => r.v) }).toEqual({ type, values: expected });
      }
      // an empty list is an empty array
      const { rows } = await c.query('SELECT cardinality($1::text[]) AS n', [binaryArray('text', [])]);
      expect(rows[0].n).toBe(0);
    });
  });

  it('refuses a value its type cannot hold before anything is sent', () => {
    expect(() => binaryArray('int', [1.5])).toThrow(/not an integer/);
    expect(() => binaryArray('int', [2 ** 31])).toThrow(/32 bits/);
    expect(() => binaryArray('smallint', ['7'])).toThrow(/not an integer/);
    expect(() => binaryArray('date', ['2023-02-30'])).toThrow(/calendar date/);
    expect(() => binaryArray('date', ['30/01/2023'])).toThrow(/YYYY-MM-DD/);
    expect(() => binaryArray('uuid', ['not-a-uuid'])).toThrow(/UUID/);
    // the right length, with a letter that is not hex, a dash out of place, a non-ASCII digit
    expect(() => binaryArray('uuid', ['0b9ce06b-1ee2-475b-9620-1768ecd1e15g'])).toThrow(/UUID/);
    expect(() => binaryArray('uuid', ['0b9ce06b1-ee2-475b-9620-1768ecd1e155'])).toThrow(/UUID/);
    expect(() => binaryArray('uuid', ['0b9ce06b-1ee2-475b-9620-1768ecd1e15٥'])).toThrow(/UUID/);
    expect(() => binaryArray('uuid', [42])).toThrow(/UUID/);
    expect(() => binaryArray('boolean', ['true'])).toThrow(/boolean/);
  });
});
