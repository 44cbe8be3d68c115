// How a live event becomes a subscriber's payload. Apollo Gateway plans no subscriptions, so the client's
// selection under each entity-valued field is copied into an internal query (`_liveMessages(ids) { …selection }`,
// keeping aliases, the fragments it reaches and the variables it uses), run through the federated graph
// with the subscriber's identity for all the events of a moment at once; each event's payload is then
// shaped by graphql-js over the client's own document, so aliases, fragments, __typename and null
// propagation behave as in any query.
import {
  type DocumentNode,
  type ExecutionResult,
  execute,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLFieldResolver,
  GraphQLIncludeDirective,
  type GraphQLSchema,
  GraphQLSkipDirective,
  getDirectiveValues,
  Kind,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  type VariableDefinitionNode,
  visit,
} from 'graphql';
import { LIVE_LIST_LOOKUPS, LIVE_LOOKUPS } from './live-schema.ts';

export type LiveField = 'campaignActivity' | 'campaignStats';

/** One checked subscription: its document, the operation, its one root field and the variables. */
export interface LiveOperation {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  field: FieldNode;
  fieldName: LiveField;
  responseKey: string;
  variables: Record<string, unknown>;
  fragments: Record<string, FragmentDefinitionNode>;
}

/** The event-side of an activity: ids of what it is about. */
export interface ActivityEvent {
  kind: string;
  at: string;
  campaignId: string;
  messageId?: string;
  enrollmentId?: string;
}

const ENTITY_FIELDS = {
  campaign: { lookup: LIVE_LOOKUPS.Campaign, list: LIVE_LIST_LOOKUPS.Campaign, variable: '_liveCampaignId' },
  message: { lookup: LIVE_LOOKUPS.Message, list: LIVE_LIST_LOOKUPS.Message, variable: '_liveMessageId' },
  enrollment: {
    lookup: LIVE_LOOKUPS.Enrollment,
    list: LIVE_LIST_LOOKUPS.Enrollment,
    variable: '_liveEnrollmentId',
  },
} as const;
type EntityField = keyof typeof ENTITY_FIELDS;
const ENTITIES = Object.keys(ENTITY_FIELDS) as EntityField[];
/** The list variable of one entity's ids in the batched query. */
const idsVariable = (entity: EntityField) => `${ENTITY_FIELDS[entity].variable}s`;

function included(
  node: { readonly directives?: readonly any[] },
  variables: Record<string, unknown>,
): boolean {
  if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
}

/** The fields selected on `set`, with fragments flattened and @skip/@include already decided. */
function fieldsOf(op: LiveOperation, set: SelectionSetNode): FieldNode[] {
  const out: FieldNode[] = [];
  const seen = new Set<string>();
  const walk = (selections: readonly SelectionNode[]) => {
    for (const sel of selections) {
      if (!included(sel, op.variables)) continue;
      if (sel.kind === Kind.FIELD) out.push(sel);
      else if (sel.kind === Kind.INLINE_FRAGMENT) walk(sel.selectionSet.selections);
      else if (!seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        const fragment = op.fragments[sel.name.value];
        if (fragment) walk(fragment.selectionSet.selections);
      }
    }
  };
  walk(set.selections);
  return out;
}

const name = (value: string) => ({ kind: Kind.NAME, value }) as const;
const variable = (value: string) => ({ kind: Kind.VARIABLE, name: name(value) }) as const;

function lookupField(
  responseKey: string,
  lookup: string,
  argument: 'id' | 'ids',
  idVariable: string,
  selectionSet: SelectionSetNode,
): FieldNode {
  return {
    kind: Kind.FIELD,
    alias: name(responseKey),
    name: name(lookup),
    arguments: [{ kind: Kind.ARGUMENT, name: name(argument), value: variable(idVariable) }],
    directives: [],
    selectionSet,
  };
}

const ID_TYPE = { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: name('ID') } } as const;
const ID_LIST_TYPE = { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.LIST_TYPE, type: ID_TYPE } } as const;

