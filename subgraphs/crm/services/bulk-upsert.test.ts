// The bulk writes send each column as an array literal built here: it must be exactly what the driver
// writes for the same array parameter, or a value with a quote, a backslash or a brace would be stored wrong.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { arrayLiteral } from './bulk-upsert.ts';

const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: (value: unknown) => unknown;
};

describe('arrayLiteral', () => {
  const cases: [string, unknown[]][] = [
    ['an empty list', []],
    ['plain text', ['Société Générale', 'ÉLODIE', 'a b', '']],
    ['quotes and backslashes', ['say "hi"', 'C:\\path\\', '\\"', '"', '\\']],
    ['array syntax inside values', ['{a,b}', 'NULL', 'null', ',', '}', '{', ' x ', '\t\n']],
    ['nulls and missing values', [null, 'x', undefined, null]],
    ['numbers and booleans', [0, -12, 1_778_700, 2023, 3.5, true, false]],
    ['ids', ['7c9e6679-7425-40de-944b-e07fc1f90ae7', 'KJ2Hc3_Qe-1x']],
    ['emoji and control characters', ['😀', '\u0001', '\u2028']],
  ];
  it.each(cases)('writes %s as the driver does', (_name, values) => {
    expect(arrayLiteral(values)).toBe(prepareValue(values));
  });
});
