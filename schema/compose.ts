// `npm run compose`: prints each subgraph's SDL from its code and composes the supergraph, offline.
import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { composeServices } from '@apollo/composition';
import { Supergraph } from '@apollo/federation-internals';
import { printSubgraphSchema } from '@apollo/subgraph';
import { parse, printSchema } from 'graphql';
import { buildLiveSubgraphSchema, LIVE_SUBGRAPH, LIVE_SUBGRAPH_URL } from '../gateway/live-schema.ts';
import { loadConfig, SUBGRAPHS } from '../lib/config.ts';
import { buildSubgraphSchemaOnly } from '../lib/graphql/subgraph.ts';
import { SUBGRAPH_DEFINITIONS } from '../subgraphs/registry.ts';

export async function composeSupergraph(): Promise<{
  subgraphs: Record<string, string>;
  supergraph: string;
}> {
  const config = loadConfig({});
  const subgraphs: Record<string, string> = {};
  for (const name of SUBGRAPHS) {
    subgraphs[name] = printSubgraphSchema(await buildSubgraphSchemaOnly(SUBGRAPH_DEFINITIONS[name]));
  }
  // the gateway's own subscriptions, composed with the rest so every client sees one schema
  subgraphs[LIVE_SUBGRAPH] = printSubgraphSchema(buildLiveSubgraphSchema());
  const result = composeServices([
    ...SUBGRAPHS.map((name) => ({ name, url: config.subgraphUrls[name], typeDefs: parse(subgraphs[name]) })),
    { name: LIVE_SUBGRAPH, url: LIVE_SUBGRAPH_URL, typeDefs: parse(subgraphs[LIVE_SUBGRAPH]) },
  ]);
  if (result.errors?.length) {
    throw new Error(`composition failed:\n${result.errors.map((e) => e.message).join('\n')}`);
  }
  return { subgraphs, supergraph: result.supergraphSdl! };
}

/** The client-facing schema (what the gateway serves), for codegen and review. */
export function apiSchemaOf(supergraphSdl: string): string {
  return printSchema(Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = new URL('./', import.meta.url);
  const { subgraphs, supergraph } = await composeSupergraph();
  for (const [name, sdl] of Object.entries(subgraphs)) await writeFile(new URL(`${name}.graphql`, dir), sdl);
  await writeFile(new URL('supergraph.graphql', dir), supergraph);
  await writeFile(new URL('api.graphql', dir), `${apiSchemaOf(supergraph)}\n`);
  console.log(`composed ${Object.keys(subgraphs).length} subgraphs into schema/supergraph.graphql`);
}