/** The query for `selections`, with the client's fragments and variable definitions it actually uses. */
function queryOf(
  op: LiveOperation,
  selections: FieldNode[],
  ids: string[],
  type: typeof ID_TYPE | typeof ID_LIST_TYPE = ID_TYPE,
): DocumentNode {
  const usedFragments = new Set<string>();
  const usedVariables = new Set<string>();
  const pending: (FieldNode | FragmentDefinitionNode)[] = [...selections];
  while (pending.length) {
    visit(pending.pop()!, {
      FragmentSpread(node) {
        if (usedFragments.has(node.name.value)) return;
        usedFragments.add(node.name.value);
        const fragment = op.fragments[node.name.value];
        if (fragment) pending.push(fragment);
      },
      Variable(node) {
        usedVariables.add(node.name.value);
      },
    });
  }
  const idDefinitions: VariableDefinitionNode[] = ids.map((id) => ({
    kind: Kind.VARIABLE_DEFINITION,
    variable: variable(id),
    type,
  }));
  const clientDefinitions = (op.operation.variableDefinitions ?? []).filter(
    (d) => usedVariables.has(d.variable.name.value) && !ids.includes(d.variable.name.value),
  );
  return {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: 'query' as any,
        name: name('LivePayload'),
        variableDefinitions: [...idDefinitions, ...clientDefinitions],
        directives: [],
        selectionSet: { kind: Kind.SELECTION_SET, selections },
      },
      ...[...usedFragments].flatMap((f) => (op.fragments[f] ? [op.fragments[f]] : [])),
    ],
  };
}

export interface PayloadQuery {
  document: DocumentNode;
  variables: (event: ActivityEvent) => Record<string, unknown>;
}

/** One entity field of the client's selection, fetched under an internal alias. */
interface EntitySelection {
  entity: EntityField;
  /** the client's response key */
  key: string;
  alias: string;
}

/**
 * The internal query of one subscription's activity payloads: one list lookup per entity field the client
 * selects, taking the ids of every event of the batch. Its document does not depend on how many events a
 * batch holds, so it is planned once and the plan serves every later batch.
 */
export interface ActivityQuery {
  /** undefined when the selection needs nothing but the event's own fields (kind, at) */
  document: DocumentNode | undefined;
  /** The client variables the lookups read: subscriptions share a batch only when these agree. */
  variables: Record<string, unknown>;
  fields: EntitySelection[];
}

export function activityQuery(op: LiveOperation): ActivityQuery {
  const fields: EntitySelection[] = [];
  const selections: FieldNode[] = [];
  const used = new Set<EntityField>();
  if (op.field.selectionSet) {
    for (const field of fieldsOf(op, op.field.selectionSet)) {
      const entity = field.name.value as EntityField;
      if (!(entity in ENTITY_FIELDS) || !field.selectionSet) continue;
      const key = field.alias?.value ?? entity;
      const alias = `_live_${key}`;
      used.add(entity);
      // the same response key twice (`message { a } message { b }`) merges, as in the client's query
      if (!fields.some((f) => f.alias === alias)) fields.push({ entity, key, alias });
      selections.push(
        lookupField(alias, ENTITY_FIELDS[entity].list, 'ids', idsVariable(entity), field.selectionSet),
      );
    }
  }
  if (!selections.length) return { document: undefined, variables: {}, fields };
  const document = queryOf(
    op,
    selections,
    ENTITIES.filter((e) => used.has(e)).map(idsVariable),
    ID_LIST_TYPE,
  );
  const variables: Record<string, unknown> = {};
  const definition = document.definitions[0] as OperationDefinitionNode;
  for (const d of definition.variableDefinitions ?? []) {
    const name = d.variable.name.value;
    if (name in op.variables) variables[name] = op.variables[name];
  }
  return { document, variables, fields };
}

export interface ActivityBatch {
  variables: Record<string, unknown>;
  /** Each event's fetched fields by the client's response keys, and the errors under them. */
  split(result: ExecutionResult): { data: Record<string, unknown>; errors: GraphQLError[] }[];
}

/**
 * The variables of one run of `query` for `events` (each distinct id looked up once), and how its result
 * splits back into each event's part. An event without a message (ENROLLMENT_CHANGED) leaves the field
 * null, with no lookup.
 */
