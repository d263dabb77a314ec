import type Database from 'better-sqlite3';
import pg from 'pg';
import { quoteIdent } from '../canon/postgres-migrations.ts';
import { openSqliteConnection, type SqliteConnection } from './sqlite-connection.ts';
import type { Acknowledge } from './sqlite-group-commit.ts';
import { PreparingClient, type PreparingClientConfig } from './postgres-prepared-client.ts';
import { PoolTraffic } from './pool-traffic.ts';
import { beginPipelined, firstFailure, requireCommitted, sent } from './pipelined-transaction.ts';
import { rollBack } from './roll-back.ts';
import { poolConnections, type PoolConnections } from './pool-connections.ts';

/**
 * A small SQL seam shared by the wallet's embedded ledger and the billing records, so that one piece of
 * logic runs on SQLite (the embedded default) and PostgreSQL (several replicas) alike.
 *
 * A transaction's body is a generator that yields statements and receives their results (`yield* q(...)`).
 * On SQLite the driver runs it synchronously in its own savepoint of a group-committed IMMEDIATE transaction
 * (sqlite-group-commit.ts), so the write lock is never held across an `await` — another process writing the
 * same file never finds it locked by a transaction that is waiting for the event loop. On PostgreSQL the driver
 * feeds it asynchronously through one pooled connection between BEGIN and COMMIT.
 *
 * Statements are written once with `$1 … $n` placeholders; values are strings, safe integers, bigints or
 * null. Rows come back as plain records: integers may be number, bigint or (PostgreSQL BIGINT) a decimal
 * string, times may be Date or ISO text; read them with `int`, `bigintOf` and `iso` below.
 */
export type SqlValue = string | number | bigint | null;
export type SqlRow = Record<string, unknown>;
export type SqlDialect = 'sqlite' | 'postgres';

export interface SqlStatement {
  text: string;
  params: readonly SqlValue[];
  /** Several statements without parameters (migrations). */
  multi?: true;
  /** The body does not read its result (`write`): PostgreSQL sends it without waiting for the answer. */
  unread?: true;
  /** The body's last statement, read after COMMIT (`last`): PostgreSQL sends it with the COMMIT. */
  last?: true;
}
export interface SqlResult {
  rows: SqlRow[];
  changes: number;
}
/** A transaction body: yields statements, gets their results, returns `T`. */
export type SqlWork<T> = Generator<SqlStatement, T, SqlResult>;

/** Rows of one statement, inside a transaction body: `const rows = yield* q('SELECT …', [a])`. */
export function* q(
  text: string,
  params: readonly SqlValue[] = [],
): Generator<SqlStatement, SqlRow[], SqlResult> {
  return (yield { text, params }).rows;
}

/** The number of rows one statement changed (or returned, with RETURNING). */
export function* run(
  text: string,
  params: readonly SqlValue[] = [],
): Generator<SqlStatement, number, SqlResult> {
  return (yield { text, params }).changes;
}

/**
 * A statement whose result the body does not read (a lock, an insert whose count does not matter). On
 * PostgreSQL it leaves without waiting for its answer, together with whatever follows it up to the next
 * statement the body reads or the COMMIT: a transaction of such writes is one round trip. It fails the
 * transaction all the same, with its own error, and nothing after it in the transaction is kept. On SQLite
 * it runs like any statement (SQLite has no round trips).
 */
export function* write(
  text: string,
  params: readonly SqlValue[] = [],
): Generator<SqlStatement, void, SqlResult> {
  yield { text, params, unread: true };
}

/**
 * The body's last statement, whose rows it reads once the transaction has committed: on PostgreSQL it leaves
 * together with the COMMIT (and the unread writes before it), so a transaction whose every decision is made
 * in SQL is one round trip. The body may only return after it; if it is refused, nothing is kept. On SQLite
 * it runs like any statement.
 */
export function* last(
  text: string,
  params: readonly SqlValue[] = [],
): Generator<SqlStatement, SqlRow[], SqlResult> {
  return (yield { text, params, last: true }).rows;
}

const AFTER_LAST = 'a transaction body went on after its last() statement';

export function* exec(text: string): Generator<SqlStatement, void, SqlResult> {
  yield { text, params: [], multi: true };
}

export interface TransactionOptions {
  /**
   * `on-commit`: the caller need not wait for the write to be durable. SQLite settles at COMMIT, without waiting
   * for the WAL's flush; its WAL is flushed in order, so the write is durable once any later durable write is.
   * PostgreSQL does nothing different: its COMMIT waits for the flush inside the server, and turning
   * `synchronous_commit` off for the transaction cost a statement on a server short of CPU (more CPU per
   * request, no lower latency, measured). Only for a write that a durable one follows before the caller is
   * answered, and whose loss is repaired by recovery: a power loss in between (not a crash of the process:
   * the committed WAL is then in the kernel's cache) loses it with the request unanswered.
   */
  acknowledge?: Acknowledge;
}

