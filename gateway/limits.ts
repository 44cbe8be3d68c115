// Request limits: query depth (a validation rule), cost and root fields counted on what runs once
// variables are known, per-subject rate limits, the client address, and the response-size ceiling.
import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import {
  type ASTNode,
  type ASTVisitor,
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  GraphQLIncludeDirective,
  type GraphQLObjectType,
  type GraphQLSchema,
  GraphQLSkipDirective,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  type InlineFragmentNode,
  isAbstractType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  typeFromAST,
  type ValidationContext,
  visit,
} from 'graphql';
import type { Redis } from 'ioredis';
import type { RateLimitRule, TrustProxy } from '../lib/config.ts';
import { AppError, ErrorCode } from '../lib/errors.ts';

/** What an unbounded list, or a paginated one called without `first`, is assumed to return. */
export const DEFAULT_LIST_SIZE = 50;

// Page sizes of lists whose resolvers default to something other than DEFAULT_LIST_SIZE without `first`.
export const LIST_SIZES: Readonly<Record<string, number>> = {
  'Query.suppressions': 100,
  'Query.apiKeys': 50,
  'Query.campaigns': 50,
  'Organisation.members': 100,
  'Campaign.enrollments': 100,
  'Campaign.steps': 20,
  'Campaign.mailboxes': 50,
  'Query.mailboxes': 50,
  'Query.prompts': 50,
  'StepExperiment.variants': 10,
  // one per variant of the experiment
  'ExperimentResult.variants': 10,
  // refused beyond 2,000 buckets (subgraphs/tracking/services/timeline.ts)
  'Campaign.timeline': 2000,
  'Enrollment.messages': 100,
  'Position.enrollments': 100,
  // one entry per refused item of one ingest call (INGEST_MAX_ITEMS at most); usually a few
  'IngestResult.rejected': 50,
  // one entry per position not enrolled by one call (10,000 at most); usually a few
  'EnrollResult.skipped': 50,
  'ApiKey.scopes': 3,
  'Schedule.days': 7,
};

// Apollo re-codes validation errors as GRAPHQL_VALIDATION_FAILED; formatError recovers the AppError's code.
function tooComplex(message: string, details: Record<string, number>): GraphQLError {
  return new GraphQLError(message, {
    originalError: new AppError(ErrorCode.QueryTooComplex, message, details),
    extensions: { http: { status: 400 } },
  });
}

/** Rejects operations nested deeper than maxDepth (introspection excluded). */
export function depthLimitRule(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const depthOf = (set: SelectionSetNode, seen: Set<string>): number => {
      let max = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value.startsWith('__')) continue;
          max = Math.max(max, 1 + (sel.selectionSet ? depthOf(sel.selectionSet, seen) : 0));
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthOf(sel.selectionSet, seen));
        } else {
          const frag = fragments.get(sel.name.value);
          if (frag && !seen.has(frag.name.value)) {
            max = Math.max(max, depthOf(frag.selectionSet, new Set([...seen, frag.name.value])));
          }
        }
      }
      return max;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > maxDepth) {
          context.reportError(
            tooComplex(`Query depth ${depth} exceeds the limit of ${maxDepth}`, { depth, maxDepth }),
          );
        }
      },
    };
  };
}

/** One resolved operation with its variables: what the executor will actually run. */
export interface OperationInput {
  schema: GraphQLSchema;
  operation: OperationDefinitionNode;
  fragments: Record<string, FragmentDefinitionNode>;
  /** Raw variables as sent; coerced here the way execution will coerce them. */
  variables: Record<string, unknown> | undefined;
}

interface Resolved {
  schema: GraphQLSchema;
  fragments: Record<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
}

function resolve(input: OperationInput): Resolved {
  const coerced = getVariableValues(
    input.schema,
    input.operation.variableDefinitions ?? [],
    input.variables ?? {},
  );
  // bad variables fail the request at execution; counting on the raw values meanwhile is enough
  return {
    schema: input.schema,
    fragments: input.fragments,
    variables: coerced.coerced ?? { ...(input.variables ?? {}) },
  };
}

