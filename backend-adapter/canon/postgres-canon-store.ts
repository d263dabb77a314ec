import pg from 'pg';
import type { PoolClient } from 'pg';
import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { Session, SessionState, TierId } from '../../protocol/session.ts';
import type { RuntimeHandle } from '../runtime/runtime-provider.ts';
import {
  ALLOCATION_INSERT_COLUMNS,
  SESSION_INSERT_COLUMNS,
  allocationValues,
  decideWorkspaceChange,
  exceededLimit,
  genesisRecords,
  isFinished,
  preferencesEntityId,
  sessionValues,
  type NewCanonRecord,
} from './canon-shared.ts';
import type {
  AllocationRecord,
  CanonRecord,
  CanonStore,
  GenesisLimits,
  LaunchRecord,
  LiveTotals,
  LiveUsage,
  PreferencesRow,
  SessionRow,
  TransitionRequest,
  UsageRecord,
} from './canon-store.ts';
import { applyPostgresMigrations, quoteIdent } from './postgres-migrations.ts';
import { ISO_TIMES, isoOf } from './postgres-iso-times.ts';
import { coversTransition, needsGeneralPath, transitionStatement } from './postgres-transition-statement.ts';
import { SubjectHasLiveSessionsError } from './canon-store.ts';
import type { Workspace, WorkspaceMember } from '../../protocol/workspaces.ts';
import { WorkspaceChangeError, type WorkspaceChange } from './workspace-changes.ts';
import {
  newSubjectRef,
  isSubjectRef,
  isSystemActor,
  mapSubjects,
  privacyEntityId,
  subjectSlots,
  ownerSplits,
  type ErasureRequest,
  type ErasureResult,
} from './subjects.ts';
import { PreparingClient, type PreparingClientConfig } from '../sql/postgres-prepared-client.ts';
import { PoolTraffic } from '../sql/pool-traffic.ts';
import { ServerContact } from '../sql/server-contact.ts';
import { beginPipelined, pipelinedTransaction } from '../sql/pipelined-transaction.ts';
import { rollBack } from '../sql/roll-back.ts';
import { GENESIS_LOCK, genesisStatements, LIVE_SUMS } from './postgres-genesis-statement.ts';
import { poolConnections, type PoolConnections } from '../sql/pool-connections.ts';
import { timeOrderedId } from '../time-ordered-id.ts';

/** node-postgres hands back timestamptz as Date, jsonb parsed, and BIGINT / count / sum as decimal strings. */
type Int8 = string | number;

interface SessionDbRow {
  session_id: string;
  user_id: string;
  tenant_id: string;
  tier: Session['tier'];
  resources: Session['resources'];
  state: SessionState;
  failure_reason: string | null;
  runtime: RuntimeHandle | null;
  /** Dates, or ISO-8601 text when read with ISO_TIMES. */
  created_at: Date | string;
  canon_timestamp: Date | string;
  last_activity_at: Date | string;
}

interface RecordDbRow {
  seq: Int8;
  record_id: string;
  entity: CanonRecord['entity'];
  entity_id: string;
  action: string;
  from_state: SessionState | null;
  to_state: SessionState | null;
  actor: string;
  tenant_id: string;
  payload: Record<string, unknown>;
  canon_timestamp: Date;
}

interface UsageDbRow {
  session_id: string;
  user_id: string;
  tenant_id: string;
  start_time: Date;
  end_time: Date;
  resource_consumption: UsageRecord['resourceConsumption'];
  cost: Int8;
}

interface PreferencesDbRow {
  tenant_id: string;
  user_id: string;
  preferences: Record<string, unknown>;
  updated_at: Date;
}

interface AllocationDbRow {
  session_id: string;
  tier: Session['tier'];
  resources: Session['resources'];
  allocated_at: Date;
  released_at: Date | null;
}

interface LiveDbRow {
  user_sessions: Int8;
  user_cpu: Int8;
  user_memory: Int8;
  tenant_sessions: Int8;
  tenant_cpu: Int8;
  tenant_memory: Int8;
  cluster_sessions: Int8;
  cluster_cpu: Int8;
  cluster_memory: Int8;
  cluster_storage: Int8;
}

type Owner = { userId: string; tenantId: string };

interface WorkspaceDbRow {
  workspace_id: string;
  tenant_id: string;
  owner_id: string;
  name: string;
  state: Workspace['state'];
  controller_id: string | null;
  created_at: Date;
  updated_at: Date;
}

interface WorkspaceMemberDbRow {
  user_id: string;
  role: WorkspaceMember['role'];
  status: WorkspaceMember['status'];
  invited_at: Date;
  joined_at: Date | null;
}

/** A BIGINT as a JS number; refuses values past 2^53 rather than rounding money. */
function int(value: Int8): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`integer ${value} does not fit a JS number exactly`);
  return n;
}

function usageOf(r: UsageDbRow): UsageRecord {
  return {
    sessionId: r.session_id,
    userId: r.user_id,
    tenantId: r.tenant_id,
    startTime: r.start_time.toISOString(),
    endTime: r.end_time.toISOString(),
    resourceConsumption: r.resource_consumption,
    cost: int(r.cost),
    canonRecord: true,
  };
}

function liveOf(r: LiveDbRow): LiveUsage {
  return {
    user: { sessions: int(r.user_sessions), cpuMillicores: int(r.user_cpu), memoryMiB: int(r.user_memory) },
    tenant: {
      sessions: int(r.tenant_sessions),
      cpuMillicores: int(r.tenant_cpu),
      memoryMiB: int(r.tenant_memory),
    },
    cluster: {
      sessions: int(r.cluster_sessions),
      cpuMillicores: int(r.cluster_cpu),
      memoryMiB: int(r.cluster_memory),
      storageGiB: int(r.cluster_storage),
    },
  };
}

/** Rows per page of a scan of every live session (listUnfinished). */
const SCAN_PAGE = 500;

