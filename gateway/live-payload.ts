// How a live event becomes a subscriber's payload. Apollo Gateway plans no subscriptions, so the client's
// selection under each entity-valued field is copied into an internal query (`_liveMessage(id) { …selection }`,
// keeping aliases, the fragments it reaches and the variables it uses), run through the federated graph
// with the subscriber's identity; the payload is then shaped by graphql-js over the client's own document,
// so aliases, fragments, __typename and null propagation behave as in any query.
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
import { LIVE_LOOKUPS } from './live-schema.ts';

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
  campaign: { lookup: LIVE_LOOKUPS.Campaign, variable: '_liveCampaignId' },
  message: { lookup: LIVE_LOOKUPS.Message, variable: '_liveMessageId' },
  enrollment: { lookup: LIVE_LOOKUPS.Enrollment, variable: '_liveEnrollmentId' },
} as const;
type EntityField = keyof typeof ENTITY_FIELDS;

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
  idVariable: string,
  selectionSet: SelectionSetNode,
): FieldNode {
  return {
    kind: Kind.FIELD,
    alias: name(responseKey),
    name: name(lookup),
    arguments: [{ kind: Kind.ARGUMENT, name: name('id'), value: variable(idVariable) }],
    directives: [],
    selectionSet,
  };
}

/** The query for `selections`, with the client's fragments and variable definitions it actually uses. */
function queryOf(op: LiveOperation, selections: FieldNode[], ids: string[]): DocumentNode {
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
    type: { kind: Kind.NON_NULL_TYPE, type: { kind: Kind.NAMED_TYPE, name: name('ID') } },
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

/** The entity fields one event needs, aliased apart by `prefix`, and the id variables they read. */
function activitySelections(
  op: LiveOperation,
  event: ActivityEvent,
  prefix: string,
): { selections: FieldNode[]; ids: Record<string, string | undefined> } {
  const selections: FieldNode[] = [];
  const ids: Record<string, string | undefined> = {};
  if (!op.field.selectionSet) return { selections, ids };
  const idOf: Record<EntityField, string | undefined> = {
    campaign: event.campaignId,
    message: event.messageId,
    enrollment: event.enrollmentId,
  };
  for (const field of fieldsOf(op, op.field.selectionSet)) {
    const entity = field.name.value as EntityField;
    if (!(entity in ENTITY_FIELDS) || !field.selectionSet) continue;
    // an event without a message (ENROLLMENT_CHANGED) leaves the field null, with no lookup
    if (!idOf[entity]) continue;
    const id = `${prefix}_${entity}`;
    ids[id] = idOf[entity];
    const key = field.alias?.value ?? entity;
    selections.push(lookupField(`${prefix}_${key}`, ENTITY_FIELDS[entity].lookup, id, field.selectionSet));
  }
  return { selections, ids };
}

export interface ActivityBatch {
  /** undefined when the selection needs nothing but the event's own fields (kind, at) */
  document: DocumentNode | undefined;
  variables: Record<string, unknown>;
  /** Each event's fetched fields by the client's response keys, and the errors under them. */
  split(result: ExecutionResult): { data: Record<string, unknown>; errors: GraphQLError[] }[];
}

/**
 * One internal query for several events of subscriptions with the same selection (and the same values of
 * the variables it uses): each event's lookups under their own aliases, so the query planner fetches the
 * entities of all of them together, one request per subgraph.
 */
export function activityBatch(op: LiveOperation, events: ActivityEvent[]): ActivityBatch {
  const selections: FieldNode[] = [];
  const variables: Record<string, unknown> = { ...op.variables };
  const prefixes = events.map((_, i) => `_live${i}`);
  const idNames: string[] = [];
  events.forEach((event, i) => {
    const part = activitySelections(op, event, prefixes[i]!);
    selections.push(...part.selections);
    Object.assign(variables, part.ids);
    idNames.push(...Object.keys(part.ids));
  });
  const document = selections.length ? queryOf(op, selections, idNames) : undefined;
  return {
    document,
    variables,
    split(result) {
      const parts = events.map(() => ({ data: {} as Record<string, unknown>, errors: [] as GraphQLError[] }));
      const indexOf = (key: string) => Number(/^_live(\d+)_/.exec(key)?.[1] ?? -1);
      for (const [key, value] of Object.entries(result.data ?? {})) {
        const i = indexOf(key);
        if (parts[i]) parts[i].data[key.slice(prefixes[i]!.length + 1)] = value;
      }
      for (const error of result.errors ?? []) {
        const [first, ...rest] = error.path ?? [];
        const i = typeof first === 'string' ? indexOf(first) : -1;
        const path = parts[i] ? [(first as string).slice(prefixes[i]!.length + 1), ...rest] : undefined;
        const carried = new GraphQLError(error.message, { path, extensions: error.extensions });
        // an error outside any one event's fields concerns them all
        for (const [j, part] of parts.entries()) if (j === i || i < 0) part.errors.push(carried);
      }
      return parts;
    },
  };
}

/** Which client variables an event's lookups read: subscriptions share a batch only when these agree. */
export function payloadVariables(op: LiveOperation): Record<string, unknown> {
  const probe = activityBatch(op, [
    { kind: '', at: '', campaignId: 'c', messageId: 'm', enrollmentId: 'e' },
  ]).document;
  const values: Record<string, unknown> = {};
  if (!probe) return values;
  const definition = probe.definitions[0] as OperationDefinitionNode;
  for (const d of definition.variableDefinitions ?? []) {
    const name = d.variable.name.value;
    if (name in op.variables) values[name] = op.variables[name];
  }
  return values;
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
  const campaign = lookupField('campaign', lookup, id, {
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
