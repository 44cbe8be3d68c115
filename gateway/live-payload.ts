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

/**
 * The internal query resolving an activity's entity fields, given which ids the event carries; undefined
 * when the selection needs none (only kind and at).
 */
export function activityQuery(
  op: LiveOperation,
  present: { message: boolean; enrollment: boolean },
): PayloadQuery | undefined {
  if (!op.field.selectionSet) return undefined;
  const selections: FieldNode[] = [];
  const ids = new Set<string>();
  for (const field of fieldsOf(op, op.field.selectionSet)) {
    const entity = field.name.value as EntityField;
    if (!(entity in ENTITY_FIELDS) || !field.selectionSet) continue;
    if (entity !== 'campaign' && !present[entity]) continue;
    const { lookup, variable: id } = ENTITY_FIELDS[entity];
    ids.add(id);
    selections.push(lookupField(field.alias?.value ?? entity, lookup, id, field.selectionSet));
  }
  if (selections.length === 0) return undefined;
  const document = queryOf(op, selections, [...ids]);
  return {
    document,
    variables: (event) => ({
      ...op.variables,
      [ENTITY_FIELDS.campaign.variable]: event.campaignId,
      [ENTITY_FIELDS.message.variable]: event.messageId,
      [ENTITY_FIELDS.enrollment.variable]: event.enrollmentId,
    }),
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
