// type-graphql classes -> a federation 2 subgraph schema (with __resolveReference per entity).
import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import type { EntityName } from '@mikro-orm/postgresql';
import { type GraphQLSchema, parse } from 'graphql';
import { buildSchema, createResolversMap, type NonEmptyArray } from 'type-graphql';
import { requireAccess } from '../auth/identity.ts';
import { isUuid } from '../db/orm.ts';
import { byKeys, type RequestContext } from './context.ts';
import { DateTimeScalar, JSONScalar } from './scalars.ts';

const FEDERATION_IMPORTS = [
  '@key',
  '@shareable',
  '@external',
  '@requires',
  '@provides',
  '@extends',
  '@inaccessible',
];

export type ReferenceResolvers = Record<string, { __resolveReference: (ref: any, context: any) => unknown }>;

export async function buildFederatedSchema(options: {
  resolvers: NonEmptyArray<Function>;
  orphanedTypes?: Function[];
  references?: ReferenceResolvers;
  /** Plain field resolvers that replace type-graphql's for hot paths (no copying of args into class instances). */
  overrides?: Record<string, Record<string, (root: any, args: any, context: any) => unknown>>;
}): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: options.resolvers,
    orphanedTypes: options.orphanedTypes,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    skipCheck: true,
    validate: false,
    emitSchemaFile: false,
  });
  const sdl = printSchemaWithDirectives(schema);
  const typeDefs = parse(
    `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ${JSON.stringify(FEDERATION_IMPORTS)})\n${sdl}`,
  );
  const resolvers: Record<string, any> = createResolversMap(schema);
  resolvers.DateTime = DateTimeScalar;
  if (resolvers.JSON) resolvers.JSON = JSONScalar;
  for (const extra of [options.references ?? {}, options.overrides ?? {}]) {
    for (const [typeName, fields] of Object.entries(extra)) {
      resolvers[typeName] = { ...(resolvers[typeName] ?? {}), ...fields };
    }
  }
  return buildSubgraphSchema({ typeDefs, resolvers });
}

/** `__resolveReference` for an entity by id: readers only, one query per type per request (DataLoader). */
export function entityReference<T extends { id: string }>(
  name: string,
  entity: EntityName<T>,
  populate: string[] = [],
) {
  return {
    __resolveReference: async (ref: { id: string }, ctx: RequestContext) => {
      requireAccess(ctx.identity, 'read');
      if (!isUuid(ref.id)) return null;
      return ctx
        .loader<string, T>(name, async (ids, em) => {
          const rows = await em.find(entity, { id: { $in: [...ids] } } as any, { populate: populate as any });
          return byKeys(ids, rows as T[], (r) => r.id);
        })
        .load(ref.id);
    },
  };
}
