// Reading the plain shapes of query a subgraph may answer straight from PostgreSQL (lean-executor's direct
// answers): fields with no directives, no fragments spread and no response key twice. Anything else is
// undefined, and the query is executed as usual.
import { type ArgumentNode, Kind, type SelectionSetNode, type ValueNode } from 'graphql';

/** One selected field: the key it answers under, its name, its arguments, its own selection. */
export interface PlainField {
  key: string;
  name: string;
  arguments: readonly ArgumentNode[];
  selectionSet: SelectionSetNode | undefined;
}

/**
 * The fields of a selection set, when every one is a plain field (or, with `typeCondition`, an inline
 * fragment on exactly that type holding plain fields) with a response key of its own.
 */
export function plainFields(
  selectionSet: SelectionSetNode | undefined,
  typeCondition?: string,
): PlainField[] | undefined {
  if (!selectionSet) return undefined;
  const fields: PlainField[] = [];
  const keys = new Set<string>();
  for (const selection of selectionSet.selections) {
    if (selection.directives?.length) return undefined;
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (typeCondition === undefined || selection.typeCondition?.name.value !== typeCondition)
        return undefined;
      const inner = plainFields(selection.selectionSet);
      if (!inner) return undefined;
      for (const field of inner) {
        if (keys.has(field.key)) return undefined;
        keys.add(field.key);
        fields.push(field);
      }
      continue;
    }
    if (selection.kind !== Kind.FIELD) return undefined;
    const key = selection.alias?.value ?? selection.name.value;
    if (keys.has(key)) return undefined;
    keys.add(key);
    fields.push({
      key,
      name: selection.name.value,
      arguments: selection.arguments ?? [],
      selectionSet: selection.selectionSet,
    });
  }
  return fields;
}

/** Leaf fields only, each one a column the caller knows (`columns[name]`, an SQL expression), or undefined. */
export function leafColumns(
  fields: readonly PlainField[] | undefined,
  columns: Readonly<Record<string, string>>,
): { key: string; sql: string }[] | undefined {
  if (!fields) return undefined;
  const out: { key: string; sql: string }[] = [];
  for (const field of fields) {
    if (field.selectionSet || field.arguments.length || !Object.hasOwn(columns, field.name)) return undefined;
    out.push({ key: field.key, sql: columns[field.name]! });
  }
  return out;
}

/** `json_build_object('key', expr, …)`; keys are GraphQL names ([_A-Za-z][_0-9A-Za-z]*), safe as literals. */
export function jsonObjectSql(entries: readonly { key: string; sql: string }[]): string {
  return `json_build_object(${entries.map((e) => `'${e.key}', ${e.sql}`).join(', ')})`;
}

/** An argument's value: a literal as is, a variable from the request's variables; `missing` when absent. */
export function argumentValue(
  args: readonly ArgumentNode[],
  name: string,
  variables: Record<string, unknown> | undefined,
): { value: unknown } | undefined {
  const arg = args.find((a) => a.name.value === name);
  if (!arg) return undefined;
  return { value: literalOrVariable(arg.value, variables) };
}

function literalOrVariable(node: ValueNode, variables: Record<string, unknown> | undefined): unknown {
  switch (node.kind) {
    case Kind.VARIABLE:
      return variables?.[node.name.value];
    case Kind.INT:
      return Number(node.value);
    case Kind.STRING:
      return node.value;
    case Kind.NULL:
      return null;
    case Kind.BOOLEAN:
      return node.value;
    default:
      // lists, objects, enums and floats: no direct answer reads them
      return UNREAD;
  }
}

/** A value no direct answer takes: the planner's checks refuse it, and execution answers. */
export const UNREAD: unique symbol = Symbol('unread');
