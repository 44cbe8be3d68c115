// A request that is nothing but one `ingestPharow` mutation goes to the CRM subgraph as the client's own bytes:
// the normal path would coerce 13 MB of variables in the gateway (cost, root fields, execution) and serialise
// them again for the subgraph. Everything the gateway decides before execution is decided here the same way
// (credentials, scope, depth, cost, once-per-request, rate limits); anything unusual falls through, untouched,
// to the normal path, so that its errors keep their exact shape.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  buildSchema,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLInputType,
  type GraphQLSchema,
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  Kind,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
  specifiedRules,
  typeFromAST,
  validate,
} from 'graphql';
import { requireAccess } from '../lib/auth/identity.ts';
import { ACCOUNT_OPERATIONS, type Config } from '../lib/config.ts';
import { giveBodyBack } from '../lib/http/body.ts';
import { readPooledBody } from '../lib/http/body-pool.ts';
import { type Route, sendError, sendJson } from '../lib/http/service-server.ts';
import { type Answer, bulkHeaders, forwardWhileChecking, postBody } from './forward-body.ts';
import type { GatewayRuntime } from './gateway.ts';
import { assertCost, depthLimitRule, rateHits, rateLimited } from './limits.ts';

const FIELD = 'ingestPharow';
const MARKER = Buffer.from(FIELD);
const API_SCHEMA = new URL('../schema/api.graphql', import.meta.url);
const CRM_SCHEMA = new URL('../schema/crm.graphql', import.meta.url);
// Smaller requests (every ordinary query) are left alone without reading a byte: the fast path only pays
// off on bulk ingests, and only bodies it reads ever need handing back.
const MIN_BYTES = 256 * 1024;

/** Fields each object type has in the CRM subgraph's own schema: the selection must be answerable there. */
function crmFields(): Map<string, Set<string>> {
  const fields = new Map<string, Set<string>>();
  for (const def of parse(readFileSync(CRM_SCHEMA, 'utf8')).definitions) {
    if ((def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.OBJECT_TYPE_EXTENSION) && def.fields) {
      const set = fields.get(def.name.value) ?? new Set<string>();
      for (const f of def.fields) set.add(f.name.value);
      fields.set(def.name.value, set);
    }
  }
  return fields;
}

type Check = (value: unknown) => boolean;
const compiled = new WeakMap<GraphQLInputType, Check>();

/** A checker for one input type, built once: the type tests run here, not once per value. */
function checkerFor(type: GraphQLInputType): Check {
  const known = compiled.get(type);
  if (known) return known;
  let check: Check;
  // later references to this type (recursive input types) go through the map
  compiled.set(type, (value) => check(value));
  if (isNonNullType(type)) {
    const inner = checkerFor(type.ofType);
    check = (value) => value !== null && value !== undefined && inner(value);
  } else if (isListType(type)) {
    const item = checkerFor(type.ofType);
    check = (value) => {
      if (value === null) return true;
      if (!Array.isArray(value)) return item(value);
      for (const v of value) if (!item(v)) return false;
      return true;
    };
  } else if (isInputObjectType(type)) {
    const defs = Object.values(type.getFields());
    const names = new Set(defs.map((f) => f.name));
    const fields = defs.map((f) => ({
      name: f.name,
      required: isNonNullType(f.type) && f.defaultValue === undefined,
      check: checkerFor(f.type),
    }));
    const oneOf = type.isOneOf;
    check = (value) => {
      if (value === null) return true;
      if (typeof value !== 'object' || Array.isArray(value) || oneOf) return false;
      const record = value as Record<string, unknown>;
      for (const key in record) if (!names.has(key)) return false;
      for (const f of fields) {
        const v = record[f.name];
        if (v === undefined) {
          if (f.required) return false;
        } else if (!f.check(v)) return false;
      }
      return true;
    };
  } else {
    const leaf = type;
    check = (value) => {
      if (value === null) return true;
      try {
        return leaf.parseValue(value) !== undefined;
      } catch {
        return false;
      }
    };
  }
  compiled.set(type, check);
  return check;
}

