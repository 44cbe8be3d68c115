// type-graphql classes -> a federation 2 subgraph schema (with __resolveReference per entity).
import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import type { EntityName } from '@mikro-orm/postgresql';
import { type DocumentNode, type GraphQLSchema, Kind, parse } from 'graphql';
import { buildSchema, createResolversMap, getMetadataStorage, type NonEmptyArray } from 'type-graphql';
import {
  authChecker,
  checkRequirement,
  isRequirement,
  type Requirement,
  requireIdentity,
} from '../auth/identity.ts';
import { isUuid } from '../db/orm.ts';
import { forbidden } from '../errors.ts';
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

/** An entity reference: `access` is checked before the resolver runs, so no reference can forget it. */
export interface ReferenceDefinition {
  access: Requirement;
  __resolveReference: (ref: any, context: any) => unknown;
}

export type ReferenceResolvers = Record<string, ReferenceDefinition>;

const ROOT_TYPES = ['Query', 'Mutation', 'Subscription'] as const;

/** What each root field (`Query.positions`) and each entity (`Position`) of a built subgraph demands. */
export interface DeclaredRequirements {
  fields: Map<string, Requirement[]>;
  entities: Map<string, Requirement>;
}

const declared = new WeakMap<GraphQLSchema, DeclaredRequirements>();

/** The requirements declared for a schema built by buildFederatedSchema (empty for any other schema). */
export function declaredRequirements(schema: GraphQLSchema): DeclaredRequirements {
  return declared.get(schema) ?? { fields: new Map(), entities: new Map() };
}

/** Root fields' `@Authorized(...)` requirements, read from type-graphql's metadata of these resolvers. */
function rootFieldRequirements(resolvers: readonly Function[]): Map<string, Requirement[]> {
  const storage = getMetadataStorage();
  const targets = new Set(resolvers);
  const fields = new Map<string, Requirement[]>();
  const byRoot = { Query: storage.queries, Mutation: storage.mutations, Subscription: storage.subscriptions };
  for (const root of ROOT_TYPES) {
    for (const def of byRoot[root]) {
      if (!targets.has(def.target) || !def.roles?.length) continue;
      const roles = def.roles as unknown[];
      const bad = roles.find((r) => !isRequirement(r));
      if (bad !== undefined)
        throw new Error(`${root}.${def.schemaName} declares an unknown requirement: ${bad}`);
      fields.set(`${root}.${def.schemaName}`, roles as Requirement[]);
    }
  }
  return fields;
}

/** Root fields and `@key` entity types as the subgraph's SDL declares them. */
function schemaSurface(typeDefs: DocumentNode): { rootFields: string[]; entities: string[] } {
  const rootFields: string[] = [];
  const entities: string[] = [];
  for (const def of typeDefs.definitions) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    if ((ROOT_TYPES as readonly string[]).includes(def.name.value)) {
      for (const field of def.fields ?? []) rootFields.push(`${def.name.value}.${field.name.value}`);
    }
    if (def.directives?.some((d) => d.name.value === 'key')) entities.push(def.name.value);
  }
  return { rootFields, entities };
}

/**
 * type-graphql gives every field a resolver that allocates per call, and turns the parent into an instance
 * of its class before reading a getter (an ORM entity's constructor, for rows read as plain objects). A
 * field with no access rule and no middleware needs none of that: plain properties get graphql-js's default
 * resolver, getters are called on the parent as it is. Type names several classes share are left alone
 * unless every one of them agrees that a property is plain.
 */
function streamlineFields(resolvers: Record<string, any>): void {
  const storage = getMetadataStorage() as unknown as {
    objectTypes: { name: string; target: Function; fields?: FieldMeta[] }[];
    fieldResolvers: { kind: string; target: Function; schemaName: string; getObjectType?: () => Function }[];
  };
  interface FieldMeta {
    name: string;
    schemaName: string;
    roles?: unknown[];
    middlewares?: unknown[];
  }
  const resolved = new Set<string>();
  const classesByName = new Map<string, Function[]>();
  for (const type of storage.objectTypes) {
    classesByName.set(type.name, [...(classesByName.get(type.name) ?? []), type.target]);
  }
  const classNames = new Map<Function, string>(storage.objectTypes.map((t) => [t.target, t.name]));
  for (const r of storage.fieldResolvers) {
    const target = r.kind === 'external' ? r.getObjectType?.() : r.target;
    const name = target && classNames.get(target);
    if (name) resolved.add(`${name}.${r.schemaName}`);
  }
  for (const type of storage.objectTypes) {
    const fields = resolvers[type.name];
    if (!fields || typeof fields !== 'object') continue;
    const shared = (classesByName.get(type.name)?.length ?? 0) > 1;
    for (const field of type.fields ?? []) {
      if (field.roles?.length || field.middlewares?.length || !(field.schemaName in fields)) continue;
      if (!resolved.has(`${type.name}.${field.schemaName}`)) {
        if (field.name === field.schemaName) delete fields[field.schemaName];
        continue;
      }
      if (shared) continue;
      const getter = Object.getOwnPropertyDescriptor(type.target.prototype, field.name)?.get;
      if (getter) fields[field.schemaName] = (root: unknown) => getter.call(root);
    }
  }
}

