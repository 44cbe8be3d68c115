// The gateway's short path for the queries it answers all day. The first request of a query text goes
// through Apollo Server and Apollo Gateway as any other: parsed, validated (depth rule included) and
// planned. When its plan is one this module can run exactly as Apollo Gateway would (fetches, entity
// fetches flattened into lists, sequences and parallel groups; no @defer, no conditions, no rewrites),
// and its selections are plain (fields of object types, no fragments, no directives, no introspection),
// the plan is remembered under the query text. Later requests of the same text run that plan here:
// no request pipeline, no operation context, no per-request plan lookup, no result shaping through
// federation-internals. What the gateway's plugins do is done here too, through the same functions:
// cost, once-per-request fields and rate limits (limits.ts), operation counts. The subgraphs are called
// through the same data sources (deduplication, size budget and all). Anything unusual hands the
// request back to Apollo, which answers it as it always did: variables that do not coerce, a subgraph
// error, a value that does not fit its type, a missing field, a failing context. A hand-back after the
// limits were checked is marked, so Apollo's plugin does not count the same request twice (it raises the
// refusal found here, if any), and the subgraph answers already read are read again, not asked again.
import type { Experimental_DidResolveQueryPlanCallback, GraphQLDataSource } from '@apollo/gateway';
import { HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import {
  type DocumentNode,
  GraphQLBoolean,
  GraphQLFloat,
  GraphQLID,
  GraphQLInt,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  GraphQLString,
  getNamedType,
  getVariableValues,
  isEnumType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { isPlainJsonPost, RESPONSE_CONTENT_TYPES } from '../lib/graphql/lean-executor.ts';

type PlanInfo = Parameters<Experimental_DidResolveQueryPlanCallback>[0];
type QueryPlanNode = NonNullable<PlanInfo['queryPlan']['node']>;
type FetchPlanNode = Extract<QueryPlanNode, { kind: 'Fetch' }>;
type RequireSelection = NonNullable<FetchPlanNode['requires']>[number];

/** One field of the client's selection, as the answer prints it. */
interface ShapeField {
  key: string;
  /** `__typename`: the object type's name, printed as is */
  typename?: string;
  type: GraphQLOutputType;
  /** the selection of an object-typed field */
  fields?: ShapeField[];
}

interface Fetch {
  service: string;
  query: string;
  operationName: string | undefined;
  variableUsages: readonly string[];
  requires: readonly RequireSelection[] | undefined;
}

type Step =
  | { kind: 'fetch'; fetch: Fetch }
  | { kind: 'flatten'; path: readonly string[]; fetch: Fetch }
  | { kind: 'sequence'; steps: Step[] }
  | { kind: 'parallel'; steps: Step[] };

export interface KnownPlan {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  schema: GraphQLSchema;
  operationName: string | undefined;
  shape: ShapeField[];
  plan: Step;
}

/** What the gateway checks before running any query: cost, once-per-request fields, rate limits. */
export type LimitsCheck<TContext> = (input: {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  schema: GraphQLSchema;
  variables: Record<string, unknown> | undefined;
  context: TContext;
}) => Promise<void>;

export interface KnownPlansOptions<TContext extends object> {
  /** The data source of each subgraph by name; plans calling any other are left to Apollo. */
  sources: ReadonlyMap<string, GraphQLDataSource<TContext>>;
  limits: LimitsCheck<TContext>;
  /** Called before the first fetch of a request run here. */
  began?: (context: TContext) => void;
  /** Called when a request was answered here (operation counts). */
  answered: (plan: KnownPlan) => void;
  /**
   * Called when a request whose limits were checked here is handed back to Apollo: with the refusal when
   * they refused it (Apollo words it without counting the request again), else after they counted it.
   */
  handedBack: (context: TContext, refusal?: unknown) => void;
  /** Query texts remembered; the oldest go first. */
  maxPlans?: number;
  /** Longer query texts are left to Apollo. */
  maxQueryLength?: number;
}

export interface KnownPlans<TContext> {
  /** Apollo Gateway's plan hook: remembers the plans this module can run. */
  learn: Experimental_DidResolveQueryPlanCallback;
  /** The answer to a request of a known query text, or undefined to hand the request to Apollo. */
  run(
    request: { headers: Record<string, string | string[] | undefined>; body: unknown },
    context: () => Promise<TContext>,
  ): Promise<HTTPGraphQLResponse | undefined>;
  /** How many query texts are remembered (runnable or not). */
  readonly size: number;
}

/** A value that does not fit, or an answer that is not what the plan expects: Apollo answers instead. */
class HandBack extends Error {}
const handBack = (reason: string): never => {
  throw new HandBack(reason);
};

/** The client's selection as plain fields of object types, or undefined when it is anything else. */
function shapeOf(
  selectionSet: SelectionSetNode | undefined,
  parent: GraphQLObjectType,
): ShapeField[] | undefined {
  if (!selectionSet) return undefined;
  const fields: ShapeField[] = [];
  const keys = new Set<string>();
  for (const selection of selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.directives?.length) return undefined;
    const name = selection.name.value;
    const key = selection.alias?.value ?? name;
    // one field per response key: Apollo merges repeated keys, which this path does not do
    if (keys.has(key)) return undefined;
    keys.add(key);
    if (name === '__typename') {
      if (selection.selectionSet) return undefined;
      fields.push({ key, typename: parent.name, type: GraphQLString });
      continue;
    }
    if (name.startsWith('__')) return undefined;
    const field = parent.getFields()[name];
    if (!field) return undefined;
    const named = getNamedType(field.type);
    if (isObjectType(named)) {
      const inner = shapeOf(selection.selectionSet, named);
      if (!inner) return undefined;
      fields.push({ key, type: field.type, fields: inner });
    } else if (isLeafType(named) && !selection.selectionSet) {
      fields.push({ key, type: field.type });
    } else {
      return undefined;
    }
  }
  return fields;
}

function fetchOf(node: FetchPlanNode, requires: boolean): Fetch | undefined {
  if (
    node.operationKind !== 'query' ||
    node.hasDefers ||
    node.inputRewrites?.length ||
    node.outputRewrites?.length ||
    node.contextRewrites?.length ||
    !!node.requires?.length !== requires ||
    (requires && !node.requires!.every(plainRequire))
  )
    return undefined;
  return {
    service: node.serviceName,
    query: node.operation,
    operationName: node.operationName,
    variableUsages: node.variableUsages ?? [],
    requires: node.requires,
  };
}

/** Requirements of entity fetches as planned for object types: fields, and fragments on a type. */
function plainRequire(selection: RequireSelection): boolean {
  if (selection.kind === 'InlineFragment')
    return !!selection.typeCondition && selection.selections.every(plainRequire);
  return (selection.selections ?? []).every(plainRequire);
}

function stepOf(
  node: QueryPlanNode,
  root: boolean,
  services: ReadonlyMap<string, unknown>,
): Step | undefined {
  switch (node.kind) {
    case 'Fetch': {
      if (!root) return undefined;
      const fetch = fetchOf(node, false);
      return fetch && services.has(fetch.service) ? { kind: 'fetch', fetch } : undefined;
    }
    case 'Flatten': {
      if (node.node.kind !== 'Fetch' || !node.path.every((p) => typeof p === 'string')) return undefined;
      const fetch = fetchOf(node.node, true);
      return fetch && services.has(fetch.service)
        ? { kind: 'flatten', path: node.path as string[], fetch }
        : undefined;
    }
    case 'Sequence':
    case 'Parallel': {
      const steps: Step[] = [];
      for (const [i, child] of node.nodes.entries()) {
        // in a sequence only the first step may fetch from the root; in a parallel group, any
        const step = stepOf(child, node.kind === 'Parallel' ? root : root && i === 0, services);
        if (!step) return undefined;
        steps.push(step);
      }
      return node.kind === 'Sequence' ? { kind: 'sequence', steps } : { kind: 'parallel', steps };
    }
    default:
      return undefined;
  }
}

/** Apollo Gateway's deepMerge, for the plain JSON subgraphs answer. */
function merge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (value === undefined) continue;
    const existing = target[key];
    if (existing && isPlainObject(value) && isPlainObject(existing)) {
      merge(existing, value);
    } else if (Array.isArray(value) && Array.isArray(existing) && value.length === existing.length) {
      for (let i = 0; i < value.length; i++) {
        const a = existing[i];
        const b = value[i];
        if (isPlainObject(a) && isPlainObject(b)) merge(a, b);
        else existing[i] = b;
      }
    } else {
      target[key] = value;
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The non-null objects at `path` (`@` walks into a list), as Apollo Gateway's flattenResultsAtPath. */
function entitiesAt(
  value: unknown,
  path: readonly string[],
  at: number,
  out: Record<string, unknown>[],
): void {
  if (value === null || value === undefined) return;
  if (at === path.length) {
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && item !== undefined) entitiesAt(item, path, at, out);
    } else if (isPlainObject(value)) out.push(value);
    else handBack('an entity is not an object');
    return;
  }
  const part = path[at]!;
  if (part === '@') {
    if (!Array.isArray(value)) handBack('expected a list');
    for (const item of value as unknown[]) entitiesAt(item, path, at + 1, out);
  } else {
    if (!isPlainObject(value)) handBack('expected an object');
    entitiesAt((value as Record<string, unknown>)[part], path, at + 1, out);
  }
}

