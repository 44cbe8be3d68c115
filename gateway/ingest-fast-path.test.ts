// The fast path's variable check must accept exactly what graphql-js's coercion accepts, or it would let
// through a request the normal path refuses.
import { readFileSync } from 'node:fs';
import { buildSchema, coerceInputValue, type GraphQLInputType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { acceptsInput } from './ingest-fast-path.ts';

const schema = buildSchema(readFileSync(new URL('../schema/api.graphql', import.meta.url), 'utf8'));
const input = schema.getType('PharowIngestInput') as GraphQLInputType;

function coerces(value: unknown): boolean {
  let ok = true;
  coerceInputValue(value, input, () => {
    ok = false;
  });
  return ok;
}

const item = () => ({
  company: { companyName: 'Acme', companySiren: '552100554', pharowCompanyId: null },
  person: { personFirstName: 'Élodie' },
  position: { positionEmail: 'e@acme.fr' },
});

describe('acceptsInput', () => {
  const cases: [string, unknown][] = [
    ['a valid batch', { version: 'V2', data: [item(), item()] }],
    ['an empty batch', { data: [] }],
    ['one item instead of a list', { data: item() }],
    ['no data', { version: 'V2' }],
    ['data null', { data: null }],
    ['an unknown field', { data: [{ ...item(), extra: 1 }] }],
    ['a number where a string is expected', { data: [{ ...item(), person: { personFirstName: 3 } }] }],
    ['a missing required name', { data: [{ ...item(), company: { companySiren: '1' } }] }],
    ['a null required name', { data: [{ ...item(), company: { companyName: null } }] }],
    ['a list where an object is expected', { data: [{ ...item(), person: [] }] }],
    ['a null item', { data: [null] }],
    ['a string input', 'nope'],
  ];
  it.each(cases)('agrees with graphql-js on %s', (_name, value) => {
    expect(acceptsInput(input, value)).toBe(coerces(value));
  });
});
