// The fast path's variable check must accept exactly what graphql-js's coercion accepts, or it would let
// through a request the normal path refuses.
import { readFileSync } from 'node:fs';
import { buildSchema, coerceInputValue, type GraphQLInputType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { acceptsInput, leadingQuery } from './ingest-fast-path.ts';

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

describe('the query text at the start of a body', () => {
  const body = (text: string) => Buffer.from(text, 'utf8');

  it('reads it from the first bytes, escapes and all, before the rest has arrived', () => {
    const query = 'mutation ($input: PharowIngestInput!) { ingestPharow(input: $input) { received } } # "é"';
    const whole = JSON.stringify({ query, variables: { input: { data: [] } } });
    expect(leadingQuery(body(whole))).toBe(query);
    expect(leadingQuery(body(` {\n "query" : ${JSON.stringify(query)}, "variables"`))).toBe(query);
  });

  it('waits while the bytes end inside it, and gives up when it is not first', () => {
    const whole = JSON.stringify({ query: 'mutation { x }', variables: {} });
    expect(leadingQuery(body(whole.slice(0, 20)))).toBeUndefined();
    expect(leadingQuery(body('{"qu'))).toBeUndefined();
    expect(
      leadingQuery(body(JSON.stringify({ variables: {}, query: 'mutation { x }' }).padEnd(80))),
    ).toBeNull();
    expect(leadingQuery(body(`{"query":"${'\\u00'}zz"}`.padEnd(80)))).toBeNull();
  });
});