type PagedSessionDbRow = SessionDbRow & { cursor_at: string };

/** A session row's columns in the order fromArray reads them. */
const SESSION_COLUMNS =
  'session_id, user_id, tenant_id, tier, resources, state, failure_reason, runtime, created_at, canon_timestamp, last_activity_at';
type SessionArray = [
  string,
  string,
  string,
  Session['tier'],
  Session['resources'],
  SessionState,
  string | null,
  RuntimeHandle | null,
  string,
  string,
  string,
];

/**
 * A hot read of session rows: a named statement (planned once per connection, not per request) with times
 * read as ISO-8601 text, and rows as arrays, which node-postgres builds for less than objects.
 */
function read(
  name: string,
  clause: string,
  values: ReadonlyArray<string | readonly string[]>,
): pg.QueryArrayConfig<unknown[]> {
  return {
    name,
    text: `SELECT ${SESSION_COLUMNS} FROM sessions ${clause}`,
    values: [...values],
    types: ISO_TIMES,
    rowMode: 'array',
  };
}

function fromArray(r: SessionArray): SessionRow {
  const session: Session = {
    sessionId: r[0],
    userId: r[1],
    tenantId: r[2],
    tier: r[3],
    resources: r[4],
    state: r[5],
    createdAt: r[8],
    canonTimestamp: r[9],
    handshake: HANDSHAKE,
  };
  if (r[6] !== null) session.failureReason = r[6];
  return { session, runtime: r[7], lastActivityAt: r[10] };
}

/** A row read as an object (`SELECT *`, times as Date or ISO text), mapped as the arrays are. */
function toRow(r: SessionDbRow): SessionRow {
  return fromArray([
    r.session_id,
    r.user_id,
    r.tenant_id,
    r.tier,
    r.resources,
    r.state,
    r.failure_reason,
    r.runtime,
    isoOf(r.created_at),
    isoOf(r.canon_timestamp),
    isoOf(r.last_activity_at),
  ]);
}

/** A record as stored: people still as subject references (PostgresCanonStore.reveal maps them back). */
function toRecord(x: RecordDbRow): CanonRecord {
  return {
    seq: int(x.seq),
    recordId: x.record_id,
    entity: x.entity,
    entityId: x.entity_id,
    action: x.action,
    fromState: x.from_state,
    toState: x.to_state,
    actor: x.actor,
    tenantId: x.tenant_id,
    payload: x.payload,
    canonTimestamp: x.canon_timestamp.toISOString(),
    handshake: HANDSHAKE,
  };
}

function toPreferences(r: PreferencesDbRow): PreferencesRow {
  return {
    userId: r.user_id,
    tenantId: r.tenant_id,
    preferences: r.preferences,
    updatedAt: r.updated_at.toISOString(),
  };
}

/** The INSERT opening a session's allocation, its placeholders numbered from `first`. */
function allocationInsert(s: Session, at: string, first: number): { sql: string; params: unknown[] } {
  const p = (i: number) => `$${first + i}`;
  return {
    sql: `INSERT INTO allocations (${ALLOCATION_INSERT_COLUMNS})
       VALUES (${p(0)}, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}::jsonb, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}::timestamptz)`,
    params: allocationValues(s, at),
  };
}

/** The INSERT of a new session row, with parameters $1 … $12. */
function sessionInsert(row: SessionRow): { sql: string; params: unknown[] } {
  return {
    sql: `INSERT INTO sessions (${SESSION_INSERT_COLUMNS})
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb, $9::timestamptz, $10::timestamptz, $11::timestamptz, $12)`,
    params: sessionValues(row),
  };
}

/**
 * How recent an answer on any connection stands in for a ping. Every transition checks that Canon Memory
 * answers (the component's half of the handshake); at 1,000 requests/s a `SELECT 1` each was two of the
 * thirty-odd round trips of a create → terminate. A connection lost meanwhile clears it (server-contact.ts).
 */
const PING_FRESH_MS = 1000;

/** Users whose subject row this replica has seen at a Genesis; forgotten all at once past this many. */
const MAX_KNOWN_SUBJECTS = 100_000;

/**
 * Canon Memory in PostgreSQL, shared by several orchestrator replicas. Same semantics as the SQLite adapter:
 * append-only canon_records (a trigger refuses UPDATE/DELETE/TRUNCATE), current-state tables written in
 * the same transaction, versioned migrations applied at open under an advisory lock.
 *
 * Concurrency: a transition locks its session row (`SELECT … FOR UPDATE`) and compares its state inside the
 * transaction, so of two replicas racing on one session exactly one applies. A create with limits takes
 * one transaction-scoped advisory lock per schema before reading the live sums: the cluster-wide ceiling
 * is one global invariant, so quota-checked creates must be serialised globally anyway; the lock is held
 * only while the server runs one statement and the COMMIT (postgres-genesis-statement.ts), and waiting on
 * it is cheaper and more predictable than SERIALIZABLE transactions that would all conflict on the same
 * aggregate and retry.
 */
