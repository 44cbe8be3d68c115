// One request's tenant work. Reads go straight to a pooled pg connection ($1 placeholders), without the
// ORM's query building and hydration; the ORM opens the request's transaction only when a resolver asks.
import { createRequire } from 'node:module';
import type { Knex } from '@mikro-orm/knex';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { isUuid } from './orm.ts';

const { Result } = pg;

/** The pg client knex pools (only what is used here). */
interface PgConnection {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  /** knex marks a broken connection so its pool destroys it instead of handing it out again */
  __knex__disposed?: unknown;
}

interface Opened {
  conn: PgConnection;
  em: EntityManager;
  /** gives the connection its own query method back */
  unqueue: () => void;
}

type Callback = (error: unknown, result?: unknown) => void;

/**
 * Makes the connection send one statement at a time, in call order. Sibling resolvers share the request's
 * transaction and ask at once; pg queues such calls itself only as a deprecated behaviour (pg@9 drops it).
 * Streams (a submittable query) keep pg's own handling. Returns how to undo it.
 */
function oneAtATime(conn: PgConnection): () => void {
  const client = conn as unknown as { query?: (...args: unknown[]) => unknown };
  const own = Object.hasOwn(client, 'query');
  const query = client.query!;
  let last: Promise<unknown> = Promise.resolve();
  client.query = (...args: unknown[]) => {
    if (typeof (args[0] as { submit?: unknown } | undefined)?.submit === 'function')
      return query.apply(conn, args);
    const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as Callback) : undefined;
    const run = last.then(() => query.apply(conn, args) as Promise<unknown>);
    last = run.catch(() => undefined);
    if (!callback) return run;
    run.then(
      (result) => callback(null, result),
      (error) => callback(error),
    );
    return undefined;
  };
  return () => {
    if (own) client.query = query;
    else delete client.query;
  };
}

/**
 * The organisation is a validated UUID, so it can be a literal: BEGIN and the transaction-local setting
 * then travel in one simple-query round trip instead of two.
 */
function beginSql(organisationId: string): string {
  return `BEGIN READ ONLY; ${settingSql(organisationId)}`;
}

/** The tenant setting, and read-only mode, for the current transaction only. */
function settingSql(organisationId: string): string {
  return `SELECT set_config('transaction_read_only', 'on', true), set_config('app.organisation_id', '${organisationId}', true)`;
}

// a timestamp as PostgreSQL prints it (keyset cursors): digits and separators only
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2}){0,2})?$/;

/**
 * A bind value as an SQL literal, only for values that cannot carry anything but their own characters:
 * UUIDs, PostgreSQL timestamps, safe integers, booleans, null and arrays of UUIDs. Anything else: undefined.
 */
function literalOf(value: unknown): string | undefined {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return isUuid(value) || TIMESTAMP.test(value) ? `'${value}'` : undefined;
  if (Array.isArray(value) && value.every(isUuid)) {
    return `'{${value.join(',')}}'`;
  }
  return undefined;
}