function included(r: Resolved, node: { readonly directives?: readonly DirectiveNode[] }): boolean {
  const skip = getDirectiveValues(GraphQLSkipDirective, node, r.variables);
  if (skip?.if === true) return false;
  const include = getDirectiveValues(GraphQLIncludeDirective, node, r.variables);
  return include?.if !== false;
}

function conditionMatches(
  r: Resolved,
  fragment: InlineFragmentNode | FragmentDefinitionNode,
  type: GraphQLObjectType,
): boolean {
  if (!fragment.typeCondition) return true;
  const condition = typeFromAST(r.schema, fragment.typeCondition);
  if (condition === type) return true;
  return !!condition && isAbstractType(condition) && r.schema.isSubType(condition, type);
}

/** graphql-js's field collection: response key -> the field nodes merged under it. */
function collect(
  r: Resolved,
  type: GraphQLObjectType,
  sets: readonly SelectionSetNode[],
): Map<string, FieldNode[]> {
  const fields = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  const walk = (set: SelectionSetNode) => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (!included(r, sel)) continue;
        const key = sel.alias?.value ?? sel.name.value;
        const list = fields.get(key);
        if (list) list.push(sel);
        else fields.set(key, [sel]);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (included(r, sel) && conditionMatches(r, sel, type)) walk(sel.selectionSet);
      } else {
        const name = sel.name.value;
        if (visited.has(name) || !included(r, sel)) continue;
        visited.add(name);
        const fragment = r.fragments[name];
        if (fragment && conditionMatches(r, fragment, type)) walk(fragment.selectionSet);
      }
    }
  };
  for (const set of sets) walk(set);
  return fields;
}

function rootTypeOf(r: Resolved, operation: OperationDefinitionNode): GraphQLObjectType | undefined {
  const root =
    operation.operation === 'query'
      ? r.schema.getQueryType()
      : operation.operation === 'mutation'
        ? r.schema.getMutationType()
        : r.schema.getSubscriptionType();
  return root ?? undefined;
}

function argsOf(
  r: Resolved,
  def: GraphQLField<unknown, unknown> | undefined,
  node: FieldNode,
): Record<string, unknown> {
  if (!def) return {};
  try {
    return getArgumentValues(def, node, r.variables);
  } catch {
    // a bad argument fails the request at execution
    return {};
  }
}

export interface RootField {
  name: string;
  responseKey: string;
  args: Record<string, unknown>;
}

/** Every root field that will run, once per response key (aliases count), after fragments and directives. */
export function rootFields(input: OperationInput): RootField[] {
  const r = resolve(input);
  const root = rootTypeOf(r, input.operation);
  if (!root) return [];
  const defs = root.getFields();
  const result: RootField[] = [];
  for (const [responseKey, nodes] of collect(r, root, [input.operation.selectionSet])) {
    const name = nodes[0].name.value;
    if (name.startsWith('__')) continue;
    result.push({ name, responseKey, args: argsOf(r, defs[name], nodes[0]) });
  }
  return result;
}

export interface RootFieldsCache {
  /** rootFields, remembered for operations that declare no variables (then nothing else can change them) */
  fields(input: OperationInput): RootField[];
  /** how many times root fields were actually collected */
  readonly computed: number;
}

export function rootFieldsCache(): RootFieldsCache {
  const byOperation = new WeakMap<OperationDefinitionNode, { schema: GraphQLSchema; fields: RootField[] }>();
  let computed = 0;
  return {
    get computed() {
      return computed;
    },
    fields(input) {
      const fixed = !input.operation.variableDefinitions?.length;
      const known = fixed ? byOperation.get(input.operation) : undefined;
      if (known && known.schema === input.schema) return known.fields;
      computed++;
      const fields = rootFields(input);
      if (fixed) byOperation.set(input.operation, { schema: input.schema, fields });
      return fields;
    },
  };
}

function pageSizeOf(args: Record<string, unknown>, fallback: number): number {
  const first = args.first ?? args.limit;
  return typeof first === 'number' && Number.isFinite(first) && first >= 0 ? first : fallback;
}