export function activityBatch(query: ActivityQuery, events: ActivityEvent[]): ActivityBatch {
  const variables: Record<string, unknown> = { ...query.variables };
  // per entity: the ids in lookup order, and each event's index among them (-1: none)
  const positions = {} as Record<EntityField, number[]>;
  for (const entity of new Set(query.fields.map((f) => f.entity))) {
    const ids: string[] = [];
    const index = new Map<string, number>();
    positions[entity] = events.map((event) => {
      const id = entity === 'campaign' ? event.campaignId : event[`${entity}Id`];
      if (!id) return -1;
      let i = index.get(id);
      if (i === undefined) {
        i = ids.push(id) - 1;
        index.set(id, i);
      }
      return i;
    });
    variables[idsVariable(entity)] = ids;
  }
  return {
    variables,
    split(result) {
      const parts = events.map(() => ({ data: {} as Record<string, unknown>, errors: [] as GraphQLError[] }));
      const data = (result.data ?? {}) as Record<string, unknown>;
      for (const field of query.fields) {
        const list = data[field.alias];
        const at = positions[field.entity];
        parts.forEach((part, e) => {
          if (at[e]! < 0) return;
          part.data[field.key] = Array.isArray(list) ? (list[at[e]!] ?? null) : null;
        });
      }
      for (const error of result.errors ?? []) {
        const [first, position, ...rest] = error.path ?? [];
        const field = query.fields.find((f) => f.alias === first);
        const at = field ? positions[field.entity] : undefined;
        parts.forEach((part, e) => {
          if (!field || !at) {
            // an error outside any one entity's fields concerns every event
            part.errors.push(new GraphQLError(error.message, { extensions: error.extensions }));
            return;
          }
          if (at[e]! < 0) return;
          // an error under one item belongs to the events of that id; one on the whole list, to all of them
          if (typeof position === 'number' && position !== at[e]) return;
          const path = typeof position === 'number' ? [field.key, ...rest] : [field.key];
          part.errors.push(new GraphQLError(error.message, { path, extensions: error.extensions }));
        });
      }
      return parts;
    },
  };
}

/** The internal query reading a campaign's current stats with the subscription's selection. */
export function statsQuery(op: LiveOperation): PayloadQuery {
  const { lookup, variable: id } = ENTITY_FIELDS.campaign;
  const stats: FieldNode = {
    kind: Kind.FIELD,
    name: name('stats'),
    arguments: [],
    directives: [],
    selectionSet: op.field.selectionSet,
  };
  const campaign = lookupField('campaign', lookup, 'id', id, {
    kind: Kind.SELECTION_SET,
    selections: [stats],
  });
  return {
    document: queryOf(op, [campaign], [id]),
    variables: (event) => ({ ...op.variables, [id]: event.campaignId }),
  };
}

// event fields are read by name; everything fetched is keyed by response key, aliases included
const fromSource: GraphQLFieldResolver<any, unknown> = (source, _args, _context, info) => {
  if (source === null || typeof source !== 'object') return undefined;
  if (info.parentType.name === 'CampaignActivity' && (info.fieldName === 'kind' || info.fieldName === 'at')) {
    return source[info.fieldName];
  }
  return source[info.path.key];
};

/**
 * The subscriber's payload: the client's document executed over `value` (what the root field resolves
 * to). Errors of the internal query are carried over under the root field's path.
 */
export function shapePayload(
  schema: GraphQLSchema,
  op: LiveOperation,
  value: unknown,
  errors: readonly { message: string; path?: readonly (string | number)[]; extensions?: any }[] = [],
): ExecutionResult {
  const result = execute({
    schema,
    document: op.document,
    operationName: op.operation.name?.value,
    rootValue: { [op.responseKey]: value },
    variableValues: op.variables,
    fieldResolver: fromSource,
  }) as ExecutionResult;
  if (!errors.length) return result;
  const carried = errors.map(
    (e) =>
      new GraphQLError(e.message, { path: [op.responseKey, ...(e.path ?? [])], extensions: e.extensions }),
  );
  return { ...result, errors: [...carried, ...(result.errors ?? [])] } as ExecutionResult;
}