export interface SqlDb {
  readonly dialect: SqlDialect;
  /** Runs `work` as one transaction (SQLite BEGIN IMMEDIATE; PostgreSQL READ COMMITTED). */
  transaction<T>(work: (dialect: SqlDialect) => SqlWork<T>, options?: TransactionOptions): Promise<T>;
  /** One statement on its own. */
  query(text: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** The connection pool's state (PostgreSQL; SQLite shares one connection and has none). */
  connections?(): PoolConnections;
  close(): Promise<void>;
}

/** A duplicate key: the idempotency and exactly-once guards rely on the database refusing it. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = (error as { code: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * PostgreSQL refused this statement for what it asked (a constraint, a data error, a trigger, a conflict
 * between transactions), not because the server or the connection failed (SQLSTATE classes 08, 53, 57, 58,
 * XX, or no SQLSTATE at all): asked again alone, each part of it would meet its own fate.
 */
export function isRefusedStatement(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('code' in error)) return false;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57|58|XX)/.test(code);
}

/** An integer column as a safe JS number (throws if it is not one: money never loses precision silently). */
export function int(value: unknown): number {
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new Error(`expected a safe integer from the database, got ${String(value)}`);
  }
  return n;
}

export function intOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : int(value);
}

export function bigintOf(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new Error(`expected an integer from the database, got ${String(value)}`);
}

/** A time column (TEXT in SQLite, timestamptz in PostgreSQL) as ISO-8601 UTC. */
export function iso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return new Date(value).toISOString();
  throw new Error(`expected a time from the database, got ${String(value)}`);
}

export function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : iso(value);
}

