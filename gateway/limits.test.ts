import { Readable } from 'node:stream';
import {
  buildSchema,
  type FragmentDefinitionNode,
  Kind,
  type OperationDefinitionNode,
  parse,
  validate,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { ACCOUNT_OPERATIONS, ONCE_PER_REQUEST, parseTrustProxy } from '../lib/config.ts';
import {
  assertOncePerRequest,
  clientIpResolver,
  costCache,
  depthLimitRule,
  memoryRateLimiter,
  operationCost,
  rateHits,
  rootFields,
  rootFieldsCache,
} from './limits.ts';
import { readLimitedBody } from './subgraph-source.ts';

const schema = buildSchema(`
  type Query {
    company(id: ID!): Company
    companies(first: Int): [Company!]!
    positions(first: Int, after: String): PositionConnection!
  }
  type Mutation {
    login(email: String!, password: String!): String
    signUp(input: SignUpInput!): String
    ingestPharow(items: [String!]!): Int
    createCampaign(name: String!): String
  }
  input SignUpInput { email: String!, password: String! }
  type Company { id: ID!, name: String, positions(first: Int, after: String): [Position!]! }
  type Position { id: ID!, email: String, company: Company! }
  type PositionEdge { cursor: String!, node: Position! }
  type PositionConnection { edges: [PositionEdge!]!, totalCount: Int! }
`);

function operation(query: string, variables?: Record<string, unknown>) {
  const document = parse(query);
  const fragments: Record<string, FragmentDefinitionNode> = {};
  let op: OperationDefinitionNode | undefined;
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
    if (def.kind === Kind.OPERATION_DEFINITION) op = def;
  }
  expect(validate(schema, document)).toEqual([]);
  return { schema, operation: op!, fragments, variables };
}

const names = (query: string, variables?: Record<string, unknown>) =>
  rootFields(operation(query, variables)).map((f) => f.name);

describe('depth limit', () => {
  it('counts nesting through fragments and ignores introspection', () => {
    const query = 'query { company(id: 1) { ...F } } fragment F on Company { positions { company { id } } }';
    const errors = (q: string, max: number) =>
      validate(schema, parse(q), [depthLimitRule(max)]).map((e) => e.message);
    expect(errors(query, 4)).toEqual([]);
    expect(errors(query, 3)).toEqual(['Query depth 4 exceeds the limit of 3']);
    expect(errors('{ __schema { types { fields { type { ofType { ofType { name } } } } } } }', 2)).toEqual(
      [],
    );
  });
});