function refuse(what: string) {
  return () => {
    throw forbidden(`${what} declares no access requirement`);
  };
}

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
    authChecker,
    skipCheck: true,
    validate: false,
    emitSchemaFile: false,
  });
  const sdl = printSchemaWithDirectives(schema);
  const typeDefs = parse(
    `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ${JSON.stringify(FEDERATION_IMPORTS)})\n${sdl}`,
  );
  const resolvers: Record<string, any> = createResolversMap(schema);
  streamlineFields(resolvers);
  resolvers.DateTime = DateTimeScalar;
  if (resolvers.JSON) resolvers.JSON = JSONScalar;
  const fieldRequirements = rootFieldRequirements(options.resolvers);
  for (const [typeName, fields] of Object.entries(options.overrides ?? {})) {
    for (const [fieldName, resolve] of Object.entries(fields)) {
      // a replacement resolver skips type-graphql's middleware, so the declared requirement is checked here
      const requirements = fieldRequirements.get(`${typeName}.${fieldName}`);
      resolvers[typeName] = {
        ...(resolvers[typeName] ?? {}),
        [fieldName]: requirements
          ? (root: unknown, args: unknown, ctx: RequestContext, info: unknown) => {
              for (const r of requirements) checkRequirement(ctx.identity, r);
              return (resolve as any)(root, args, ctx, info);
            }
          : resolve,
      };
    }
  }
  const surface = schemaSurface(typeDefs);
  // Fail closed: a root field without a declared requirement answers FORBIDDEN to everyone.
  for (const name of surface.rootFields) {
    if (fieldRequirements.has(name)) continue;
    const [typeName, fieldName] = name.split('.');
    const deny = refuse(name);
    resolvers[typeName] = {
      ...(resolvers[typeName] ?? {}),
      [fieldName]: typeName === 'Subscription' ? { subscribe: deny, resolve: deny } : deny,
    };
  }
  const entities = new Map<string, Requirement>();
  for (const typeName of surface.entities) {
    const reference = options.references?.[typeName];
    if (!reference || !isRequirement(reference.access)) {
      // without this, the subgraph would echo any representation back as an entity
      resolvers[typeName] = { ...(resolvers[typeName] ?? {}), __resolveReference: refuse(typeName) };
      continue;
    }
    const { access, __resolveReference } = reference;
    entities.set(typeName, access);
    resolvers[typeName] = {
      ...(resolvers[typeName] ?? {}),
      __resolveReference: (ref: unknown, ctx: RequestContext, info: unknown) => {
        checkRequirement(ctx.identity, access);
        return (__resolveReference as any)(ref, ctx, info);
      },
    };
  }
  const built = buildSubgraphSchema({ typeDefs, resolvers });
  declared.set(built, { fields: fieldRequirements, entities });
  return built;
}

/** A reference by id, batched into one read per type per request; `read` gets the rows of the ids asked for. */
function batchedReference<T extends { id: string }>(
  name: string,
  access: Requirement,
  read: (ids: readonly string[], ctx: RequestContext) => Promise<T[]>,
): ReferenceDefinition {
  return {
    access,
    __resolveReference: async (ref: { id: string }, ctx: RequestContext) => {
      if (!isUuid(ref.id)) return null;
      return ctx
        .sqlLoader<string, T>(name, async (ids) => byKeys(ids, await read(ids, ctx), (r) => r.id))
        .load(ref.id);
    },
  };
}

/**
 * An entity reference by id (readers by default), one statement per type per request, read as plain rows
 * of the entity's columns (lib/db/entity-rows.ts) without the ORM.
 */
export function entityReference<T extends { id: string }>(
  name: string,
  entity: EntityName<T>,
  access: Requirement = 'read',
): ReferenceDefinition {
  return batchedReference<T>(name, access, (ids, ctx) =>
    ctx.entityRows(entity, 't.id = ANY($1::uuid[])', [ids]),
  );
}

/**
 * An entity reference read with plain SQL, one statement per type per request, without the ORM: for
 * references on hot paths. `$1` is the uuid[] of requested ids, `$2` the caller's organisation, which the
 * statement must compare with organisation_id (the first wall; row-level security is the second). Readers by default.
 */
export function sqlReference<Row, T extends { id: string }>(
  name: string,
  sql: string,
  toEntity: (row: Row) => T,
  access: Requirement = 'read',
): ReferenceDefinition {
  return batchedReference<T>(name, access, async (ids, ctx) =>
    (await ctx.sql<Row>(sql, [ids, requireIdentity(ctx.identity).organisationId])).map(toEntity),
  );
}
