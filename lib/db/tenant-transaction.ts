// One request's tenant transaction. Reads go straight to a pooled pg connection ($1 placeholders), without
// the ORM's query building and hydration; the ORM joins the same transaction only when a resolver asks.
import type { Knex } from '@mikro-orm/knex';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { isUuid } from './orm.ts';

/** The pg client knex pools (only what is used here). */
interface PgConnection {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  /** knex marks a broken connection so its pool destroys it instead of handing it out again */
  __knex__disposed?: unknown;
}

interface Opened {
  conn: PgConnection;
  /** set once the ORM works in this transaction */
  em?: EntityManager;
}

/**
 * The organisation is a validated UUID, so it can be a literal: BEGIN and the transaction-local setting
 * then travel in one simple-query round trip instead of two.
 */
function beginSql(organisationId: string, readOnly: boolean): string {
  return `BEGIN${readOnly ? ' READ ONLY' : ''}; SELECT set_config('app.organisation_id', '${organisationId}', true)`;
}

export class TenantTransaction {
  private opened: Promise<Opened> | undefined;
  private ended = false;
  /** Statements sent on this transaction (the opening round trip and COMMIT included). */
  statements = 0;
  /** Of those, the ones sent straight to the driver rather than through the ORM's knex. */
  direct = 0;

  constructor(
    private readonly orm: MikroORM,
    readonly organisationId: string,
  ) {
    if (!isUuid(organisationId)) throw new Error('organisation id must be a UUID');
  }

  private get knex(): Knex {
    return this.orm.em.getConnection().getKnex() as unknown as Knex;
  }

  /** Rows of one statement in this transaction. Meant for reads: until the ORM joins, the transaction is READ ONLY. */
  async query<T = Record<string, any>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    if (this.ended) throw new Error('this request transaction has ended');
    this.opened ??= this.open(true);
    const { conn } = await this.opened;
    this.count();
    const result = await conn.query(sql, params as unknown[]);
    return result.rows as T[];
  }

  /** The ORM inside this transaction; a read-only transaction opened for lean reads is ended and reopened writable. */
  em(): Promise<EntityManager> {
    if (this.ended) return Promise.reject(new Error('this request transaction has ended'));
    const current = this.opened;
    // Queries issued from now on wait for the ORM's transaction: none can slip in between the two.
    this.opened = current ? current.then((o) => (o.em ? o : this.reopenForOrm(o))) : this.openForOrm();
    return this.opened.then((o) => o.em!);
  }

  private async acquire(): Promise<PgConnection> {
    return (await this.knex.client.acquireConnection()) as PgConnection;
  }

  private async open(readOnly: boolean): Promise<Opened> {
    const conn = await this.acquire();
    try {
      this.count();
      await conn.query(beginSql(this.organisationId, readOnly));
    } catch (error) {
      await this.release(conn, error);
      throw error;
    }
    return { conn };
  }

  private async openForOrm(): Promise<Opened> {
    const conn = await this.acquire();
    try {
      return await this.joinOrm(conn);
    } catch (error) {
      await this.release(conn, error);
      throw error;
    }
  }

  private async reopenForOrm(opened: Opened): Promise<Opened> {
    // the lean part only read, so ending it loses nothing
    try {
      this.count();
      await opened.conn.query('COMMIT');
      return await this.joinOrm(opened.conn);
    } catch (error) {
      await this.release(opened.conn, error);
      throw error;
    }
  }

  /** knex begins the ORM's transaction on our connection (and never returns it to the pool itself). */
  private async joinOrm(conn: PgConnection): Promise<Opened> {
    const trx = await this.knex.transaction({ connection: conn });
    this.statements++; // its BEGIN, sent before anyone could listen
    // the ORM's statements from here on (COMMIT included) go through knex, which reports each one
    trx.on('query', () => {
      this.statements++;
    });
    const em = this.orm.em.fork({ clear: true });
    em.setFilterParams('tenant', { id: this.organisationId });
    em.setTransactionContext(trx);
    this.count();
    await conn.query(`SELECT set_config('app.organisation_id', '${this.organisationId}', true)`);
    return { conn, em };
  }

  /** Ends the transaction: commit when `ok`, else roll back; the connection goes back to the pool clean. */
  async finish(ok: boolean): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const opened = await this.opened?.catch(() => undefined);
    if (!opened) return;
    let failure: unknown;
    try {
      if (opened.em) {
        if (ok) await opened.em.commit();
        else await opened.em.rollback();
      } else {
        this.count();
        await opened.conn.query(ok ? 'COMMIT' : 'ROLLBACK');
      }
    } catch (error) {
      failure = error;
      if (opened.em) {
        // a failed flush leaves knex's transaction open: end it so the connection is clean
        await opened.em.rollback().catch((e) => {
          failure ??= e;
        });
      }
    } finally {
      await this.release(opened.conn, failure);
    }
    if (failure) throw failure;
  }

  private count(): void {
    this.statements++;
    this.direct++;
  }

  private async release(conn: PgConnection, failure: unknown): Promise<void> {
    // a connection whose transaction could not be ended must never serve another request
    if (failure && !conn.__knex__disposed) conn.__knex__disposed = failure;
    await this.knex.client.releaseConnection(conn);
  }
}