/**
 * Estimated cost of an operation: each field costs 1 per parent item. A list multiplies its children by
 * its `first` (or its documented size, or DEFAULT_LIST_SIZE); a connection's `edges`/`nodes` multiply by
 * the connection field's `first`. Stops counting once past `ceiling`.
 */
export function operationCost(input: OperationInput, ceiling = Number.POSITIVE_INFINITY): number {
  const r = resolve(input);
  const root = rootTypeOf(r, input.operation);
  if (!root) return 0;
  let total = 0;
  const visit = (
    type: GraphQLObjectType,
    sets: readonly SelectionSetNode[],
    multiplier: number,
    page: number | undefined,
    depth: number,
  ) => {
    if (depth > 100) {
      total = Number.POSITIVE_INFINITY;
      return;
    }
    const defs = type.getFields();
    for (const nodes of collect(r, type, sets).values()) {
      if (total > ceiling) return;
      const name = nodes[0].name.value;
      if (name.startsWith('__')) continue;
      total += multiplier;
      const def = defs[name];
      const children = nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
      if (!def || children.length === 0) continue;
      const args = argsOf(r, def, nodes[0]);
      const documented = LIST_SIZES[`${type.name}.${name}`] ?? DEFAULT_LIST_SIZE;
      let items = 1;
      let childPage: number | undefined;
      if (isListType(getNullableType(def.type))) {
        // edges/nodes of a connection take the connection's page size
        items =
          (name === 'edges' || name === 'nodes') && page !== undefined ? page : pageSizeOf(args, documented);
      } else if (def.args.some((a) => a.name === 'first')) {
        childPage = pageSizeOf(args, documented);
      }
      const named = getNamedType(def.type);
      const runtimeTypes = isObjectType(named)
        ? [named]
        : isAbstractType(named)
          ? r.schema.getPossibleTypes(named)
          : [];
      // an abstract type costs as much as its most expensive member
      const before = total;
      let worst = 0;
      for (const runtime of runtimeTypes) {
        total = before;
        visit(runtime, children, multiplier * items, childPage, depth + 1);
        worst = Math.max(worst, total - before);
      }
      total = before + worst;
    }
  };
  visit(root, [input.operation.selectionSet], 1, undefined, 0);
  return total;
}

/** The variables that can change an operation's cost: inside `first`/`limit` and `@skip`/`@include`. */
function costVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  const collect = (node: ASTNode) =>
    visit(node, {
      Variable(variable) {
        names.add(variable.name.value);
      },
    });
  visit(document, {
    Argument(node) {
      if (node.name.value === 'first' || node.name.value === 'limit') collect(node.value);
    },
    Directive(node) {
      if (node.name.value === 'skip' || node.name.value === 'include') collect(node);
    },
  });
  return [...names].sort();
}

export interface CostCache {
  /** operationCost, remembered for this operation and these values of its cost variables */
  cost(document: DocumentNode, input: OperationInput, ceiling: number): number;
  /** how many costs were actually computed */
  readonly computed: number;
}

/**
 * Costs remembered per parsed operation (Apollo reuses one document per query text) and per value of the
 * variables that can change them: an id or a filter changes nothing, `first: $n` does. At most
 * `maxPerOperation` variants are kept for one operation.
 */
export function costCache(maxPerOperation = 256): CostCache {
  const byDocument = new WeakMap<DocumentNode, { variables: string[] }>();
  const byOperation = new WeakMap<
    OperationDefinitionNode,
    { schema: GraphQLSchema; costs: Map<string, number> }
  >();
  let computed = 0;
  return {
    get computed() {
      return computed;
    },
    cost(document, input, ceiling) {
      let doc = byDocument.get(document);
      if (!doc) {
        doc = { variables: costVariables(document) };
        byDocument.set(document, doc);
      }
      // a variable left out ([]) and one sent as null ([null]) may cost differently: defaults apply
      const values = doc.variables.map((name) =>
        input.variables && Object.hasOwn(input.variables, name) ? [input.variables[name]] : [],
      );
      const key = `${ceiling}:${JSON.stringify(values)}`;
      let entry = byOperation.get(input.operation);
      if (!entry || entry.schema !== input.schema) {
        entry = { schema: input.schema, costs: new Map() };
        byOperation.set(input.operation, entry);
      }
      const known = entry.costs.get(key);
      if (known !== undefined) return known;
      computed++;
      const cost = operationCost(input, ceiling);
      if (key.length <= 1024) {
        if (entry.costs.size >= maxPerOperation) entry.costs.clear();
        entry.costs.set(key, cost);
      }
      return cost;
    },
  };
}

