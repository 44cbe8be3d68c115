// Per-request context: verified identity, a lazily opened tenant transaction, per-request DataLoaders.
import type { EntityName, MikroORM } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { type Identity, requireIdentity } from '../auth/identity.ts';
import { entityTable } from '../db/entity-rows.ts';
import type { EntityManager } from '../db/orm.ts';
import { TenantTransaction } from '../db/tenant-transaction.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { QueryCounts } from '../telemetry/query-count.ts';

export class RequestContext<Deps = unknown> {
  private transaction: TenantTransaction | undefined;
  private readonly committed: (() => void)[] = [];
  private readonly loaders = new Map<string, DataLoader<any, any>>();
  private logger: Logger | undefined;

  constructor(
    readonly orm: MikroORM,
    readonly deps: Deps,
    readonly requestId: string,
    readonly identity: Identity | undefined,
    private readonly baseLog: Logger,
    private readonly queryCounts?: QueryCounts,
  ) {}

  /** This request's logger (made on first use: most requests log nothing). */
  get log(): Logger {
    this.logger ??= this.baseLog.child({ requestId: this.requestId });
    return this.logger;
  }

  /** The caller's organisation's EntityManager, inside this request's transaction. */
  em(): Promise<EntityManager> {
    return this.useOrganisation(requireIdentity(this.identity).organisationId);
  }

  /**
   * Rows of a read in the caller's organisation, on this request's transaction (`$1` placeholders), without
   * the ORM: for hot read paths. Row-level security applies as to any other statement of the request.
   */
  sql<T = Record<string, any>>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    try {
      return this.transactionFor(requireIdentity(this.identity).organisationId).query<T>(text, params);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * An entity's rows in the caller's organisation as plain objects (lib/db/entity-rows.ts), read like sql():
   * `where` and `orderBy` speak of the table aliased `t` and number `params` from `$1`.
   */
  async entityRows<T extends object>(
    entity: EntityName<T>,
    where: string,
    params: readonly unknown[],
    orderBy?: string,
  ): Promise<T[]> {
    const organisationId = requireIdentity(this.identity).organisationId;
    const table = entityTable(this.orm, entity);
    return this.sql<T>(
      `SELECT ${table.columns} FROM ${table.from}
       WHERE t.organisation_id = $${params.length + 1} AND (${where})${orderBy ? ` ORDER BY ${orderBy}` : ''}`,
      [...params, organisationId],
    );
  }

  /** Opens the request transaction for an organisation learnt during the request (sign-up, login). */
  async useOrganisation(organisationId: string): Promise<EntityManager> {
    return this.transactionFor(organisationId).em();
  }

  private transactionFor(organisationId: string): TenantTransaction {
    this.transaction ??= new TenantTransaction(this.orm, organisationId);
    if (this.transaction.organisationId !== organisationId) {
      throw new Error('a request works inside one organisation');
    }
    return this.transaction;
  }

  /** One DataLoader per name per request: entity references become one query per type. */
  loader<K, V>(
    name: string,
    batch: (keys: readonly K[], em: EntityManager) => Promise<(V | null | Error)[]>,
  ): DataLoader<K, V | null> {
    let loader = this.loaders.get(name);
    if (!loader) {
      loader = new DataLoader<K, V | null>(async (keys) => batch(keys, await this.em()), {
        maxBatchSize: 1000,
      });
      this.loaders.set(name, loader);
    }
    return loader as DataLoader<K, V | null>;
  }

  /** Like loader(), for batches read with sql(): the ORM never joins the transaction for them. */
  sqlLoader<K, V>(
    name: string,
    batch: (keys: readonly K[]) => Promise<(V | null | Error)[]>,
  ): DataLoader<K, V | null> {
    let loader = this.loaders.get(name);
    if (!loader) {
      loader = new DataLoader<K, V | null>(batch, { maxBatchSize: 1000 });
      this.loaders.set(name, loader);
    }
    return loader as DataLoader<K, V | null>;
  }

  /** Runs `fn` once the request transaction has committed; never if it rolls back. */
  afterCommit(fn: () => void): void {
    this.committed.push(fn);
  }

  /** Ends the request transaction: commit when `ok`, else roll back. */
  async finish(ok: boolean): Promise<void> {
    const transaction = this.transaction;
    if (!transaction) return;
    try {
      await transaction.finish(ok);
    } finally {
      this.queryCounts?.record(this.requestId, transaction.statements, transaction.direct);
    }
    if (ok) for (const fn of this.committed.splice(0)) fn();
  }
}

/**
 * Whether a request's transaction commits: unless the request itself or a root field failed. An error
 * deeper in the result (a nested field after a mutation succeeded) must not undo the mutation the client
 * is told succeeded.
 */
export function transactionSucceeded(errors: readonly { path?: readonly unknown[] }[]): boolean {
  return !errors.some((e) => !e.path || e.path.length <= 1);
}

/** Groups rows by key in the order DataLoader asked for them. */
export function byKeys<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): (V | null)[] {
  const map = new Map<K, V>();
  for (const row of rows) map.set(keyOf(row), row);
  return keys.map((k) => map.get(k) ?? null);
}

export function groupByKeys<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): V[][] {
  const map = new Map<K, V[]>();
  for (const row of rows) {
    const k = keyOf(row);
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return keys.map((k) => map.get(k) ?? []);
}
