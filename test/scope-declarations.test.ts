// Every root field and every entity of the composed graph declares who may call it; none is left open.
import 'reflect-metadata';
import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import {
  type ConstDirectiveNode,
  type GraphQLSchema,
  Kind,
  type ObjectTypeDefinitionNode,
  parse,
  type StringValueNode,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { SUBGRAPHS } from '../lib/config.ts';
import { declaredRequirements } from '../lib/graphql/federation.ts';
import { buildSubgraphSchemaOnly } from '../lib/graphql/subgraph.ts';
import { SUBGRAPH_DEFINITIONS } from '../subgraphs/registry.ts';

const ROOT_TYPES = ['Query', 'Mutation', 'Subscription'];

function argument(directive: ConstDirectiveNode, name: string): string | undefined {
  const arg = directive.arguments?.find((a) => a.name.value === name);
  if (!arg) return undefined;
  return arg.value.kind === Kind.ENUM ? arg.value.value : (arg.value as StringValueNode).value;
}

let schemas: Record<string, GraphQLSchema>;
let supergraphTypes: ObjectTypeDefinitionNode[];
/** join__Graph enum value (IAM) -> subgraph name (iam) */
let graphNames: Map<string, string>;

beforeAll(async () => {
  schemas = {};
  for (const name of SUBGRAPHS) schemas[name] = await buildSubgraphSchemaOnly(SUBGRAPH_DEFINITIONS[name]);
  const composed = composeServices(
    SUBGRAPHS.map((name) => ({
      name,
      url: `http://${name}.invalid/graphql`,
      typeDefs: parse(printSubgraphSchema(schemas[name])),
    })),
  );
  expect(composed.errors ?? []).toEqual([]);
  const supergraph = parse(composed.supergraphSdl!);
  supergraphTypes = supergraph.definitions.filter(
    (d): d is ObjectTypeDefinitionNode => d.kind === Kind.OBJECT_TYPE_DEFINITION,
  );
  graphNames = new Map();
  for (const def of supergraph.definitions) {
    if (def.kind !== Kind.ENUM_TYPE_DEFINITION || def.name.value !== 'join__Graph') continue;
    for (const value of def.values ?? []) {
      const graph = value.directives?.find((d) => d.name.value === 'join__graph');
      graphNames.set(value.name.value, argument(graph!, 'name')!);
    }
  }
}, 60_000);

describe('access requirements', () => {
  it('are declared for every root field of the composed graph, in the subgraph that resolves it', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const type of supergraphTypes.filter((t) => ROOT_TYPES.includes(t.name.value))) {
      const typeGraphs = (type.directives ?? [])
        .filter((d) => d.name.value === 'join__type')
        .map((d) => argument(d, 'graph')!);
      for (const field of type.fields ?? []) {
        const joined = (field.directives ?? []).filter((d) => d.name.value === 'join__field');
        const graphs = joined.length ? joined.map((d) => argument(d, 'graph')!) : typeGraphs;
        for (const graph of graphs) {
          const subgraph = graphNames.get(graph)!;
          const name = `${type.name.value}.${field.name.value}`;
          checked++;
          if (!declaredRequirements(schemas[subgraph]).fields.get(name)?.length) {
            missing.push(`${name} (${subgraph})`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
    expect(missing, `root fields without @Authorized(...): ${missing.join(', ')}`).toEqual([]);
  });

  it('are declared for every @key entity in every subgraph that resolves its references', () => {
    const missing: string[] = [];
    const checked: string[] = [];
    for (const type of supergraphTypes) {
      for (const join of (type.directives ?? []).filter((d) => d.name.value === 'join__type')) {
        if (!argument(join, 'key')) continue;
        const resolvable = join.arguments?.find((a) => a.name.value === 'resolvable');
        if (resolvable?.value.kind === Kind.BOOLEAN && !resolvable.value.value) continue;
        const subgraph = graphNames.get(argument(join, 'graph')!)!;
        checked.push(`${type.name.value}@${subgraph}`);
        if (!declaredRequirements(schemas[subgraph]).entities.get(type.name.value)) {
          missing.push(`${type.name.value} (${subgraph})`);
        }
      }
    }
    // the references this graph is known to cross
    expect(checked).toEqual(
      expect.arrayContaining(['Position@crm', 'Position@outreach', 'Message@tracking']),
    );
    expect(missing, `entity references without access: ${missing.join(', ')}`).toEqual([]);
  });

  it('keeps an INGEST-only key to ingesting, and members out of reach of every API key', () => {
    const iam = declaredRequirements(schemas.iam);
    expect(iam.fields.get('Query.organisation')).toEqual(['read']);
    expect(iam.fields.get('Query.me')).toEqual(['user']);
    expect(iam.entities.get('User')).toBe('user');
    expect(declaredRequirements(schemas.crm).fields.get('Mutation.ingestPharow')).toEqual(['ingest']);
    expect(declaredRequirements(schemas.outreach).entities.get('Position')).toBe('read');
  });
});