/** Throws QUERY_TOO_COMPLEX when the operation, with its variables, costs more than maxCost. */
export function assertCost(
  input: OperationInput,
  maxCost: number,
  cached?: { cache: CostCache; document: DocumentNode },
): void {
  // counting stops well past the limit: fragments spread inside fragments can grow exponentially
  const ceiling = maxCost * 10;
  const cost = cached ? cached.cache.cost(cached.document, input, ceiling) : operationCost(input, ceiling);
  if (cost > maxCost) {
    const shown = Number.isFinite(cost) ? String(cost) : 'unbounded';
    throw tooComplex(`Query cost ${shown} exceeds the limit of ${maxCost}`, { maxCost });
  }
}

/** Throws BAD_USER_INPUT when one of `once` appears more than once among the root fields. */
export function assertOncePerRequest(fields: readonly RootField[], once: readonly string[]): void {
  for (const name of once) {
    const count = fields.filter((f) => f.name === name).length;
    if (count > 1) {
      const message = `${name} may appear only once per request (found ${count})`;
      throw new GraphQLError(message, {
        originalError: new AppError(ErrorCode.BadUserInput, message, { field: name }),
        extensions: { http: { status: 400 } },
      });
    }
  }
}

export interface RateHit {
  /** The rule's name, shown to the caller. */
  name: string;
  key: string;
  rule: RateLimitRule;
}

function valueAt(args: Record<string, unknown>, path: string): unknown {
  let value: unknown = args;
  for (const part of path.split('.')) {
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  return value;
}

// Emails are hashed: Redis sees neither the address nor an arbitrarily long key.
function emailKey(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.trim()) return undefined;
  return createHash('sha256').update(value.trim().toLowerCase()).digest('base64url').slice(0, 24);
}

/**
 * The buckets a request counts against: each root field with a rule once per occurrence, then the
 * read/write fallback once. Account operations count per client IP and per email whatever the token;
 * everything else counts per organisation when authenticated, else per client IP.
 */
export function rateHits(request: {
  operation: 'query' | 'mutation' | 'subscription';
  fields: readonly RootField[];
  organisationId: string | undefined;
  clientIp: string;
  rules: Readonly<Record<string, RateLimitRule>>;
  accountOperations: Readonly<Record<string, string>>;
}): RateHit[] {
  const { rules } = request;
  const subject = request.organisationId ? `org:${request.organisationId}` : `ip:${request.clientIp}`;
  const hits: RateHit[] = [];
  for (const field of request.fields) {
    const rule = rules[field.name];
    if (!rule) continue;
    const emailPath = request.accountOperations[field.name];
    if (emailPath === undefined) {
      hits.push({ name: field.name, key: `${subject}:${field.name}`, rule });
      continue;
    }
    hits.push({ name: field.name, key: `ip:${request.clientIp}:${field.name}`, rule });
    const email = emailKey(valueAt(field.args, emailPath));
    if (email) hits.push({ name: field.name, key: `email:${email}:${field.name}`, rule });
  }
  const fallback = request.operation === 'mutation' ? 'write' : 'read';
  if (rules[fallback]) hits.push({ name: fallback, key: `${subject}:${fallback}`, rule: rules[fallback] });
  return hits;
}

function canonicalIp(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let ip = value.trim();
  // "[::1]" and "1.2.3.4:5678" forms some proxies write
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(ip);
  if (bracketed) ip = bracketed[1];
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(ip)) ip = ip.slice(0, ip.lastIndexOf(':'));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1];
  return isIP(ip) ? ip.toLowerCase() : undefined;
}