/**
 * Whether graphql-js would accept `value` for `type` when coercing variables, without building the coerced
 * copy. False means "let the normal path coerce it and word the error".
 */
export function acceptsInput(type: GraphQLInputType, value: unknown): boolean {
  return checkerFor(type)(value);
}

interface Recognised {
  operation: OperationDefinitionNode;
  document: DocumentNode;
  field: FieldNode;
  /** The variable the mutation's `input` argument is given as. */
  inputVariable: string;
  variables: Record<string, unknown>;
}

type Fragments = Record<string, FragmentDefinitionNode>;

/**
 * The fields of a selection set with fragments spread in, or undefined when a directive or a fragment on
 * another type is involved (then the normal path decides).
 */
function flatFields(set: SelectionSetNode, type: string, fragments: Fragments): FieldNode[] | undefined {
  const fields: FieldNode[] = [];
  const walk = (s: SelectionSetNode, seen: Set<string>): boolean => {
    for (const sel of s.selections) {
      if (sel.directives?.length) return false;
      if (sel.kind === Kind.FIELD) fields.push(sel);
      else {
        const fragment = sel.kind === Kind.FRAGMENT_SPREAD ? fragments[sel.name.value] : sel;
        if (!fragment || (fragment.typeCondition && fragment.typeCondition.name.value !== type)) return false;
        if (sel.kind === Kind.FRAGMENT_SPREAD) {
          if (seen.has(sel.name.value)) return false;
          if (!walk(fragment.selectionSet, new Set([...seen, sel.name.value]))) return false;
        } else if (!walk(fragment.selectionSet, seen)) return false;
      }
    }
    return true;
  };
  return walk(set, new Set()) ? fields : undefined;
}

/**
 * The operation of the one shape served here (a lone `ingestPharow` mutation whose selection the CRM subgraph
 * answers, within the depth and cost limits), or undefined.
 */
function recogniseOperation(
  query: string,
  operationName: string | undefined,
  schema: GraphQLSchema,
  crm: Map<string, Set<string>>,
  config: Readonly<Config>,
): Omit<Recognised, 'variables'> | undefined {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return undefined;
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1 || operations[0].operation !== 'mutation') return undefined;
  const operation = operations[0];
  if (operationName && operation.name?.value !== operationName) return undefined;
  if (operation.directives?.length) return undefined;
  if (validate(schema, document, [...specifiedRules, depthLimitRule(config.limits.maxDepth)]).length > 0)
    return undefined;
  const fragments: Fragments = {};
  for (const def of document.definitions)
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  const roots = flatFields(operation.selectionSet, 'Mutation', fragments);
  if (roots?.length !== 1 || roots[0].name.value !== FIELD || roots[0].alias) return undefined;
  const field = roots[0];
  // every selected field must exist in the CRM subgraph itself, which answers the whole request
  const answerable = (type: string, set: SelectionSetNode | undefined): boolean => {
    if (!set) return true;
    const own = crm.get(type);
    const parent = schema.getType(type);
    const fields = flatFields(set, type, fragments);
    if (!own || !parent || !('getFields' in parent) || !fields) return false;
    const defs = parent.getFields();
    return fields.every((sel) => {
      const name = sel.name.value;
      if (name === '__typename') return true;
      return own.has(name) && answerable(getNamedType(defs[name].type).name, sel.selectionSet);
    });
  };
  if (!answerable('Mutation', operation.selectionSet)) return undefined;
  const input = field.arguments?.find((a) => a.name.value === 'input')?.value;
  if (input?.kind !== Kind.VARIABLE) return undefined;
  try {
    // with no directives the cost of this selection does not depend on the variables
    assertCost({ schema, operation, fragments, variables: {} }, config.limits.maxCost);
  } catch {
    return undefined;
  }
  return { operation, document, field, inputVariable: input.name.value };
}

