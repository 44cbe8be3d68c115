// Request limits: query depth and cost (validation rules), and per-organisation rate limits.
import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import type { Redis } from 'ioredis';
import type { RateLimitRule } from '../lib/config.ts';
import { AppError, ErrorCode } from '../lib/errors.ts';

const DEFAULT_LIST_SIZE = 50;

// Apollo re-codes validation errors as GRAPHQL_VALIDATION_FAILED; formatError recovers the AppError's code.
function tooComplex(message: string, details: Record<string, number>): GraphQLError {
  return new GraphQLError(message, {
    originalError: new AppError(ErrorCode.QueryTooComplex, message, details),
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

/**
 * Rejects operations whose estimated cost exceeds maxCost. Each field costs 1 per parent item; a list
 * field multiplies its children by its `first` argument (or a default size).
 */
export function costLimitRule(maxCost: number) {
  return (context: ValidationContext): ASTVisitor => {
    const schema = context.getSchema();
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const fieldOf = (
      type: GraphQLNamedType | undefined,
      name: string,
    ): GraphQLField<unknown, unknown> | undefined =>
      type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[name] : undefined;
    // validation runs before variables are known: a `first: $n` counts as the default size
    const listSize = (field: FieldNode): number => {
      const arg = field.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'limit');
      return arg?.value.kind === Kind.INT ? Number(arg.value.value) : DEFAULT_LIST_SIZE;
    };
    const costOf = (
      set: SelectionSetNode,
      parent: GraphQLNamedType | undefined,
      multiplier: number,
      depth: number,
    ): number => {
      if (depth > 50) return Number.POSITIVE_INFINITY;
      let total = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value.startsWith('__')) continue;
          total += multiplier;
          const def = fieldOf(parent, sel.name.value);
          if (sel.selectionSet && def) {
            const inner = isListType(getNullableType(def.type)) ? listSize(sel) : 1;
            total += costOf(sel.selectionSet, getNamedType(def.type), multiplier * inner, depth + 1);
          }
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          const type = sel.typeCondition ? (schema.getType(sel.typeCondition.name.value) ?? parent) : parent;
          total += costOf(sel.selectionSet, type, multiplier, depth + 1);
        } else {
          const frag = fragments.get(sel.name.value);
          if (frag)
            total += costOf(
              frag.selectionSet,
              schema.getType(frag.typeCondition.name.value) ?? parent,
              multiplier,
              depth + 1,
            );
        }
        if (total > maxCost * 10) return total;
      }
      return total;
    };
    return {
      OperationDefinition(node) {
        const root =
          node.operation === 'query'
            ? schema.getQueryType()
            : node.operation === 'mutation'
              ? schema.getMutationType()
              : schema.getSubscriptionType();
        const cost = costOf(node.selectionSet, root ?? undefined, 1, 0);
        if (cost > maxCost) {
          context.reportError(
            tooComplex(`Query cost ${cost} exceeds the limit of ${maxCost}`, { cost, maxCost }),
          );
        }
      },
    };
  };
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

/** Fixed windows in Redis: shared by every gateway instance. */
export function redisRateLimiter(redis: Redis): RateLimiter {
  return {
    async hit(key, rule) {
      const [count, ttl] = (await redis.eval(
        HIT_SCRIPT,
        1,
        `ratelimit:${key}`,
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

/** The buckets an operation counts against: its own named root fields, then the read/write fallback. */
export function rateBuckets(
  operation: 'query' | 'mutation' | 'subscription',
  rootFields: string[],
  rules: Record<string, RateLimitRule>,
): { name: string; rule: RateLimitRule }[] {
  const buckets = rootFields.filter((f) => rules[f]).map((name) => ({ name, rule: rules[name] }));
  const fallback = operation === 'mutation' ? 'write' : 'read';
  if (rules[fallback]) buckets.push({ name: fallback, rule: rules[fallback] });
  return buckets;
}