/**
 * The client address of a request: the socket's, unless trusted proxies stand in front. With a hop
 * count n, the n-th X-Forwarded-For entry from the right (the one the outermost trusted proxy saw);
 * with proxy addresses, the first entry from the right that is not one of them.
 */
export function clientIpResolver(
  trust: TrustProxy,
): (socketAddress: string | undefined, forwardedFor: string | string[] | undefined) => string {
  const proxies = new BlockList();
  if (trust.kind === 'cidrs') {
    for (const c of trust.cidrs) proxies.addSubnet(c.address, c.prefix, c.family);
  }
  const trusted = (ip: string) => proxies.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  return (socketAddress, forwardedFor) => {
    const socket = canonicalIp(socketAddress) ?? 'unknown';
    if (trust.kind === 'none' || !forwardedFor) return socket;
    const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    if (trust.kind === 'hops') {
      const entry = chain[Math.max(0, chain.length - trust.hops)];
      return canonicalIp(entry) ?? socket;
    }
    if (socket === 'unknown' || !trusted(socket)) return socket;
    let client = socket;
    for (let i = chain.length - 1; i >= 0; i--) {
      const ip = canonicalIp(chain[i]);
      if (!ip) break;
      client = ip;
      if (!trusted(ip)) break;
    }
    return client;
  };
}

/** The refusal of a call over its rate limit, the same on every path (GraphQL, webhook, ingest fast path). */
export function rateLimited(name: string, rule: RateLimitRule, retryAfterSeconds: number): AppError {
  return new AppError(
    ErrorCode.RateLimited,
    `Rate limit exceeded for ${name}: at most ${rule.limit} per ${rule.windowSeconds}s`,
    { retryAfter: retryAfterSeconds },
  );
}

export interface RateDecision {
  allowed: boolean;
  remaining: number;
  retryAfterSeconds: number;
}

export interface RateLimiter {
  hit(key: string, rule: RateLimitRule): Promise<RateDecision>;
  close(): Promise<void>;
}

/** Fixed windows in memory: right for one gateway instance. */
export function memoryRateLimiter(): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [k, w] of windows) if (w.resetAt <= now) windows.delete(k);
  }, 30_000);
  sweep.unref();
  return {
    async hit(key, rule) {
      const now = Date.now();
      let w = windows.get(key);
      if (!w || w.resetAt <= now) {
        w = { count: 0, resetAt: now + rule.windowSeconds * 1000 };
        windows.set(key, w);
      }
      w.count++;
      return {
        allowed: w.count <= rule.limit,
        remaining: Math.max(0, rule.limit - w.count),
        retryAfterSeconds: Math.max(1, Math.ceil((w.resetAt - now) / 1000)),
      };
    },
    async close() {
      clearInterval(sweep);
    },
  };
}

// INCR and set the expiry in one step, so concurrent gateways share one window.
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { n, redis.call('PTTL', KEYS[1]) }`;

/** Fixed windows in Redis under `prefix`: shared by every gateway instance of one deployment. */
export function redisRateLimiter(redis: Redis, prefix = 'prospectflow:'): RateLimiter {
  return {
    async hit(key, rule) {
      const [count, ttl] = (await redis.eval(
        HIT_SCRIPT,
        1,
        `${prefix}ratelimit:${key}`,
        String(rule.windowSeconds * 1000),
      )) as [number, number];
      return {
        allowed: count <= rule.limit,
        remaining: Math.max(0, rule.limit - count),
        retryAfterSeconds: Math.max(1, Math.ceil(Math.max(ttl, 0) / 1000)),
      };
    },
    async close() {
      await redis.quit().catch(() => {});
    },
  };
}

/** The error a response over the ceiling becomes, whether cut off from a subgraph or at the gateway. */
export function responseTooLarge(maxResponseBytes: number): AppError {
  return new AppError(
    ErrorCode.QueryTooComplex,
    `Response exceeds the limit of ${maxResponseBytes} bytes: ask for fewer items (first) or fewer fields`,
    { maxResponseBytes },
  );
}