/** The one shape served here; anything else (or anything invalid) returns undefined. */
function recognise(
  body: unknown,
  schema: GraphQLSchema,
  crm: Map<string, Set<string>>,
  config: Readonly<Config>,
): Recognised | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { query, variables = {}, operationName, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || typeof query !== 'string') return undefined;
  if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string')
    return undefined;
  const recognised = recogniseOperation(query, operationName ?? undefined, schema, crm, config);
  if (!recognised) return undefined;
  const { operation, inputVariable } = recognised;
  // variables as execution would coerce them; the data list within the item limit (the subgraph words that error)
  const values = variables as Record<string, unknown>;
  for (const def of operation.variableDefinitions ?? []) {
    const type = typeFromAST(schema, def.type) as GraphQLInputType | undefined;
    const value = values[def.variable.name.value];
    if (!type) return undefined;
    if (value === undefined) {
      if (isNonNullType(type) && !def.defaultValue) return undefined;
    } else if (!acceptsInput(type, value)) return undefined;
  }
  const data = (values[inputVariable] as { data?: unknown } | undefined)?.data;
  if (!Array.isArray(data) || data.length > config.limits.ingestMaxItems) return undefined;
  return { ...recognised, variables: values };
}

const QUERY_FIRST = /^\s*\{\s*"query"\s*:\s*"/;

/**
 * The query text at the start of a body's first bytes (clients put it first), or null when it is not there:
 * undefined while the bytes so far end inside it.
 */
export function leadingQuery(prefix: Buffer): string | null | undefined {
  const head = prefix.subarray(0, 64).toString('latin1');
  const match = QUERY_FIRST.exec(head);
  if (!match) return prefix.length < 64 ? undefined : null;
  const open = match[0].length - 1;
  for (let i = open + 1; i < prefix.length; i++) {
    const c = prefix[i];
    if (c === 0x5c) i++;
    else if (c === 0x22) {
      try {
        const query = JSON.parse(prefix.subarray(open, i + 1).toString('utf8'));
        return typeof query === 'string' ? query : null;
      } catch {
        return null;
      }
    }
  }
  return undefined;
}

function isJsonRequest(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const accept = req.headers.accept ?? '';
  // the normal path may answer application/graphql-response+json to such clients
  return type === 'application/json' && !accept.includes('application/graphql-response+json');
}

export function ingestFastPath(runtime: GatewayRuntime): Route {
  const { config } = runtime;
  const schema = buildSchema(readFileSync(API_SCHEMA, 'utf8'));
  const crm = crmFields();
  // the CRM subgraph's entry for exactly this request shape (it skips coercing the checked variables again)
  const target = new URL('/graphql/ingest-pharow', config.subgraphUrls.crm);
  const production = config.env === 'production';
  return async (req, res, requestId) => {
    if (req.method !== 'POST' || !isJsonRequest(req)) return false;
    if (!(Number(req.headers['content-length']) >= MIN_BYTES)) return false;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/graphql' && path !== '/') return false;
    const declared = Number(req.headers['content-length']);
    // an ingest caller's body goes on to the CRM subgraph as it arrives, and is checked here meanwhile
    const caller =
      declared <= config.limits.bodyBytes && !req.headers['transfer-encoding']
        ? await ingestCaller(req)
        : undefined;
    if (caller) return forwardWhileRecognising(req, res, requestId, declared, caller.organisationId);
    const pooled = await readPooledBody(req, config.limits.bodyBytes);
    try {
      return await forward(req, res, requestId, pooled.body);
    } finally {
      pooled.release();
    }
  };

  async function ingestCaller(req: IncomingMessage) {
    try {
      return requireAccess(await runtime.authenticate(req), 'ingest');
    } catch {
      return undefined;
    }
  }

  function recogniseBody(raw: Buffer): Recognised | undefined {
    if (!raw.includes(MARKER)) return undefined;
    try {
      return recognise(JSON.parse(raw.toString('utf8')), schema, crm, config);
    } catch {
      return undefined;
    }
  }

  /** False when over a rate limit, after answering 429. */
  async function withinRates(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    organisationId: string,
  ) {
    const hits = rateHits({
      operation: 'mutation',
      fields: [{ name: FIELD, responseKey: FIELD, args: {} }],
      organisationId,
      clientIp: runtime.clientIp(req),
      rules: config.limits.rates,
      accountOperations: ACCOUNT_OPERATIONS,
    });
    for (const { name, key, rule } of hits) {
      const decision = await runtime.limiter.hit(key, rule);
      if (!decision.allowed) {
        sendError(res, rateLimited(name, rule, decision.retryAfterSeconds), requestId, {
          'retry-after': String(decision.retryAfterSeconds),
        });
        return false;
      }
    }
    return true;
  }

  /**
   * The CRM subgraph reads and prepares the ingest while the body is recognised here; it writes nothing until
   * the verdict at the end of the forwarded body says go (lib/http/verdict-body.ts). Anything not recognised
   * is withdrawn there and answered by the normal path here, as before.
   */
  async function forwardWhileRecognising(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    bytes: number,
    organisationId: string,
  ): Promise<boolean> {
    // the query text comes first: a lone ingestPharow mutation in it sends the body on, once the rate limit
    // has counted it: a refused one costs the CRM subgraph nothing
    let limited = false;
    const flow = forwardWhileChecking(req, target, bulkHeaders(req, requestId), bytes, (prefix) => {
      const query = leadingQuery(prefix);
      if (query === undefined) return undefined;
      if (query === null || !recogniseOperation(query, undefined, schema, crm, config)) return false;
      return withinRates(req, res, requestId, organisationId).then((within) => {
        limited = !within;
        return within;
      });
    });
    const pooled = await flow.body;
    try {
      // answered 429 already
      if (limited) return true;
      if (!flow.forwarded()) return await forward(req, res, requestId, pooled.body);
      // parsing 13 MB holds this thread: the subgraph must have the bytes first
      await flow.sent();
      if (!recogniseBody(pooled.body)) {
        // variables the normal path words the error for, without counting the request a second time
        flow.decide(false);
        runtime.ratesCounted(req);
        giveBodyBack(req, Buffer.from(pooled.body));
        return false;
      }
      flow.decide(true);
      relay(res, requestId, await flow.answer());
      return true;
    } finally {
      pooled.release();
    }
  }

  async function forward(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    raw: Buffer,
  ): Promise<boolean> {
    let recognised = recogniseBody(raw);
    let identity: Awaited<ReturnType<GatewayRuntime['authenticate']>>;
    if (recognised) {
      try {
        identity = await runtime.authenticate(req);
        requireAccess(identity, 'ingest');
      } catch {
        // bad credentials and missing scopes are worded by the normal path
        recognised = undefined;
      }
    }
    if (!recognised || !identity) {
      // a copy: the pooled buffer serves another request once this one has been handed on
      giveBodyBack(req, Buffer.from(raw));
      return false;
    }

    if (!(await withinRates(req, res, requestId, identity.organisationId))) return true;
    relay(res, requestId, await postBody(target, bulkHeaders(req, requestId), raw));
    return true;
  }

  /** The CRM subgraph's answer, worded as the gateway words a subgraph's errors. */
  function relay(res: ServerResponse, requestId: string, upstream: Answer): void {
    const answer = JSON.parse(upstream.text) as {
      data?: Record<string, unknown> | null;
      errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
    };
    const body: Record<string, unknown> = {};
    if (answer.errors?.length) {
      // as the gateway words a subgraph's errors: its code kept, the subgraph named outside production,
      // anything unexpected masked
      body.errors = answer.errors.map((e) => {
        const code = String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
        if (code === 'INTERNAL_SERVER_ERROR')
          return {
            message: 'Internal server error',
            ...(e.path ? { path: e.path } : {}),
            extensions: { code, requestId },
          };
        const { requestId: _ignored, ...extensions } = e.extensions ?? {};
        return {
          message: e.message,
          ...(e.path ? { path: e.path } : {}),
          extensions: { code, ...extensions, ...(production ? {} : { serviceName: 'crm' }), requestId },
        };
      });
    }
    if ('data' in answer) body.data = answer.data;
    sendJson(res, 200, body, { 'x-request-id': requestId });
  }
}