describe('root fields as they run', () => {
  it('finds fields inside inline fragments, named fragments and fragments of fragments', () => {
    expect(names('mutation { ... on Mutation { login(email: "a@b.fr", password: "x") } }')).toEqual([
      'login',
    ]);
    expect(
      names('mutation { ...L } fragment L on Mutation { login(email: "a@b.fr", password: "x") }'),
    ).toEqual(['login']);
    expect(
      names(
        'mutation { ...A } fragment A on Mutation { ...B } fragment B on Mutation { ... { ingestPharow(items: []) } }',
      ),
    ).toEqual(['ingestPharow']);
  });

  it('counts every alias once, and a field repeated under one key once, as it executes', () => {
    const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: ingestPharow(items: ["x"])`).join(' ');
    expect(names(`mutation { ${aliases} }`)).toHaveLength(20);
    expect(names('mutation { ingestPharow(items: []) ... on Mutation { ingestPharow(items: []) } }')).toEqual(
      ['ingestPharow'],
    );
  });

  it('honours @skip and @include with their variables', () => {
    const query = `mutation ($s: Boolean!, $i: Boolean!) {
      a: ingestPharow(items: []) @skip(if: $s)
      b: ingestPharow(items: []) @include(if: $i)
      ... @include(if: $i) { c: ingestPharow(items: []) }
    }`;
    expect(names(query, { s: true, i: false })).toEqual([]);
    expect(names(query, { s: false, i: true })).toEqual(['ingestPharow', 'ingestPharow', 'ingestPharow']);
  });

  it('resolves arguments from variables', () => {
    const [field] = rootFields(
      operation(
        'mutation ($e: String!) { ...L } fragment L on Mutation { login(email: $e, password: "x") }',
        {
          e: 'Camille@Example.FR',
        },
      ),
    );
    expect(field.args.email).toBe('Camille@Example.FR');
  });

  it('refuses a second login, signUp or ingestPharow in one request', () => {
    const twice = rootFields(
      operation(
        'mutation { a: login(email: "a@b.fr", password: "x") b: login(email: "c@d.fr", password: "y") }',
      ),
    );
    expect(() => assertOncePerRequest(twice, ONCE_PER_REQUEST)).toThrow(
      /login may appear only once per request/,
    );
    const mixed = rootFields(
      operation(
        'mutation { login(email: "a@b.fr", password: "x") a: createCampaign(name: "x") b: createCampaign(name: "y") }',
      ),
    );
    expect(() => assertOncePerRequest(mixed, ONCE_PER_REQUEST)).not.toThrow();
  });
});

describe('rate buckets', () => {
  const rules = {
    login: { limit: 5, windowSeconds: 60 },
    signUp: { limit: 5, windowSeconds: 60 },
    createCampaign: { limit: 20, windowSeconds: 60 },
    write: { limit: 600, windowSeconds: 60 },
    read: { limit: 9, windowSeconds: 60 },
  };
  const hits = (query: string, organisationId?: string, variables?: Record<string, unknown>) => {
    const op = operation(query, variables);
    return rateHits({
      operation: op.operation.operation,
      fields: rootFields(op),
      organisationId,
      clientIp: '203.0.113.7',
      rules,
      accountOperations: ACCOUNT_OPERATIONS,
    }).map((h) => h.key);
  };

  it('counts a login per client IP and per email (lower-cased), whatever token is attached', () => {
    const anonymous = hits('mutation ($e: String!) { login(email: $e, password: "x") }', undefined, {
      e: ' Camille@Example.FR ',
    });
    const withToken = hits('mutation { login(email: "camille@example.fr", password: "x") }', 'org-1');
    expect(anonymous[0]).toBe('ip:203.0.113.7:login');
    expect(anonymous[1]).toMatch(/^email:[\w-]+:login$/);
    expect(withToken.slice(0, 2)).toEqual(anonymous.slice(0, 2));
    expect(anonymous[1]).not.toContain('camille');
  });

  it('counts a sign-up per IP and per email even with a token', () => {
    const keys = hits('mutation { signUp(input: { email: "a@b.fr", password: "x" }) }', 'org-1');
    expect(keys[0]).toBe('ip:203.0.113.7:signUp');
    expect(keys[1]).toMatch(/^email:.+:signUp$/);
    expect(keys[2]).toBe('org:org-1:write');
  });

  it('counts other fields per organisation once per occurrence, then the read/write fallback once', () => {
    expect(hits('mutation { a: createCampaign(name: "x") b: createCampaign(name: "y") }', 'org-1')).toEqual([
      'org:org-1:createCampaign',
      'org:org-1:createCampaign',
      'org:org-1:write',
    ]);
    expect(hits('{ company(id: 1) { id } positions { totalCount } }')).toEqual(['ip:203.0.113.7:read']);
  });

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
});

describe('cost', () => {
  const cost = (query: string, variables?: Record<string, unknown>) =>
    operationCost(operation(query, variables));

  it('multiplies list children by first, with a default size otherwise', () => {
    // 1 (companies) + 10 x (id + positions) + 10 x 5 x id = 1 + 20 + 50 = 71
    expect(cost('{ companies(first: 10) { id positions(first: 5) { id } } }')).toBe(71);
    expect(cost('{ companies { id } }')).toBe(51);
  });

  it("multiplies a connection's edges by the connection's first, variables included", () => {
    // positions + totalCount + edges + n x (node + id)
    expect(cost('{ positions(first: 2) { totalCount edges { node { id } } } }')).toBe(3 + 2 * 2);
    expect(cost('query ($n: Int) { positions(first: $n) { edges { node { id } } } }', { n: 500 })).toBe(
      2 + 500 * 2,
    );
    expect(cost('query ($n: Int) { positions(first: $n) { edges { node { id } } } }', { n: 1 })).toBe(4);
    // without first, the default page
    expect(cost('{ positions { edges { node { id } } } }')).toBe(2 + 50 * 2);
  });

  it('counts aliases and fragments, and leaves out skipped fields', () => {
    const one = cost('{ company(id: 1) { positions(first: 100) { id email } } }');
    expect(one).toBe(1 + 1 + 100 * 2);
    expect(
      cost(
        '{ a: company(id: 1) { ...P } b: company(id: 2) { ...P } } fragment P on Company { positions(first: 100) { id email } }',
      ),
    ).toBe(2 * one);
    expect(
      cost('query ($s: Boolean!) { company(id: 1) { positions(first: 100) @skip(if: $s) { id } } }', {
        s: true,
      }),
    ).toBe(1);
  });
});

describe('cost, remembered per operation', () => {
  it('computes a cost once per operation and cost-changing variables, and never mixes two page sizes', () => {
    const cache = costCache();
    const document = parse(
      'query ($n: Int, $id: ID!, $s: Boolean!) { company(id: $id) { id } positions(first: $n) @skip(if: $s) { edges { node { id } } } }',
    );
    const op = document.definitions[0] as OperationDefinitionNode;
    expect(validate(schema, document)).toEqual([]);
    const cost = (variables: Record<string, unknown>) =>
      cache.cost(document, { schema, operation: op, fragments: {}, variables }, 1_000_000);
    expect(cost({ n: 10, id: '1', s: false })).toBe(2 + 2 + 10 * 2);
    // another company id changes nothing: answered from memory
    expect(cost({ n: 10, id: '2', s: false })).toBe(24);
    expect(cache.computed).toBe(1);
    // another page size, or a skipped connection, is another cost
    expect(cost({ n: 500, id: '2', s: false })).toBe(2 + 2 + 500 * 2);
    expect(cost({ n: 10, id: '2', s: true })).toBe(2);
    // a page size left out takes the default; sent as null, too, but they are told apart
    expect(cost({ id: '2', s: false })).toBe(2 + 2 + 50 * 2);
    expect(cost({ n: null, id: '2', s: false })).toBe(2 + 2 + 50 * 2);
    expect(cache.computed).toBe(5);
    expect(cost({ n: 10, id: '3', s: false })).toBe(24);
    expect(cost({ n: 500, id: '3', s: false })).toBe(1004);
    expect(cache.computed).toBe(5);
  });
});

describe('root fields, remembered per operation', () => {
  it('collects them once for an operation without variables, and every time for one with', () => {
    const cache = rootFieldsCache();
    const fixed = operation('{ a: company(id: 1) { id } b: company(id: 2) { id } }');
    expect(cache.fields(fixed).map((f) => f.responseKey)).toEqual(['a', 'b']);
    expect(cache.fields({ ...fixed, variables: { ignored: true } }).map((f) => f.args)).toEqual([
      { id: '1' },
      { id: '2' },
    ]);
    expect(cache.computed).toBe(1);
    const query = 'mutation ($e: String!, $s: Boolean!) { login(email: $e, password: "x") @skip(if: $s) }';
    const login = (variables: Record<string, unknown>) => cache.fields(operation(query, variables));
    expect(login({ e: 'a@example.fr', s: false })).toEqual([
      { name: 'login', responseKey: 'login', args: { email: 'a@example.fr', password: 'x' } },
    ]);
    expect(login({ e: 'b@example.fr', s: false })[0]?.args.email).toBe('b@example.fr');
    expect(login({ e: 'b@example.fr', s: true })).toEqual([]);
    expect(cache.computed).toBe(4);
  });
});

describe('client IP', () => {
  const ip = (trust: string | undefined, socket: string, xff?: string) =>
    clientIpResolver(parseTrustProxy(trust))(socket, xff);

  it('uses the socket address and ignores X-Forwarded-For unless proxies are trusted', () => {
    expect(ip(undefined, '198.51.100.9', '1.2.3.4')).toBe('198.51.100.9');
    expect(ip(undefined, '::ffff:127.0.0.1', '1.2.3.4')).toBe('127.0.0.1');
  });

  it('with a hop count, takes the n-th address from the right', () => {
    expect(ip('1', '10.0.0.2', 'spoofed, 203.0.113.7')).toBe('203.0.113.7');
    expect(ip('2', '10.0.0.2', 'spoofed, 203.0.113.7, 10.0.0.1')).toBe('203.0.113.7');
    expect(ip('1', '10.0.0.2')).toBe('10.0.0.2');
  });

  it('with CIDRs, walks from the right past trusted proxies, IPv4 and IPv6', () => {
    const trust = '10.0.0.0/8, fd00::/8';
    expect(ip(trust, '10.0.0.2', '1.1.1.1, 203.0.113.7, 10.1.2.3')).toBe('203.0.113.7');
    expect(ip(trust, 'fd00::1', '2001:db8::5, fd00::2')).toBe('2001:db8::5');
    // a client talking to us directly cannot choose its address
    expect(ip(trust, '198.51.100.9', '10.0.0.5')).toBe('198.51.100.9');
    // every hop trusted: the furthest one
    expect(ip(trust, '10.0.0.2', '10.0.0.3')).toBe('10.0.0.3');
  });
});

describe('subgraph bodies', () => {
  it('cuts a body off once past the limit', async () => {
    const stream = () => Readable.from([Buffer.alloc(6_000, 'x'), Buffer.alloc(4_000, 'x')]);
    expect((await readLimitedBody(stream(), 10_000))?.length).toBe(10_000);
    expect(await readLimitedBody(stream(), 9_999)).toBeUndefined();
  });
});

describe('every list of the API is bounded', () => {
  it('has a `first` argument or a documented size for each list of objects', async () => {
    const { readFile } = await import('node:fs/promises');
    const { LIST_SIZES } = await import('./limits.ts');
    const { getNamedType, getNullableType, isListType, isObjectType } = await import('graphql');
    const api = buildSchema(await readFile(new URL('../schema/api.graphql', import.meta.url), 'utf8'));
    const unbounded: string[] = [];
    for (const type of Object.values(api.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        if (!isListType(getNullableType(field.type)) || !isObjectType(getNamedType(field.type))) continue;
        const key = `${type.name}.${field.name}`;
        // a connection's edges take the connection's `first`
        if (field.name === 'edges' && type.name.endsWith('Connection')) continue;
        if (!field.args.some((a) => a.name === 'first') && LIST_SIZES[key] === undefined) unbounded.push(key);
      }
    }
    expect(unbounded).toEqual([]);
  });
});
