import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { costLimitRule, depthLimitRule, memoryRateLimiter, rateBuckets } from './limits.ts';

const schema = buildSchema(`
  type Query { company(id: ID!): Company, companies(first: Int): [Company!]! }
  type Company { id: ID!, name: String, positions(first: Int): [Position!]! }
  type Position { id: ID!, company: Company! }
`);

const errors = (query: string, rules: ReturnType<typeof depthLimitRule>[]) =>
  validate(schema, parse(query), rules).map((e) => e.message);

describe('depth limit', () => {
  it('counts nesting through fragments and ignores introspection', () => {
    const query = 'query { company(id: 1) { ...F } } fragment F on Company { positions { company { id } } }';
    expect(errors(query, [depthLimitRule(4)])).toEqual([]);
    expect(errors(query, [depthLimitRule(3)])).toEqual(['Query depth 4 exceeds the limit of 3']);
    expect(
      errors('{ __schema { types { fields { type { ofType { ofType { name } } } } } } }', [
        depthLimitRule(2),
      ]),
    ).toEqual([]);
  });
});

describe('cost limit', () => {
  it('multiplies list children by first, with a default size otherwise', () => {
    // 1 (companies) + 10 x (id + positions) + 10 x 5 x id = 1 + 20 + 50 = 71
    const query = '{ companies(first: 10) { id positions(first: 5) { id } } }';
    expect(errors(query, [costLimitRule(71)])).toEqual([]);
    expect(errors(query, [costLimitRule(70)])).toEqual(['Query cost 71 exceeds the limit of 70']);
    // without first, a list counts as 50 items
    expect(errors('{ companies { id } }', [costLimitRule(50)])).toEqual([
      'Query cost 51 exceeds the limit of 50',
    ]);
  });
});

describe('rate limits', () => {
  it('allows up to the limit in a window, then says how long to wait', async () => {
    const limiter = memoryRateLimiter();
    const rule = { limit: 2, windowSeconds: 60 };
    expect((await limiter.hit('org:a:read', rule)).allowed).toBe(true);
    expect((await limiter.hit('org:a:read', rule)).allowed).toBe(true);
    const third = await limiter.hit('org:a:read', rule);
    expect(third).toMatchObject({ allowed: false, remaining: 0 });
    expect(third.retryAfterSeconds).toBeGreaterThan(55);
    expect((await limiter.hit('org:b:read', rule)).allowed).toBe(true);
    await limiter.close();
  });

  it('counts an operation against its own bucket and the read/write fallback', () => {
    const rules = {
      ingestPharow: { limit: 10, windowSeconds: 60 },
      write: { limit: 600, windowSeconds: 60 },
      read: { limit: 9, windowSeconds: 60 },
    };
    expect(rateBuckets('mutation', ['ingestPharow'], rules).map((b) => b.name)).toEqual([
      'ingestPharow',
      'write',
    ]);
    expect(rateBuckets('query', ['positions', 'company'], rules).map((b) => b.name)).toEqual(['read']);
  });
});