export function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected text from the database, got ${String(value)}`);
  return value;
}

export function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : text(value);
}

/** A JSON column (TEXT in SQLite, jsonb in PostgreSQL). */
export function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** `$7` → `@p7` with the values as `{p7: …}`: better-sqlite3 binds a repeated named parameter, not `?7`. */
function sqliteParams(params: readonly SqlValue[]): Record<string, SqlValue> {
  const named: Record<string, SqlValue> = {};
  params.forEach((value, i) => {
    named[`p${i + 1}`] = value;
  });
  return named;
}

/** SQLite through the process's shared connection to `file` (sqlite-connection.ts), integers read as bigint. */
export class SqliteSqlDb implements SqlDb {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly connection: SqliteConnection;
  private closed = false;

  constructor(file: string) {
    this.connection = openSqliteConnection(file);
  }

  /** The shared connection; refused once this seam is closed, though Canon Memory may still be using it. */
  private get db(): Database.Database {
    if (this.closed) throw new Error('the database is closed');
    return this.connection.db;
  }

  private execute(s: SqlStatement): SqlResult {
    if (s.multi) {
      this.db.exec(s.text);
      return { rows: [], changes: 0 };
    }
    let prepared = this.statements.get(s.text);
    if (!prepared) {
      // The connection is shared with Canon Memory, which reads numbers: bigints are asked for per statement.
      prepared = this.db.prepare(s.text.replace(/\$(\d+)/g, '@p$1')).safeIntegers(true);
      this.statements.set(s.text, prepared);
    }
    if (prepared.reader) {
      const rows = prepared.all(sqliteParams(s.params)) as SqlRow[];
      return { rows, changes: rows.length };
    }
    return { rows: [], changes: Number(prepared.run(sqliteParams(s.params)).changes) };
  }

  private drive<T>(work: SqlWork<T>): T {
    let step = work.next();
    while (!step.done) {
      const ending = step.value.last;
      step = work.next(this.execute(step.value));
      if (ending && !step.done) throw new Error(AFTER_LAST);
    }
    return step.value;
  }

  async transaction<T>(
    work: (dialect: SqlDialect) => SqlWork<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    return this.connection.commits.run(() => this.drive(work('sqlite')), options.acknowledge);
  }

  async query(source: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    return this.execute({ text: source, params }).rows;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.connection.commits.drain();
    this.closed = true;
    this.statements.clear();
    await this.connection.release();
  }
}

/** node-postgres sends bigint as text, which PostgreSQL casts to the column's type. */
function pgParams(params: readonly SqlValue[]): Array<string | number | null> {
  return params.map((v) => (typeof v === 'bigint' ? v.toString() : v));
}

const NOTHING_READ: SqlResult = { rows: [], changes: 0 };

/** PostgreSQL through a pool of its own whose connections work in `schema` (created if missing). */
export class PostgresSqlDb implements SqlDb {
  readonly dialect = 'postgres' as const;

  private constructor(private readonly pool: pg.Pool) {}

  connections(): PoolConnections {
    return poolConnections(this.pool);
  }

  static async open(
    connectionString: string,
    options: { schema?: string; maxConnections?: number } = {},
  ): Promise<PostgresSqlDb> {
    const schema = quoteIdent(options.schema ?? 'public');
    const config: pg.PoolConfig & PreparingClientConfig = {
      connectionString,
      options: `-c search_path=${schema}`,
      max: options.maxConnections ?? 10,
      Client: PreparingClient,
      pipeline: true,
      connectionTimeoutMillis: 10_000,
      traffic: new PoolTraffic(),
    };
    const pool = new pg.Pool(config);
    // An idle connection that drops is discarded by the pool; the next query opens a new one.
    pool.on('error', () => undefined);
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } catch (error) {
      // Another replica creating it at the same moment is fine.
      if (!isUniqueViolation(error)) {
        await pool.end();
        throw error;
      }
    }
    return new PostgresSqlDb(pool);
  }

  /** Without options: `acknowledge` changes nothing on PostgreSQL (TransactionOptions). */
  async transaction<T>(work: (dialect: SqlDialect) => SqlWork<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const body = work('postgres');
    // Statements sent but not yet answered (BEGIN, unread writes), in the order the server runs them.
    const unanswered: Array<Promise<unknown>> = [beginPipelined(client)];
    try {
      let step = body.next();
      while (!step.done) {
        const s = step.value;
        if (s.unread) {
          unanswered.push(sent(client.query(s.text, pgParams(s.params))));
          step = body.next(NOTHING_READ);
          continue;
        }
        if (s.last) {
          const final = sent(client.query(s.text, pgParams(s.params)));
          unanswered.push(final);
          requireCommitted(await firstFailure(unanswered, client.query('COMMIT')));
          const result = await final;
          step = body.next({ rows: (result.rows ?? []) as SqlRow[], changes: result.rowCount ?? 0 });
          if (!step.done) throw new Error(AFTER_LAST);
          return step.value;
        }
        const result = await firstFailure(
          unanswered,
          s.multi ? client.query(s.text) : client.query(s.text, pgParams(s.params)),
        );
        step = body.next({ rows: (result.rows ?? []) as SqlRow[], changes: result.rowCount ?? 0 });
      }
      requireCommitted(await firstFailure(unanswered, client.query('COMMIT')));
      return step.value;
    } catch (error) {
      body.return(undefined as T);
      broken = await rollBack(client);
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async query(source: string, params: readonly SqlValue[] = []): Promise<SqlRow[]> {
    return (await this.pool.query<SqlRow>(source, pgParams(params))).rows;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** One component's schema version, in the dialect of the database it runs on. */
export interface ComponentMigration {
  version: number;
  sqlite: string;
  postgres: string;
}

const CREATE_COMPONENT_MIGRATIONS =
  'CREATE TABLE IF NOT EXISTS component_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))';

/**
 * Applies `component`'s pending migrations, each with its row in `component_migrations`, in one transaction
 * (SQLite: BEGIN IMMEDIATE; PostgreSQL: under a transaction-scoped advisory lock per component and schema),
 * so two processes starting at once migrate once. Components (the ledger, billing) are versioned
 * independently of Canon Memory's own list and of each other. Refuses a database written by newer code.
 */
export async function applyComponentMigrations(
  db: SqlDb,
  component: string,
  migrations: readonly ComponentMigration[],
): Promise<void> {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  await db.transaction(function* (dialect) {
    if (dialect === 'postgres') {
      // One migrator at a time per schema, including the CREATE TABLE IF NOT EXISTS (which can race).
      yield* q(
        "SELECT pg_advisory_xact_lock(hashtext('v-supercore:component-migrations:' || current_schema()))",
      );
    }
    yield* exec(CREATE_COMPONENT_MIGRATIONS);
    const applied = new Set(
      (yield* q('SELECT version FROM component_migrations WHERE component = $1', [component])).map((r) =>
        int(r.version),
      ),
    );
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      throw new Error(
        `the ${component} tables are at schema version ${newest}, newer than this code (${known})`,
      );
    }
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      yield* exec(dialect === 'postgres' ? m.postgres : m.sqlite);
      yield* run('INSERT INTO component_migrations (component, version, applied_at) VALUES ($1, $2, $3)', [
        component,
        m.version,
        new Date().toISOString(),
      ]);
    }
  });
}
