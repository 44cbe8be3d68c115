// Per-request context: verified identity, a lazily opened tenant transaction, per-request DataLoaders.
import type { MikroORM } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { type Identity, requireIdentity } from '../auth/identity.ts';
import { type EntityManager, openTenantScope, type TenantScope } from '../db/orm.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { QueryCounts } from '../telemetry/query-count.ts';

interface QueryEvents {
  on(event: 'query', listener: () => void): unknown;
  off(event: 'query', listener: () => void): unknown;
}

export class RequestContext<Deps = unknown> {
  private scope: Promise<TenantScope> | undefined;
  private readonly loaders = new Map<string, DataLoader<any, any>>();
  private queries = 0;
  private stopCounting: (() => void) | undefined;

  constructor(
    readonly orm: MikroORM,
    readonly deps: Deps,
    readonly requestId: string,
    readonly identity: Identity | undefined,
    readonly log: Logger,
    private readonly queryCounts?: QueryCounts,
  ) {}

  /** The caller's organisation's EntityManager, inside this request's transaction. */
  em(): Promise<EntityManager> {
    return this.useOrganisation(requireIdentity(this.identity).organisationId);
  }

  /** Opens the request transaction for an organisation learnt during the request (sign-up, login). */
  async useOrganisation(organisationId: string): Promise<EntityManager> {
    this.scope ??= openTenantScope(this.orm, organisationId).then((scope) => {
      this.countQueries(scope.em);
      return scope;
    });
    const scope = await this.scope;
    if (scope.organisationId !== organisationId) throw new Error('a request works inside one organisation');
    return scope.em;
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

  /** Ends the request transaction: commit when `ok`, else roll back. */
  async finish(ok: boolean): Promise<void> {
    if (!this.scope) return;
    const scope = await this.scope.catch(() => undefined);
    this.scope = undefined;
    if (!scope) return;
    try {
      if (ok) await scope.commit();
      else await scope.rollback();
    } finally {
      this.stopCounting?.();
      this.stopCounting = undefined;
      this.queryCounts?.record(this.requestId, this.queries);
    }
  }

  /** Counts the statements sent on this request's transaction (every one after it opened, COMMIT included). */
  private countQueries(em: EntityManager): void {
    const trx = em.getTransactionContext<QueryEvents>();
    if (!this.queryCounts || !trx) return;
    const count = () => {
      this.queries++;
    };
    trx.on('query', count);
    this.stopCounting = () => trx.off('query', count);
  }
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
