// One MikroORM instance per subgraph, mapping only that subgraph's schema, logged in as its service role.

import type { Knex } from '@mikro-orm/knex';
import { type EntityManager, MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';

export type { EntityManager };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export interface OrmOptions {
  /** The service's own URL (serviceDatabaseUrl): never the owner's. */
  databaseUrl: string;
  schema: string;
  entities: Function[];
  /** Entity names that carry organisation_id and get the tenant filter. */
  tenantEntities: string[];
  poolMax?: number;
}

export async function createOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: options.databaseUrl,
    schema: options.schema,
    entities: options.entities,
    // The ORM reads host, user and password from the URL but drops its query string.
    driverOptions: {
      connection: {
        application_name: new URL(options.databaseUrl).searchParams.get('application_name') ?? undefined,
      },
    },
    pool: { min: 0, max: options.poolMax ?? 10 },
    allowGlobalContext: false,
    discovery: { warnWhenNoEntities: false },
    ensureDatabase: false,
    debug: false,
    filters: {
      // First wall: every ORM query is scoped; a missing parameter throws (fails closed). RLS is the second wall.
      tenant: {
        cond: (args: { id: string }) => ({ organisationId: args.id }),
        entity: options.tenantEntities,
        default: true,
      },
    },
  });
}

/** Raw SQL on the em's transaction connection, with arrays bound properly (knex `?` placeholders). */
export async function rawQuery<T = Record<string, unknown>>(
  em: EntityManager,
  sql: string,
  bindings: readonly unknown[] = [],
): Promise<T[]> {
  const trx = em.getTransactionContext<Knex.Transaction>();
  const knex = trx ?? em.getKnex();
  const result = await knex.raw(sql, bindings as Knex.RawBinding[]);
  return result.rows as T[];
}

export interface TenantScope {
  em: EntityManager;
  organisationId: string;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** A forked em inside one transaction whose RLS setting and ORM filter name the organisation. */
export async function openTenantScope(orm: MikroORM, organisationId: string): Promise<TenantScope> {
  if (!isUuid(organisationId)) throw new Error('organisation id must be a UUID');
  const em = orm.em.fork({ clear: true });
  em.setFilterParams('tenant', { id: organisationId });
  await em.begin();
  try {
    await rawQuery(em, "SELECT set_config('app.organisation_id', ?, true)", [organisationId]);
  } catch (error) {
    await em.rollback();
    throw error;
  }
  let done = false;
  return {
    em,
    organisationId,
    commit: async () => {
      if (done) return;
      done = true;
      await em.commit();
    },
    rollback: async () => {
      if (done) return;
      done = true;
      await em.rollback();
    },
  };
}

/** Runs fn in a tenant transaction: commit on success, rollback on any error. */
export async function withTenant<T>(
  orm: MikroORM,
  organisationId: string,
  fn: (em: EntityManager) => Promise<T>,
): Promise<T> {
  const scope = await openTenantScope(orm, organisationId);
  try {
    const result = await fn(scope.em);
    await scope.commit();
    return result;
  } catch (error) {
    await scope.rollback();
    throw error;
  }
}