/** The statement with its `$n` replaced by literals, or undefined when a value is not one literalOf takes. */
export function inlined(sql: string, params: readonly unknown[]): string | undefined {
  const literals: string[] = [];
  for (const value of params) {
    const literal = literalOf(value);
    if (literal === undefined) return undefined;
    literals.push(literal);
  }
  let missing = false;
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    const literal = literals[Number(n) - 1];
    if (literal === undefined) missing = true;
    return literal ?? '';
  });
  return missing ? undefined : text;
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

  /**
   * Rows of one read. Before the ORM has joined, a read runs on its own, read-only, in one round trip with
   * the tenant setting, both as statements prepared once per connection (pipelinedRead). Without pg's wire
   * connection: a statement whose values can be literals goes in one simple query with the setting (one
   * simple query is one transaction, so the setting ends with it); any other runs in a READ ONLY transaction. Under READ COMMITTED every statement
   * sees its own snapshot anyway, so reads lose nothing by not sharing a transaction. Once the ORM has
   * joined, reads run in its transaction and see its writes.
   */
  async query<T = Record<string, any>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    if (this.ended) throw new Error('this request has ended');
    if (this.opened) {
      const { conn } = await this.opened;
      this.count();
      return (await conn.query(sql, params as unknown[])).rows as T[];
    }
    const conn = await this.acquire();
    // a statement that fails leaves the connection clean; only a failed BEGIN or COMMIT leaves it in doubt
    let inDoubt: unknown;
    try {
      if (canPipeline(conn)) {
        this.count();
        return await pipelinedRead<T>(conn, this.organisationId, sql, params);
      }
      const inline = inlined(sql, params);
      if (inline !== undefined) {
        this.count();
        const results = (await conn.query(`${settingSql(this.organisationId)}; ${inline}`)) as unknown as {
          rows: T[];
        }[];
        return results[1]!.rows;
      }
      this.count();
      await conn.query(beginSql(this.organisationId)).catch((error) => {
        inDoubt = error;
        throw error;
      });
      let rows: T[] | undefined;
      let failed: unknown;
      try {
        this.count();
        rows = (await conn.query(sql, params as unknown[])).rows as T[];
      } catch (error) {
        failed = error;
      }
      this.count();
      await conn.query('COMMIT').catch((error) => {
        inDoubt = error;
        throw failed ?? error;
      });
      if (failed) throw failed;
      return rows!;
    } finally {
      await this.release(conn, inDoubt);
    }
  }

  /** The ORM inside the request's transaction, opened on first use; reads from then on run inside it too. */
  em(): Promise<EntityManager> {
    if (this.ended) return Promise.reject(new Error('this request has ended'));
    this.opened ??= this.openForOrm();
    return this.opened.then((o) => o.em);
  }

  private async acquire(): Promise<PgConnection> {
    return (await this.knex.client.acquireConnection()) as PgConnection;
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

  /** knex begins the ORM's transaction on our connection (and never returns it to the pool itself). */
  private async joinOrm(conn: PgConnection): Promise<Opened> {
    const unqueue = oneAtATime(conn);
    try {
      return await this.beginOrm(conn, unqueue);
    } catch (error) {
      unqueue();
      throw error;
    }
  }

  private async beginOrm(conn: PgConnection, unqueue: () => void): Promise<Opened> {
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
    return { conn, em, unqueue };
  }

  /** Ends the transaction: commit when `ok`, else roll back; the connection goes back to the pool clean. */
  async finish(ok: boolean): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const opened = await this.opened?.catch(() => undefined);
    if (!opened) return;
    let failure: unknown;
    try {
      if (ok) await opened.em.commit();
      else await opened.em.rollback();
    } catch (error) {
      failure = error;
      // a failed flush leaves knex's transaction open: end it so the connection is clean
      await opened.em.rollback().catch((e) => {
        failure ??= e;
      });
    } finally {
      opened.unqueue();
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

/** knex-style `?` placeholders as pg's `$1, $2…`, for SQL built from fragments that hold no other `?`. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

// ---------------------------------------------------------------------------------------------------------
// One read in one round trip, planned once per connection: the tenant setting and the statement go as named
// prepared statements, Bind/Execute each, under a single Sync. Everything before a Sync is one implicit
// transaction, so the setting (transaction-local) holds for the statement and ends with it, as with the
// simple-query form; PostgreSQL parses, rewrites (row-level security included) and plans each statement
// once per connection instead of for every request.

/** pg's wire connection (only what is used here). */
interface WireConnection {
  parse(message: { text: string; name: string; types?: unknown[] }): void;
  bind(message: {
    portal: string;
    statement: string;
    values: readonly unknown[];
    valueMapper: (value: unknown, index: number) => unknown;
  }): void;
  execute(message: { portal: string; rows: number }): void;
  describe(message: { type: 'P' | 'S'; name: string }): void;
  close(message: { type: 'P' | 'S'; name: string }): void;
  sync(): void;
  sendCopyFail(message: string): void;
  stream: { cork?: () => void; uncork?: () => void };
}

interface PipelinedConnection extends PgConnection {
  connection: WireConnection;
}

const pgRequire = createRequire(import.meta.url);
/** pg's own conversion of a bind value to its text form (arrays, dates, buffers, objects) */
const prepareValue = (pgRequire('pg/lib/utils.js') as { prepareValue: (value: unknown) => unknown })
  .prepareValue;

/** Bind values already converted (prepareValue) go out as they are. */
const asIs = (value: unknown) => value;

/** The tenant setting, and read-only mode, for the current (implicit) transaction only. */
const TENANT_SETTING =
  "SELECT set_config('transaction_read_only', 'on', true), set_config('app.organisation_id', $1, true)";

/** Statements kept prepared on one connection, least recently used closed first. */
export const PREPARED_PER_CONNECTION = 64;

/** What one connection holds prepared: statement text to name, in order of last use. */
interface Prepared {
  names: Map<string, string>;
  next: number;
  /** names a failed round trip parsed, closed or ran: closed (whether they exist or not) before anything else */
  doubtful: string[];
}

const preparedOf = new WeakMap<object, Prepared>();

function canPipeline(conn: PgConnection): conn is PipelinedConnection {
  const wire = (conn as Partial<PipelinedConnection>).connection;
  return (
    typeof wire?.parse === 'function' && typeof wire.bind === 'function' && typeof wire.sync === 'function'
  );
}

/** Sends the setting and the statement, under one Sync, and gathers the statement's rows. */
class PipelinedRead<T> {
  /** pg hands it its type parsers (`_types`) when the read is queued, as it does for its own queries */
  readonly _result = new Result(undefined as never, undefined as never) as InstanceType<typeof Result> & {
    parseRow(fields: unknown[]): T;
    addFields(fields: unknown[]): void;
  };
  private readonly rows: T[] = [];
  private completed = 0;
  private failure: unknown;
  /** statements this round trip parsed or closed: in doubt if it fails */
  private touched: string[] = [];
  /** the setting's and the statement's names in this round trip */
  private used: string[] = [];

  constructor(
    private readonly prepared: Prepared,
    private readonly organisationId: string,
    private readonly sql: string,
    private readonly values: readonly unknown[],
    private readonly settle: (error: unknown, rows?: T[]) => void,
  ) {}

  /** The statement's name on this connection, parsing it (and closing the least recently used) if new. */
  private nameOf(wire: WireConnection, text: string): string {
    const { names } = this.prepared;
    let name = names.get(text);
    if (name !== undefined) {
      names.delete(text);
      names.set(text, name);
      return name;
    }
    if (names.size >= PREPARED_PER_CONNECTION) {
      const [oldText, oldName] = names.entries().next().value as [string, string];
      names.delete(oldText);
      wire.close({ type: 'S', name: oldName });
      this.touched.push(oldName);
    }
    name = `pf_read_${this.prepared.next++}`;
    wire.parse({ text, name });
    this.touched.push(name);
    names.set(text, name);
    return name;
  }

  submit(wire: WireConnection): null {
    wire.stream.cork?.();
    try {
      for (const name of this.prepared.doubtful.splice(0)) {
        wire.close({ type: 'S', name });
        this.touched.push(name);
      }
      const setting = this.nameOf(wire, TENANT_SETTING);
      const statement = this.nameOf(wire, this.sql);
      this.used = [setting, statement];
      wire.bind({ portal: '', statement: setting, values: [this.organisationId], valueMapper: asIs });
      wire.execute({ portal: '', rows: 0 });
      wire.bind({ portal: '', statement, values: this.values, valueMapper: asIs });
      wire.describe({ type: 'P', name: '' });
      wire.execute({ portal: '', rows: 0 });
      wire.sync();
    } finally {
      wire.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(message: { fields: unknown[] }): void {
    if (this.completed === 1) this._result.addFields(message.fields);
  }

  handleDataRow(message: { fields: unknown[] }): void {
    // the setting's own row comes first, before its CommandComplete
    if (this.completed !== 1 || this.failure) return;
    try {
      this.rows.push(this._result.parseRow(message.fields));
    } catch (error) {
      this.failure = error;
    }
  }

  handleCommandComplete(): void {
    this.completed++;
  }

  handleEmptyQuery(): void {}

  handlePortalSuspended(): void {}

  handleCopyInResponse(wire: WireConnection): void {
    wire.sendCopyFail('not accepted on a read');
  }

  handleCopyData(): void {}

  /** PostgreSQL refused something (the round trip then ends rolled back) or the connection broke. */
  handleError(error: unknown): void {
    // which of the statements this round trip parsed or closed exist is unknown: forget them, and close
    // them before anything else next time (closing a statement that does not exist is no error). The ones
    // it ran are parsed afresh too: a statement kept across a change of its tables can keep failing
    // ("cached plan must not change result type") until it is prepared again.
    for (const name of new Set([...this.touched, ...this.used])) {
      for (const [text, n] of this.prepared.names) if (n === name) this.prepared.names.delete(text);
      this.prepared.doubtful.push(name);
    }
    this.settle(error);
  }

  handleReadyForQuery(): void {
    if (this.failure) this.settle(this.failure);
    else this.settle(undefined, this.rows);
  }
}

/** One read, its tenant setting included, in one round trip on a pg connection. */
function pipelinedRead<T>(
  conn: PipelinedConnection,
  organisationId: string,
  sql: string,
  params: readonly unknown[],
): Promise<T[]> {
  let prepared = preparedOf.get(conn);
  if (!prepared) {
    prepared = { names: new Map(), next: 0, doubtful: [] };
    preparedOf.set(conn, prepared);
  }
  // converted before anything is sent: a value pg cannot convert fails here, with nothing half-written
  const values = params.map((value) => prepareValue(value));
  return new Promise<T[]>((resolve, reject) => {
    // pg queues an object with `submit` like its own queries, and hands it the connection's messages
    (conn as unknown as { query(read: object): unknown }).query(
      new PipelinedRead<T>(prepared, organisationId, sql, values, (error, rows) =>
        error ? reject(error) : resolve(rows!),
      ),
    );
  });
}