/** A representation as Apollo Gateway's executeSelectionSet builds it, for object types. */
function representationOf(source: unknown, selections: readonly RequireSelection[]): Record<string, unknown> {
  if (!isPlainObject(source)) return handBack('a representation is not an object');
  const out: Record<string, unknown> = {};
  for (const selection of selections) {
    if (selection.kind === 'InlineFragment') {
      if (source.__typename === selection.typeCondition)
        merge(out, representationOf(source, selection.selections));
      continue;
    }
    const key = selection.alias ?? selection.name;
    const value = source[key];
    if (value === undefined) return handBack('a key field is missing');
    if (Array.isArray(value)) {
      out[key] = selection.selections
        ? value.map((v) => (v === null ? null : representationOf(v, selection.selections!)))
        : value;
    } else if (selection.selections && value !== null) {
      out[key] = representationOf(value, selection.selections);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** A leaf value the way the schema prints it, else a hand-back (Apollo then reports it as it does). */
function leafFits(type: GraphQLOutputType, value: unknown): boolean {
  if (type === GraphQLString || type === GraphQLID) return typeof value === 'string';
  if (type === GraphQLInt) return Number.isInteger(value);
  if (type === GraphQLFloat) return typeof value === 'number' && Number.isFinite(value);
  if (type === GraphQLBoolean) return typeof value === 'boolean';
  if (isEnumType(type)) return typeof value === 'string' && type.getValue(value) !== undefined;
  // custom scalars: subgraphs print them, the gateway passes them on
  return value !== undefined;
}

/** The client's answer: its fields, in its order, from what the fetches gathered. */
function complete(type: GraphQLOutputType, value: unknown, fields: ShapeField[] | undefined): unknown {
  if (isNonNullType(type)) {
    if (value === null || value === undefined) return handBack('null where the schema says non-null');
    return complete(type.ofType, value, fields);
  }
  if (value === undefined) return handBack('a field is missing');
  if (value === null) return null;
  if (isListType(type)) {
    if (!Array.isArray(value)) return handBack('expected a list');
    return value.map((item) => complete(type.ofType, item, fields));
  }
  if (fields) {
    if (!isPlainObject(value)) return handBack('expected an object');
    return project(fields, value);
  }
  if (!leafFits(type, value)) handBack('a value does not fit its type');
  return value;
}

function project(fields: ShapeField[], value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    out[field.key] = field.typename ?? complete(field.type, value[field.key], field.fields);
  }
  return out;
}

export function knownPlans<TContext extends object>(
  options: KnownPlansOptions<TContext>,
): KnownPlans<TContext> {
  const { sources } = options;
  const maxPlans = options.maxPlans ?? 500;
  const maxQueryLength = options.maxQueryLength ?? 20_000;
  // null: planned once and not runnable here
  const plans = new Map<string, KnownPlan | null>();
  const keyOf = (query: string, operationName: string | undefined | null) =>
    operationName == null ? query : `${operationName}\n${query}`;

  function compile(info: PlanInfo): KnownPlan | null {
    const { requestContext, queryPlan } = info;
    const { document, operation, schema } = requestContext;
    if (!document || !operation || !queryPlan.node) return null;
    if (
      document.definitions.length !== 1 ||
      operation.operation !== 'query' ||
      operation.directives?.length ||
      operation.variableDefinitions?.some((v) => v.defaultValue || v.directives?.length)
    )
      return null;
    const queryType = schema.getQueryType();
    const shape = queryType ? shapeOf(operation.selectionSet, queryType) : undefined;
    if (!shape) return null;
    const plan = stepOf(queryPlan.node, true, sources);
    if (!plan) return null;
    return { document, operation, schema, operationName: operation.name?.value, shape, plan };
  }

  async function call(
    fetch: Fetch,
    variables: Record<string, unknown>,
    context: TContext,
    cache: { restrict(hint: { maxAge: number }): void },
  ): Promise<Record<string, unknown>> {
    const source = sources.get(fetch.service)!;
    const result = await source.process({
      kind: 'incoming operation',
      request: { query: fetch.query, variables, operationName: fetch.operationName },
      // what a data source reads of the incoming request: its kind, and the cache policy it restricts
      incomingRequestContext: { operation: { operation: 'query' }, overallCachePolicy: cache } as never,
      context,
    } as never);
    if (result.errors?.length || !isPlainObject(result.data)) return handBack('a subgraph answered errors');
    return result.data;
  }

  async function runStep(
    step: Step,
    data: Record<string, unknown>,
    given: Record<string, unknown> | undefined,
    context: TContext,
    cache: { restrict(hint: { maxAge: number }): void },
  ): Promise<void> {
    if (step.kind === 'sequence') {
      for (const s of step.steps) await runStep(s, data, given, context, cache);
      return;
    }
    if (step.kind === 'parallel') {
      await Promise.all(step.steps.map((s) => runStep(s, data, given, context, cache)));
      return;
    }
    const { fetch } = step;
    const variables: Record<string, unknown> = {};
    for (const name of fetch.variableUsages) {
      if (given && Object.hasOwn(given, name) && given[name] !== undefined) variables[name] = given[name];
    }
    if (step.kind === 'fetch') {
      merge(data, await call(fetch, variables, context, cache));
      return;
    }
    const entities: Record<string, unknown>[] = [];
    entitiesAt(data, step.path, 0, entities);
    if (!entities.length) return;
    const representations = entities.map((entity) => {
      const representation = representationOf(entity, fetch.requires!);
      if (!representation.__typename) handBack('an entity without its type');
      return representation;
    });
    const answer = await call(fetch, { ...variables, representations }, context, cache);
    const received = answer._entities;
    if (!Array.isArray(received) || received.length !== entities.length)
      return handBack('the entities answered do not match those asked');
    for (let i = 0; i < received.length; i++) {
      const entity = received[i];
      if (!isPlainObject(entity)) return handBack('an entity was not found');
      entity.__typename ??= entities[i]!.__typename;
      merge(entities[i]!, entity);
    }
  }

  return {
    get size() {
      return plans.size;
    },
    learn(info) {
      const { request } = info.requestContext;
      if (typeof request.query !== 'string' || request.query.length > maxQueryLength) return;
      const key = keyOf(request.query, request.operationName);
      if (plans.has(key)) return;
      let known: KnownPlan | null = null;
      try {
        known = compile(info);
      } catch {
        // a plan of a shape not thought of: Apollo keeps answering it
      }
      plans.set(key, known);
      if (plans.size > maxPlans) plans.delete(plans.keys().next().value as string);
    },
    async run(request, contextOf) {
      const body = request.body;
      if (
        !isPlainJsonPost(body, request.headers['content-type'], request.headers.accept) ||
        // persisted queries and any other extension are Apollo's
        (body.extensions !== undefined && body.extensions !== null)
      )
        return undefined;
      const known = plans.get(keyOf(body.query, body.operationName as string | null | undefined));
      if (!known) return undefined;
      const variables = (body.variables ?? undefined) as Record<string, unknown> | undefined;
      if (known.operation.variableDefinitions?.length) {
        const coerced = getVariableValues(known.schema, known.operation.variableDefinitions, variables ?? {});
        if (coerced.errors) return undefined;
      }
      let context: TContext;
      try {
        context = await contextOf();
      } catch {
        return undefined;
      }
      try {
        await options.limits({ ...known, variables, context });
      } catch (refusal) {
        // Apollo words the refusal
        options.handedBack(context, refusal);
        return undefined;
      }
      options.began?.(context);
      let cacheable = false;
      const cache = {
        restrict(hint: { maxAge: number }) {
          if (hint.maxAge > 0) cacheable = true;
        },
      };
      let text: string;
      try {
        const data: Record<string, unknown> = {};
        await runStep(known.plan, data, variables, context, cache);
        // a subgraph's cache hint changes the response's headers: Apollo computes those
        if (cacheable) handBack('a cacheable answer');
        text = `${JSON.stringify({ data: project(known.shape, data) })}\n`;
      } catch {
        // errors are worded, located and counted by Apollo; the limits were counted already
        options.handedBack(context);
        return undefined;
      }
      options.answered(known);
      return {
        status: 200,
        headers: new HeaderMap([
          ['content-type', RESPONSE_CONTENT_TYPES.get(request.headers.accept as string | undefined)!],
          ['cache-control', 'no-store'],
        ]),
        body: { kind: 'complete', string: text },
      };
    },
  };
}