export class PostgresCanonStore implements CanonStore {
  /**
   * Users (tenant, user) whose subject row a Genesis here wrote or found: their next Genesis does not send
   * the insert that ensures it. An erasure elsewhere meanwhile leaves the records without an actor, which
   * the database refuses, and the general path writes a new subject (postgres-genesis-statement.ts).
   */
  private readonly knownSubjects = new Set<string>();

  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
    private readonly contact: ServerContact,
  ) {}

  static async open(
    connectionString: string,
    options: { schema?: string; maxConnections?: number } = {},
  ): Promise<PostgresCanonStore> {
    const schema = options.schema ?? 'public';
    const contact = new ServerContact();
    const config: pg.PoolConfig & PreparingClientConfig = {
      connectionString,
      // Every connection works in the store's schema; the name is checked to be a plain identifier.
      // UTC: timestamps come back as "…+00", which ISO_TIMES turns into ISO-8601 without a Date.
      options: `-c search_path=${quoteIdent(schema)} -c TimeZone=UTC`,
      max: options.maxConnections ?? 10,
      Client: PreparingClient,
      pipeline: true,
      connectionTimeoutMillis: 10_000,
      contact,
      traffic: new PoolTraffic(),
    };
    const pool = new pg.Pool(config);
    // An idle connection that drops is discarded by the pool; the next query opens a new one.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await applyPostgresMigrations(client, schema);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresCanonStore(pool, schema, contact);
  }

  /**
   * What the server's configuration means for this store's upkeep, as sentences for the log; empty when all is
   * well. Without autovacuum (or the statistics it needs) nothing analyses the tables as they grow: a prepared
   * statement keeps the plan it got while its table was small (a scan of the whole table, read in full on
   * every call as it grows), and dead rows of every transition pile up. Measured: a create → terminate cost
   * the server 1.50, then 1.70, then 1.95 ms a request over three 8 s runs, and 1.26–1.38 ms after one
   * VACUUM ANALYZE.
   */
  async maintenanceWarnings(): Promise<string[]> {
    const r = await this.pool.query<{ autovacuum: string; track_counts: string }>(
      "SELECT current_setting('autovacuum') AS autovacuum, current_setting('track_counts') AS track_counts",
    );
    const row = r.rows[0];
    if (!row || (row.autovacuum === 'on' && row.track_counts === 'on')) return [];
    const off = row.autovacuum === 'on' ? 'track_counts' : 'autovacuum';
    return [
      `PostgreSQL runs with ${off} off: Canon Memory's tables are never analysed or vacuumed as they grow, so ` +
        'queries keep the plans they got while the tables were small and slow down with every session ' +
        '(turn autovacuum on, or run VACUUM ANALYZE regularly)',
    ];
  }

  async schemaVersion(): Promise<number> {
    const r = await this.pool.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    return r.rows[0]?.v ?? 0;
  }

  /** Runs `fn` in one READ COMMITTED transaction (each statement sees what committed before it began). */
  private async tx<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const begun = beginPipelined(client);
      const result = await fn(client);
      await begun;
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken = await rollBack(client);
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** The subject reference of a user (created on first use), inside the caller's transaction. */
  private async subjectRef(client: PoolClient, tenantId: string, userId: string): Promise<string> {
    const find = (): Promise<pg.QueryResult<{ subject_ref: string }>> =>
      client.query({
        name: 'find-subject',
        text: 'SELECT subject_ref FROM subjects WHERE tenant_id = $1 AND user_id = $2',
        values: [tenantId, userId],
      });
    // Almost always there already: one round trip in every transition that writes a record, not two.
    const known = (await find()).rows[0];
    if (known) return known.subject_ref;
    await client.query(
      'INSERT INTO subjects (subject_ref, tenant_id, user_id) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, user_id) DO NOTHING',
      [newSubjectRef(), tenantId, userId],
    );
    const row = (await find()).rows[0];
    if (!row) throw new Error('subject row vanished inside its own transaction');
    return row.subject_ref;
  }

  /** Maps subject references in `records` back to user ids (erased users keep their pseudonym). */
  private async reveal(client: pg.Pool | PoolClient, records: CanonRecord[]): Promise<CanonRecord[]> {
    const refs = [...new Set(records.flatMap((r) => subjectSlots(r)).filter(isSubjectRef))];
    if (refs.length === 0) return records;
    const linked = new Map(
      (
        await client.query<{ subject_ref: string; user_id: string | null }>(
          'SELECT subject_ref, user_id FROM subjects WHERE subject_ref = ANY($1::text[])',
          [refs],
        )
      ).rows.map((r) => [r.subject_ref, r.user_id] as const),
    );
    return records.map((r) => mapSubjects(r, (value) => linked.get(value) ?? value));
  }

  /** Appends a record; users in it are written as their subject references (subjects.ts). */
  private async appendRecord(client: PoolClient, r: NewCanonRecord): Promise<string> {
    const refs = new Map<string, string>();
    for (const userId of subjectSlots(r)) refs.set(userId, await this.subjectRef(client, r.tenantId, userId));
    const stored = mapSubjects(r, (userId) => refs.get(userId) ?? userId);
    const recordId = timeOrderedId();
    await client.query(
      `INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::timestamptz, $11)`,
      [
        recordId,
        stored.entity,
        stored.entityId,
        stored.action,
        stored.fromState,
        stored.toState,
        stored.actor,
        stored.tenantId,
        JSON.stringify(stored.payload),
        stored.canonTimestamp,
        HANDSHAKE,
      ],
    );
    return recordId;
  }

  async liveUsageOf(owner: Owner): Promise<LiveUsage> {
    return this.liveUsage(this.pool, owner);
  }

  /**
   * The live sums the quota check compares (LIVE_SUMS). With `allocate`, the same statement also opens that
   * session's allocation (one round trip less under the Genesis lock); the sums are read from the
   * statement's snapshot, so they never include it.
   */
  private async liveUsage(
    client: pg.Pool | PoolClient,
    owner: Owner,
    allocate?: { session: Session; at: string },
  ): Promise<LiveUsage> {
    const insert = allocate ? allocationInsert(allocate.session, allocate.at, 3) : undefined;
    const r = (
      await client.query<LiveDbRow>(
        `${insert ? `WITH opened AS (${insert.sql}) ` : ''}SELECT u.*, t.* FROM ${LIVE_SUMS}`,
        [owner.tenantId, owner.userId, ...(insert?.params ?? [])],
      )
    ).rows[0];
    if (!r) throw new Error('aggregate query returned no row');
    return liveOf(r);
  }

  private async openAllocation(client: PoolClient, s: Session, at: string): Promise<void> {
    const insert = allocationInsert(s, at, 1);
    await client.query(insert.sql, insert.params);
  }

  async createSession(row: SessionRow, actor: string, limits?: GenesisLimits): Promise<void> {
    if (limits && !isFinished(row.session.state)) {
      try {
        await this.createChecked(row, actor, limits);
        return;
      } catch (error) {
        if (!needsGeneralPath(error)) throw error;
      }
    }
    const s = row.session;
    await this.tx(async (c) => {
      // The general path (no limits, a finished session, or a subject erased meanwhile): the session row first, so
      // the global Genesis lock below is held for as few round trips as possible. The record is written
      // under the lock, so that an erasure of this user (same lock) never races its subject reference.
      const insert = sessionInsert(row);
      await c.query(insert.sql, insert.params);
      const live = !isFinished(s.state);
      if (limits) {
        await c.query(GENESIS_LOCK, [this.schema]);
        const usage = await this.liveUsage(c, s, live ? { session: s, at: s.createdAt } : undefined);
        const exceeded = exceededLimit(limits, usage, s.resources);
        if (exceeded) throw exceeded;
      } else if (live) {
        await this.openAllocation(c, s, s.createdAt);
      }
      for (const record of genesisRecords(s, actor)) await this.appendRecord(c, record);
    });
    // Writing the records ensured the actor's subject.
    if (!isSystemActor(actor)) this.rememberSubject(subjectKey(s.tenantId, actor));
  }

  private rememberSubject(key: string): void {
    if (this.knownSubjects.size >= MAX_KNOWN_SUBJECTS) this.knownSubjects.clear();
    this.knownSubjects.add(key);
  }

  /** A quota-checked Genesis in one round trip (postgres-genesis-statement.ts). */
  private async createChecked(row: SessionRow, actor: string, limits: GenesisLimits): Promise<void> {
    const subject = subjectKey(row.session.tenantId, actor);
    const known = this.knownSubjects.has(subject);
    let results: pg.QueryResult[];
    try {
      results = await pipelinedTransaction(
        this.pool,
        genesisStatements(row, actor, limits, this.schema, known),
      );
    } catch (error) {
      this.knownSubjects.delete(subject);
      throw error;
    }
    if (!known) this.rememberSubject(subject);
    const fit = results.at(-1)?.rows[0] as (LiveDbRow & { fits: boolean }) | undefined;
    if (!fit) throw new Error('the Genesis statement returned no row');
    if (fit.fits) return;
    throw (
      exceededLimit(limits, liveOf(fit), row.session.resources) ??
      new Error('the Genesis statement and exceededLimit disagree on the quotas')
    );
  }

  async getSession(sessionId: string): Promise<SessionRow | undefined> {
    const r = await this.pool.query<SessionArray>(read('get-session', 'WHERE session_id = $1', [sessionId]));
    const row = r.rows[0];
    return row && fromArray(row);
  }

  async getSessions(sessionIds: readonly string[]): Promise<Map<string, SessionRow>> {
    if (sessionIds.length === 0) return new Map();
    const r = await this.pool.query<SessionArray>(
      read('get-sessions', 'WHERE session_id = ANY($1::text[])', [sessionIds]),
    );
    return new Map(r.rows.map((row) => [row[0], fromArray(row)]));
  }

  async listSessions(scope: {
    tenantId: string;
    userId?: string;
    liveOnly?: boolean;
  }): Promise<SessionRow[]> {
    if (scope.liveOnly && scope.userId !== undefined) {
      const live = await this.pool.query<SessionArray>(
        read(
          'list-live-sessions-of-user',
          "WHERE tenant_id = $1 AND user_id = $2 AND state NOT IN ('terminated', 'failed') ORDER BY created_at DESC, session_id",
          [scope.tenantId, scope.userId],
        ),
      );
      return live.rows.map(fromArray);
    }
    const r =
      scope.userId === undefined
        ? await this.pool.query<SessionArray>(
            read('list-sessions-of-tenant', 'WHERE tenant_id = $1 ORDER BY created_at DESC, session_id', [
              scope.tenantId,
            ]),
          )
        : await this.pool.query<SessionArray>(
            read(
              'list-sessions-of-user',
              'WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC, session_id',
              [scope.tenantId, scope.userId],
            ),
          );
    return r.rows.map(fromArray);
  }

  /**
   * In pages from one REPEATABLE READ snapshot: node-postgres parses a whole result as it arrives, and a
   * 10,000-session result held the event loop for about 85 ms, every few seconds (the sampler, the timeout
   * check). `cursor_at` is created_at at full precision (a Date keeps only milliseconds) for the keyset.
   */
  async listUnfinished(): Promise<SessionRow[]> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const rows: SessionRow[] = [];
      const select = `SELECT *, created_at::text AS cursor_at FROM sessions WHERE state NOT IN ('terminated', 'failed')`;
      let page = await client.query<PagedSessionDbRow>({
        text: `${select} ORDER BY created_at, session_id LIMIT $1`,
        values: [SCAN_PAGE],
        types: ISO_TIMES,
      });
      for (;;) {
        for (const row of page.rows) rows.push(toRow(row));
        const last = page.rows[page.rows.length - 1];
        if (!last || page.rows.length < SCAN_PAGE) break;
        page = await client.query<PagedSessionDbRow>({
          // The first condition lets the partial index on created_at find where the page starts.
          text: `${select} AND created_at >= $1::timestamptz AND (created_at, session_id) > ($1::timestamptz, $2)
                 ORDER BY created_at, session_id LIMIT $3`,
          values: [last.cursor_at, last.session_id, SCAN_PAGE],
          types: ISO_TIMES,
        });
      }
      await client.query('COMMIT');
      return rows;
    } catch (error) {
      broken = await rollBack(client);
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async liveTotals(): Promise<LiveTotals[]> {
    const r = await this.pool.query<{
      state: SessionState;
      tier: TierId;
      sessions: Int8;
      cpu: Int8;
      memory: Int8;
      gpus: Int8;
    }>(
      `SELECT state, tier, count(*) AS sessions,
              coalesce(sum((resources->>'cpuMillicores')::bigint), 0) AS cpu,
              coalesce(sum((resources->>'memoryMiB')::bigint), 0) AS memory,
              coalesce(sum((resources->>'gpus')::bigint), 0) AS gpus
         FROM sessions WHERE state NOT IN ('terminated', 'failed') GROUP BY state, tier ORDER BY state, tier`,
    );
    return r.rows.map((x) => ({
      state: x.state,
      tier: x.tier,
      sessions: int(x.sessions),
      cpuMillicores: int(x.cpu),
      memoryMiB: int(x.memory),
      gpus: int(x.gpus),
    }));
  }

  async listLaunchesSince(since: Date): Promise<LaunchRecord[]> {
    const r = await this.pool.query<{
      user_id: string;
      tenant_id: string;
      tier: Session['tier'];
      created_at: Date;
    }>(
      'SELECT user_id, tenant_id, tier, created_at FROM sessions WHERE created_at >= $1 ORDER BY created_at',
      [since],
    );
    return r.rows.map((x) => ({
      userId: x.user_id,
      tenantId: x.tenant_id,
      tier: x.tier,
      createdAt: x.created_at.toISOString(),
    }));
  }

  async transition(req: TransitionRequest): Promise<SessionRow | undefined> {
    if (coversTransition(req)) {
      try {
        const { text, values } = transitionStatement(req);
        const r = await this.pool.query<SessionDbRow>({ text, values, types: ISO_TIMES });
        const row = r.rows[0];
        return row && toRow(row);
      } catch (error) {
        if (!needsGeneralPath(error)) throw error;
      }
    }
    return this.tx(async (c): Promise<SessionRow | undefined> => {
      // The row lock makes a racing transition (any replica) wait, then see the state this one wrote.
      const current = (
        await c.query<SessionDbRow>('SELECT * FROM sessions WHERE session_id = $1 FOR UPDATE', [
          req.sessionId,
        ])
      ).rows[0];
      if (!current || !req.from.includes(current.state)) return undefined;
      const at = req.at.toISOString();
      const runtime = req.runtime === undefined ? current.runtime : req.runtime === null ? null : req.runtime;
      const updated = (
        await c.query<SessionDbRow>(
          `UPDATE sessions SET state = $1, failure_reason = $2, runtime = $3::jsonb, canon_timestamp = $4::timestamptz
           WHERE session_id = $5 RETURNING *`,
          [
            req.to,
            req.failureReason ?? current.failure_reason,
            runtime === null ? null : JSON.stringify(runtime),
            at,
            req.sessionId,
          ],
        )
      ).rows[0];
      if (!updated) throw new Error(`session ${req.sessionId} vanished while locked`);
      const payload: Record<string, unknown> = {};
      let result = updated;
      if (req.tierChange) {
        result = await this.retier(c, current, req.tierChange, at);
        Object.assign(payload, {
          tier: req.tierChange.tier,
          fromTier: current.tier,
          resources: req.tierChange.resources,
        });
      }
      if (req.failureReason !== undefined) payload.failureReason = req.failureReason;
      if (req.runtime)
        payload.runtime = { kind: req.runtime.kind, display: req.runtime.display, port: req.runtime.port };
      await this.appendRecord(c, {
        entity: 'session',
        entityId: req.sessionId,
        action: req.action,
        fromState: current.state,
        toState: req.to,
        actor: req.actor,
        tenantId: current.tenant_id,
        payload,
        canonTimestamp: at,
      });
      if (isFinished(req.to)) {
        await c.query(
          'UPDATE allocations SET released_at = $1::timestamptz WHERE session_id = $2 AND released_at IS NULL',
          [at, req.sessionId],
        );
      } else if (isFinished(current.state)) {
        // Not a move the lifecycle makes; if it happens the session holds resources again.
        await this.openAllocation(c, toRow(updated).session, at);
      }
      if (req.usage) await this.insertUsage(c, req.usage, req.actor, at);
      return toRow(result);
    });
  }

  /** A tier change inside the caller's transaction: the old allocation released, the new one checked and taken. */
  private async retier(
    c: PoolClient,
    current: SessionDbRow,
    change: NonNullable<TransitionRequest['tierChange']>,
    at: string,
  ): Promise<SessionDbRow> {
    const owner = { tenantId: current.tenant_id, userId: current.user_id };
    // The same lock as Genesis: the quota sums cannot move under this check.
    if (change.limits) await c.query(GENESIS_LOCK, [this.schema]);
    await c.query(
      'UPDATE allocations SET released_at = $1::timestamptz WHERE session_id = $2 AND released_at IS NULL',
      [at, current.session_id],
    );
    if (change.limits) {
      const exceeded = exceededLimit(change.limits, await this.liveUsage(c, owner), change.resources);
      if (exceeded) throw exceeded;
    }
    const updated = (
      await c.query<SessionDbRow>(
        'UPDATE sessions SET tier = $1, resources = $2::jsonb WHERE session_id = $3 RETURNING *',
        [change.tier, JSON.stringify(change.resources), current.session_id],
      )
    ).rows[0];
    if (!updated) throw new Error(`session ${current.session_id} vanished while locked`);
    await this.openAllocation(c, toRow(updated).session, at);
    return updated;
  }

  private async insertUsage(c: PoolClient, u: UsageRecord, actor: string, at: string): Promise<void> {
    await c.query(
      `INSERT INTO usage (session_id, user_id, tenant_id, start_time, end_time, resource_consumption, cost, canon_record)
       VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz, $6::jsonb, $7, TRUE)`,
      [
        u.sessionId,
        u.userId,
        u.tenantId,
        u.startTime,
        u.endTime,
        JSON.stringify(u.resourceConsumption),
        String(u.cost),
      ],
    );
    await this.appendRecord(c, {
      entity: 'usage',
      entityId: u.sessionId,
      action: 'usage.recorded',
      fromState: null,
      toState: null,
      actor,
      tenantId: u.tenantId,
      payload: { ...u },
      canonTimestamp: at,
    });
  }

  /** The entity id as stored (a per-user entity names the subject reference); undefined if none exists. */
  private async storedEntityId(entityId: string): Promise<string | undefined> {
    const splits = ownerSplits(entityId);
    if (splits.length === 0) return entityId;
    for (const owner of splits) {
      if (isSubjectRef(owner.userId)) return entityId; // already a pseudonym (an erased user's audit trail)
      const row = (
        await this.pool.query<{ subject_ref: string }>(
          'SELECT subject_ref FROM subjects WHERE tenant_id = $1 AND user_id = $2',
          [owner.tenantId, owner.userId],
        )
      ).rows[0];
      if (row) return `${owner.kind}:${owner.tenantId}:${row.subject_ref}`;
    }
    return undefined;
  }

  async listRecords(entityId: string): Promise<CanonRecord[]> {
    if (ownerSplits(entityId).length === 0) return this.listEntityRecords(entityId);
    const stored = await this.storedEntityId(entityId);
    if (stored === undefined) return [];
    const r = await this.pool.query<RecordDbRow>(
      'SELECT * FROM canon_records WHERE entity_id = $1 ORDER BY seq',
      [stored],
    );
    return this.reveal(this.pool, r.rows.map(toRecord));
  }

  /**
   * The records of an entity whose id names nobody (a session, say) with the people in them mapped back to
   * user ids by the same query: metering reads a session's records at every termination and list, and the
   * separate subjects lookup was a second round trip each time.
   */
  private async listEntityRecords(entityId: string): Promise<CanonRecord[]> {
    return (await this.entityRecords('WHERE r.entity_id = $1', [entityId])).get(entityId) ?? [];
  }

  async listSessionRecords(sessionIds: readonly string[]): Promise<Map<string, CanonRecord[]>> {
    if (sessionIds.length === 0) return new Map();
    return this.entityRecords('WHERE r.entity_id = ANY($1::text[])', [sessionIds]);
  }

  /** Records of entities whose ids name nobody, by entity, each in order (see listEntityRecords). */
  private async entityRecords(where: string, params: unknown[]): Promise<Map<string, CanonRecord[]>> {
    const r = await this.pool.query<RecordDbRow & { actor_user: string | null; payload_user: string | null }>(
      `SELECT r.*, a.user_id AS actor_user, p.user_id AS payload_user
         FROM canon_records r
         LEFT JOIN subjects a ON a.subject_ref = r.actor
         LEFT JOIN subjects p ON p.subject_ref = r.payload->>'userId'
        ${where} ORDER BY r.entity_id, r.seq`,
      params,
    );
    const out = new Map<string, CanonRecord[]>();
    for (const row of r.rows) {
      const record = toRecord(row);
      // Erased users keep their pseudonym (user_id is NULL).
      const linked = new Map<string, string>();
      if (row.actor_user !== null) linked.set(row.actor, row.actor_user);
      const payloadUser = row.payload['userId'];
      if (row.payload_user !== null && typeof payloadUser === 'string')
        linked.set(payloadUser, row.payload_user);
      const list = out.get(row.entity_id) ?? [];
      list.push(linked.size === 0 ? record : mapSubjects(record, (value) => linked.get(value) ?? value));
      out.set(row.entity_id, list);
    }
    return out;
  }

  async pseudonymOf(owner: Owner): Promise<string> {
    return this.tx((c) => this.subjectRef(c, owner.tenantId, owner.userId));
  }

  async recordPrivacyEvent(event: {
    subject: Owner;
    action: string;
    actor: string;
    at: Date;
    payload: Record<string, unknown>;
  }): Promise<CanonRecord> {
    return this.tx(async (c) => {
      const recordId = await this.appendRecord(c, {
        entity: 'privacy',
        entityId: privacyEntityId(event.subject),
        action: event.action,
        fromState: null,
        toState: null,
        actor: event.actor,
        tenantId: event.subject.tenantId,
        payload: event.payload,
        canonTimestamp: event.at.toISOString(),
      });
      const row = (await c.query<RecordDbRow>('SELECT * FROM canon_records WHERE record_id = $1', [recordId]))
        .rows[0];
      if (!row) throw new Error('privacy record vanished inside its own transaction');
      const [revealed] = await this.reveal(c, [toRecord(row)]);
      if (!revealed) throw new Error('privacy record lost while reading it back');
      return revealed;
    });
  }

  async eraseSubject(request: ErasureRequest): Promise<ErasureResult> {
    const { tenantId, userId } = request.subject;
    const erasedAt = request.at.toISOString();
    return this.tx(async (c) => {
      // Serialises with a concurrent genesis of this user (which takes the same lock when limits apply).
      await c.query(GENESIS_LOCK, [this.schema]);
      const live = (
        await c.query<{ n: Int8 }>(
          "SELECT count(*) AS n FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND state NOT IN ('terminated', 'failed')",
          [tenantId, userId],
        )
      ).rows[0];
      if (live && int(live.n) > 0) throw new SubjectHasLiveSessionsError(int(live.n));
      const pseudonym = await this.subjectRef(c, tenantId, userId);
      const replace = async (table: string) =>
        (
          await c.query(`UPDATE ${table} SET user_id = $1 WHERE tenant_id = $2 AND user_id = $3`, [
            pseudonym,
            tenantId,
            userId,
          ])
        ).rowCount ?? 0;
      const counts = {
        sessionsPseudonymised: await replace('sessions'),
        usageRecordsPseudonymised: await replace('usage'),
        allocationsPseudonymised: await replace('allocations'),
        preferencesDeleted:
          ((
            await c.query('DELETE FROM preferences WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId])
          ).rowCount ?? 0) > 0,
      };
      // Workspaces keep the person's place (who owned, who was invited) under the pseudonym.
      await replace('workspace_members');
      for (const column of ['owner_id', 'controller_id']) {
        await c.query(`UPDATE workspaces SET ${column} = $1 WHERE tenant_id = $2 AND ${column} = $3`, [
          pseudonym,
          tenantId,
          userId,
        ]);
      }
      // The audit record is written while the pseudonym still resolves, then the link is cut.
      const auditRecordId = await this.appendRecord(c, {
        entity: 'privacy',
        entityId: privacyEntityId(request.subject),
        action: 'privacy.erased',
        fromState: null,
        toState: null,
        actor: request.actor,
        tenantId,
        payload: { pseudonym, ...counts, ...request.details },
        canonTimestamp: erasedAt,
      });
      await c.query(
        'UPDATE subjects SET user_id = NULL, erased_at = $1::timestamptz WHERE subject_ref = $2',
        [erasedAt, pseudonym],
      );
      this.knownSubjects.delete(subjectKey(tenantId, userId));
      return { pseudonym, erasedAt, ...counts, auditRecordId };
    });
  }

  async getUsage(sessionId: string): Promise<UsageRecord | undefined> {
    const r = (await this.pool.query<UsageDbRow>('SELECT * FROM usage WHERE session_id = $1', [sessionId]))
      .rows[0];
    return r && usageOf(r);
  }

  async getUsages(sessionIds: readonly string[]): Promise<Map<string, UsageRecord>> {
    if (sessionIds.length === 0) return new Map();
    const r = await this.pool.query<UsageDbRow>('SELECT * FROM usage WHERE session_id = ANY($1::text[])', [
      sessionIds,
    ]);
    return new Map(r.rows.map((row) => [row.session_id, usageOf(row)]));
  }

  async touchActivity(sessionId: string, at: Date): Promise<void> {
    // Only ever moves forward, so a late, throttled touch cannot rewind the idle clock.
    await this.pool.query(
      'UPDATE sessions SET last_activity_at = $2::timestamptz WHERE session_id = $1 AND last_activity_at < $2::timestamptz',
      [sessionId, at.toISOString()],
    );
  }

  async getPreferences(owner: Owner): Promise<PreferencesRow | undefined> {
    const r = (
      await this.pool.query<PreferencesDbRow>(
        'SELECT * FROM preferences WHERE tenant_id = $1 AND user_id = $2',
        [owner.tenantId, owner.userId],
      )
    ).rows[0];
    return r && toPreferences(r);
  }

  async putPreferences(
    owner: Owner,
    preferences: Record<string, unknown>,
    at: Date,
  ): Promise<PreferencesRow> {
    const updatedAt = at.toISOString();
    return this.tx(async (c) => {
      // Last writer by server timestamp wins; a concurrent upsert waits on the row and re-checks the newest one.
      const written = (
        await c.query<PreferencesDbRow>(
          `INSERT INTO preferences (tenant_id, user_id, preferences, updated_at)
           VALUES ($1, $2, $3::jsonb, $4::timestamptz)
           ON CONFLICT (tenant_id, user_id) DO UPDATE
             SET preferences = EXCLUDED.preferences, updated_at = EXCLUDED.updated_at
             WHERE EXCLUDED.updated_at >= preferences.updated_at
           RETURNING *`,
          [owner.tenantId, owner.userId, JSON.stringify(preferences), updatedAt],
        )
      ).rows[0];
      await this.appendRecord(c, {
        entity: 'preferences',
        entityId: preferencesEntityId(owner),
        action: written ? 'preferences.updated' : 'preferences.superseded',
        fromState: null,
        toState: null,
        actor: owner.userId,
        tenantId: owner.tenantId,
        payload: { userId: owner.userId, preferences, applied: written !== undefined },
        canonTimestamp: updatedAt,
      });
      const stored =
        written ??
        (
          await c.query<PreferencesDbRow>('SELECT * FROM preferences WHERE tenant_id = $1 AND user_id = $2', [
            owner.tenantId,
            owner.userId,
          ])
        ).rows[0];
      if (!stored) throw new Error('preferences row vanished inside its own transaction');
      return toPreferences(stored);
    });
  }

  async listAllocations(owner: Owner): Promise<AllocationRecord[]> {
    const r = await this.pool.query<AllocationDbRow>(
      `SELECT session_id, tier, resources, allocated_at, released_at FROM allocations
       WHERE tenant_id = $1 AND user_id = $2 ORDER BY allocated_at DESC, allocation_id DESC`,
      [owner.tenantId, owner.userId],
    );
    return r.rows.map((x) => ({
      sessionId: x.session_id,
      tier: x.tier,
      resources: x.resources,
      allocatedAt: x.allocated_at.toISOString(),
      releasedAt: x.released_at === null ? null : x.released_at.toISOString(),
    }));
  }

  /** The workspace with its sessions and members; `lock` row-locks it for the caller's transaction. */
  private async readWorkspace(
    c: pg.Pool | PoolClient,
    workspaceId: string,
    lock = false,
  ): Promise<Workspace | undefined> {
    const w = (
      await c.query<WorkspaceDbRow>(
        `SELECT * FROM workspaces WHERE workspace_id = $1${lock ? ' FOR UPDATE' : ''}`,
        [workspaceId],
      )
    ).rows[0];
    if (!w) return undefined;
    const sessionIds = (
      await c.query<{ session_id: string }>(
        'SELECT session_id FROM workspace_sessions WHERE workspace_id = $1 ORDER BY position',
        [workspaceId],
      )
    ).rows.map((r) => r.session_id);
    const members = (
      await c.query<WorkspaceMemberDbRow>(
        'SELECT user_id, role, status, invited_at, joined_at FROM workspace_members WHERE workspace_id = $1 ORDER BY position',
        [workspaceId],
      )
    ).rows.map((m) => ({
      userId: m.user_id,
      role: m.role,
      status: m.status,
      invitedAt: m.invited_at.toISOString(),
      joinedAt: m.joined_at === null ? null : m.joined_at.toISOString(),
    }));
    return {
      workspaceId: w.workspace_id,
      tenantId: w.tenant_id,
      name: w.name,
      ownerId: w.owner_id,
      state: w.state,
      sessionIds,
      members,
      controllerId: w.controller_id,
      createdAt: w.created_at.toISOString(),
      updatedAt: w.updated_at.toISOString(),
      handshake: HANDSHAKE,
    };
  }

  /** Writes the workspace's current state (members rewritten in order), inside the caller's transaction. */
  private async writeWorkspaceState(c: PoolClient, w: Workspace): Promise<void> {
    await c.query(
      'UPDATE workspaces SET state = $1, controller_id = $2, updated_at = $3::timestamptz WHERE workspace_id = $4',
      [w.state, w.controllerId, w.updatedAt, w.workspaceId],
    );
    await c.query('DELETE FROM workspace_members WHERE workspace_id = $1', [w.workspaceId]);
    for (const [position, m] of w.members.entries()) {
      await c.query(
        `INSERT INTO workspace_members (workspace_id, tenant_id, user_id, role, status, position, invited_at, joined_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::timestamptz)`,
        [w.workspaceId, w.tenantId, m.userId, m.role, m.status, position, m.invitedAt, m.joinedAt],
      );
    }
  }

  async createWorkspace(w: Workspace, changes: readonly WorkspaceChange[] = []): Promise<Workspace> {
    return this.tx(async (c) => {
      await c.query(
        `INSERT INTO workspaces (workspace_id, tenant_id, owner_id, name, state, controller_id, created_at, updated_at, handshake)
         VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::timestamptz, $9)`,
        [
          w.workspaceId,
          w.tenantId,
          w.ownerId,
          w.name,
          w.state,
          w.controllerId,
          w.createdAt,
          w.updatedAt,
          HANDSHAKE,
        ],
      );
      for (const [position, sessionId] of w.sessionIds.entries()) {
        await c.query(
          'INSERT INTO workspace_sessions (workspace_id, session_id, position) VALUES ($1, $2, $3)',
          [w.workspaceId, sessionId, position],
        );
      }
      await this.writeWorkspaceState(c, w);
      await this.appendRecord(c, {
        entity: 'workspace',
        entityId: w.workspaceId,
        action: 'workspace.created',
        fromState: null,
        toState: null,
        actor: w.ownerId,
        tenantId: w.tenantId,
        payload: { name: w.name, sessionIds: w.sessionIds },
        canonTimestamp: w.createdAt,
      });
      let current = w;
      for (const change of changes) current = await this.recordChange(c, current, change, w.createdAt);
      return current;
    });
  }

  async getWorkspace(workspaceId: string): Promise<Workspace | undefined> {
    return this.readWorkspace(this.pool, workspaceId);
  }

  private async readWorkspaces(ids: string[]): Promise<Workspace[]> {
    const out: Workspace[] = [];
    for (const id of ids) {
      const w = await this.readWorkspace(this.pool, id);
      if (w) out.push(w);
    }
    return out;
  }

  async listWorkspaces(scope: Owner): Promise<Workspace[]> {
    const r = await this.pool.query<{ workspace_id: string }>(
      `SELECT w.workspace_id FROM workspaces w JOIN workspace_members m ON m.workspace_id = w.workspace_id
       WHERE m.tenant_id = $1 AND m.user_id = $2 ORDER BY w.created_at DESC, w.workspace_id`,
      [scope.tenantId, scope.userId],
    );
    return this.readWorkspaces(r.rows.map((x) => x.workspace_id));
  }

  async listWorkspacesOfSession(sessionId: string): Promise<Workspace[]> {
    const r = await this.pool.query<{ workspace_id: string }>(
      `SELECT w.workspace_id FROM workspaces w JOIN workspace_sessions s ON s.workspace_id = w.workspace_id
       WHERE s.session_id = $1 AND w.state = 'open' ORDER BY w.created_at DESC, w.workspace_id`,
      [sessionId],
    );
    return this.readWorkspaces(r.rows.map((x) => x.workspace_id));
  }

  async changeWorkspace(workspaceId: string, change: WorkspaceChange, at: Date): Promise<Workspace> {
    return this.tx(async (c) => {
      // The row lock makes a racing change (any replica) wait, then decide on the state this one wrote.
      const current = await this.readWorkspace(c, workspaceId, true);
      if (!current) throw new WorkspaceChangeError('WORKSPACE_NOT_FOUND', 'no such workspace');
      return this.recordChange(c, current, change, at.toISOString());
    });
  }

  /** Decides `change` on `current` and writes the outcome with its record (inside the caller's transaction). */
  private async recordChange(
    c: pg.PoolClient,
    current: Workspace,
    change: WorkspaceChange,
    at: string,
  ): Promise<Workspace> {
    const { workspace, record } = decideWorkspaceChange(current, change, at);
    await this.writeWorkspaceState(c, workspace);
    await this.appendRecord(c, record);
    return workspace;
  }

  connections(): PoolConnections {
    return poolConnections(this.pool);
  }

  /**
   * True when the server answered on any connection within PING_FRESH_MS, or answers `SELECT 1` now; false
   * once the store is closed (its last answers may still be fresh).
   */
  async ping(): Promise<boolean> {
    if (this.pool.ending || this.pool.ended) return false;
    if (this.contact.answeredWithin(PING_FRESH_MS)) return true;
    try {
      return (await this.pool.query<{ ok: number }>('SELECT 1 AS ok')).rows[0]?.ok === 1;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function subjectKey(tenantId: string, userId: string): string {
  return `${tenantId}\u0000${userId}`;
}
