import type Database from 'better-sqlite3';
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
  CanonStorageHealth,
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
import { applySqliteMigrations } from './sqlite-migrations.ts';
import { openSqliteConnection, type SqliteConnection } from '../sql/sqlite-connection.ts';
import type { SqliteGroupCommit } from '../sql/sqlite-group-commit.ts';
import type { TransactionOptions } from '../sql/sql-db.ts';
import { SqliteSnapshotReader } from '../sql/sqlite-snapshot-reader.ts';
import {
  newSubjectRef,
  isSubjectRef,
  mapSubjects,
  privacyEntityId,
  ownerSplits,
  type ErasureRequest,
  type ErasureResult,
} from './subjects.ts';
import { SubjectHasLiveSessionsError } from './canon-store.ts';
import type { Workspace, WorkspaceMember } from '../../protocol/workspaces.ts';
import { WorkspaceChangeError, type WorkspaceChange } from './workspace-changes.ts';
import { timeOrderedId } from '../time-ordered-id.ts';

interface SessionDbRow {
  session_id: string;
  user_id: string;
  tenant_id: string;
  tier: Session['tier'];
  resources: string;
  state: SessionState;
  failure_reason: string | null;
  runtime: string | null;
  created_at: string;
  canon_timestamp: string;
  last_activity_at: string;
}

interface RecordDbRow {
  seq: number;
  record_id: string;
  entity: CanonRecord['entity'];
  entity_id: string;
  action: string;
  from_state: SessionState | null;
  to_state: SessionState | null;
  actor: string;
  tenant_id: string;
  payload: string;
  canon_timestamp: string;
}

interface UsageDbRow {
  session_id: string;
  user_id: string;
  tenant_id: string;
  start_time: string;
  end_time: string;
  resource_consumption: string;
  cost: number;
}

interface PreferencesDbRow {
  tenant_id: string;
  user_id: string;
  preferences: string;
  updated_at: string;
}

interface AllocationDbRow {
  session_id: string;
  tier: Session['tier'];
  resources: string;
  allocated_at: string;
  released_at: string | null;
}

interface SumsDbRow {
  sessions: number;
  cpu: number;
  memory: number;
}

interface TenantAndClusterSumsDbRow extends SumsDbRow {
  storage: number;
  tenant_sessions: number;
  tenant_cpu: number;
  tenant_memory: number;
}

type Owner = { userId: string; tenantId: string };

interface WorkspaceDbRow {
  workspace_id: string;
  tenant_id: string;
  owner_id: string;
  name: string;
  state: Workspace['state'];
  controller_id: string | null;
  created_at: string;
  updated_at: string;
}

interface WorkspaceMemberDbRow {
  user_id: string;
  role: WorkspaceMember['role'];
  status: WorkspaceMember['status'];
  invited_at: string;
  joined_at: string | null;
}

function usageOf(r: UsageDbRow): UsageRecord {
  return {
    sessionId: r.session_id,
    userId: r.user_id,
    tenantId: r.tenant_id,
    startTime: r.start_time,
    endTime: r.end_time,
    resourceConsumption: JSON.parse(r.resource_consumption) as UsageRecord['resourceConsumption'],
    cost: r.cost,
    canonRecord: true,
  };
}

function toRow(r: SessionDbRow): SessionRow {
  const session: Session = {
    sessionId: r.session_id,
    userId: r.user_id,
    tenantId: r.tenant_id,
    tier: r.tier,
    resources: JSON.parse(r.resources) as Session['resources'],
    state: r.state,
    createdAt: r.created_at,
    canonTimestamp: r.canon_timestamp,
    handshake: HANDSHAKE,
  };
  if (r.failure_reason !== null) session.failureReason = r.failure_reason;
  return {
    session,
    runtime: r.runtime === null ? null : (JSON.parse(r.runtime) as RuntimeHandle),
    lastActivityAt: r.last_activity_at,
  };
}

/** Sessions not terminated or failed (the partial indexes of migration 5 have the same condition). */
const UNFINISHED = "WHERE state NOT IN ('terminated', 'failed')";

/** /metrics' totals of live sessions by state and tier: read through the partial index of unfinished ones. */
export const LIVE_TOTALS = `SELECT state, tier, count(*) AS sessions,
    coalesce(sum(json_extract(resources, '$.cpuMillicores')), 0) AS cpu,
    coalesce(sum(json_extract(resources, '$.memoryMiB')), 0) AS memory,
    coalesce(sum(json_extract(resources, '$.gpus')), 0) AS gpus
  FROM sessions ${UNFINISHED} GROUP BY state, tier ORDER BY state, tier`;

/**
 * A session row's columns in the order rawSession reads them (the handshake column is a constant). Session
 * rows are read as arrays: better-sqlite3 builds an array per row far faster than an object, and building
 * row objects was the largest single cost of listing sessions in the API latency profile.
 */
const SESSION_COLUMNS =
  'session_id, user_id, tenant_id, tier, resources, state, failure_reason, runtime, created_at, canon_timestamp, last_activity_at';
type SessionRaw = [
  string,
  string,
  string,
  Session['tier'],
  string,
  SessionState,
  string | null,
  string | null,
  string,
  string,
  string,
];

function rawSession(r: SessionRaw): SessionDbRow {
  return {
    session_id: r[0],
    user_id: r[1],
    tenant_id: r[2],
    tier: r[3],
    resources: r[4],
    state: r[5],
    failure_reason: r[6],
    runtime: r[7],
    created_at: r[8],
    canon_timestamp: r[9],
    last_activity_at: r[10],
  };
}

/** The user's open allocations, summed (a handful: the per-user limits bound them). */
const USER_LIVE_SUMS = `SELECT count(*) AS sessions, coalesce(sum(cpu_millicores), 0) AS cpu,
  coalesce(sum(memory_mib), 0) AS memory FROM allocations
  WHERE released_at IS NULL AND tenant_id = ? AND user_id = ?`;

/** The tenant's and the cluster's, from the sums the allocations' triggers keep (migration 6): one row per tenant. */
const TENANT_AND_CLUSTER_SUMS = `SELECT
  coalesce(sum(sessions) FILTER (WHERE tenant_id = @tenant), 0) AS tenant_sessions,
  coalesce(sum(cpu_millicores) FILTER (WHERE tenant_id = @tenant), 0) AS tenant_cpu,
  coalesce(sum(memory_mib) FILTER (WHERE tenant_id = @tenant), 0) AS tenant_memory,
  coalesce(sum(sessions), 0) AS sessions, coalesce(sum(cpu_millicores), 0) AS cpu,
  coalesce(sum(memory_mib), 0) AS memory, coalesce(sum(storage_gib), 0) AS storage
  FROM live_tenant_usage`;

/**
 * Canon Memory in an embedded SQLite file (the default). An acknowledged write survives a crash or power loss
 * (the WAL is flushed before it is acknowledged; sqlite-connection.ts). Every write runs in an IMMEDIATE
 * transaction (the write lock is taken before the first read), so a compare-and-set or a quota check cannot be
 * overtaken by another process writing the same file; writes of one event-loop turn share that transaction and
 * its flush (sqlite-group-commit.ts).
 */
export class SqliteCanonStore implements CanonStore {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly rawStatements = new Map<string, Database.Statement>();
  private readonly connection: SqliteConnection;
  private readonly commits: SqliteGroupCommit;
  /** Scans of every live session, paged off a snapshot; none for `:memory:` (no second connection sees it). */
  private readonly scans: SqliteSnapshotReader | undefined;
  private closed = false;

  constructor(file: string) {
    this.connection = openSqliteConnection(file);
    this.commits = this.connection.commits;
    applySqliteMigrations(this.db);
    this.scans = file === ':memory:' ? undefined : new SqliteSnapshotReader(file);
  }

  /** The shared connection; refused once this store is closed, though billing may still be using it. */
  private get db(): Database.Database {
    if (this.closed) throw new Error('Canon Memory is closed');
    return this.connection.db;
  }

  schemaVersion(): number {
    const row = this.db
      .prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_migrations')
      .get();
    return row?.v ?? 0;
  }

  /** Prepared once per SQL text. */
  private sql<P extends unknown[], R = unknown>(text: string): Database.Statement<P, R> {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  }

  /** Session rows `SELECT`ed by `clause` (what follows FROM sessions), as SessionDbRow; prepared once each. */
  private sessions<P extends unknown[]>(clause: string, ...params: P): SessionDbRow[] {
    const text = `SELECT ${SESSION_COLUMNS} FROM sessions ${clause}`;
    let statement = this.rawStatements.get(text);
    if (!statement) {
      statement = this.db.prepare(text).raw(true);
      this.rawStatements.set(text, statement);
    }
    return (statement.all(...params) as SessionRaw[]).map(rawSession);
  }

  /**
   * The subject reference of a user (created on first use), inside the caller's transaction, which holds the
   * write lock: a user seen before costs one read, not an upsert and a read.
   */
  private subjectRef(tenantId: string, userId: string): string {
    const find = this.sql<[string, string], { subject_ref: string }>(
      'SELECT subject_ref FROM subjects WHERE tenant_id = ? AND user_id = ?',
    );
    const known = find.get(tenantId, userId);
    if (known) return known.subject_ref;
    this.sql('INSERT INTO subjects (subject_ref, tenant_id, user_id) VALUES (?, ?, ?)').run(
      newSubjectRef(),
      tenantId,
      userId,
    );
    const row = find.get(tenantId, userId);
    if (!row) throw new Error('subject row vanished inside its own transaction');
    return row.subject_ref;
  }

  /** A subject reference's user id while it is linked; the reference itself once the user is erased. */
  private revealer(): (value: string) => string {
    const seen = new Map<string, string>();
    return (value) => {
      if (!isSubjectRef(value)) return value;
      let userId = seen.get(value);
      if (userId === undefined) {
        const row = this.sql<[string], { user_id: string | null }>(
          'SELECT user_id FROM subjects WHERE subject_ref = ?',
        ).get(value);
        userId = row?.user_id ?? value;
        seen.set(value, userId);
      }
      return userId;
    };
  }

  /** Appends a record; users in it are written as their subject references (subjects.ts). */
  private appendRecord(r: NewCanonRecord): string {
    const stored = mapSubjects(r, (userId) => this.subjectRef(r.tenantId, userId));
    const recordId = timeOrderedId();
    this.sql(
      `INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
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
    );
    return recordId;
  }

  async liveUsageOf(owner: Owner): Promise<LiveUsage> {
    return this.liveUsage(owner);
  }

  private liveUsage(owner: Owner): LiveUsage {
    const user = this.sql<[string, string], SumsDbRow>(USER_LIVE_SUMS).get(owner.tenantId, owner.userId);
    const cluster = this.sql<[{ tenant: string }], TenantAndClusterSumsDbRow>(TENANT_AND_CLUSTER_SUMS).get({
      tenant: owner.tenantId,
    });
    return {
      user: {
        sessions: user?.sessions ?? 0,
        cpuMillicores: user?.cpu ?? 0,
        memoryMiB: user?.memory ?? 0,
      },
      tenant: {
        sessions: cluster?.tenant_sessions ?? 0,
        cpuMillicores: cluster?.tenant_cpu ?? 0,
        memoryMiB: cluster?.tenant_memory ?? 0,
      },
      cluster: {
        sessions: cluster?.sessions ?? 0,
        cpuMillicores: cluster?.cpu ?? 0,
        memoryMiB: cluster?.memory ?? 0,
        storageGiB: cluster?.storage ?? 0,
      },
    };
  }

  private openAllocation(s: Session, at: string): void {
    this.sql(
      `INSERT INTO allocations (${ALLOCATION_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(...allocationValues(s, at));
  }

  async createSession(
    row: SessionRow,
    actor: string,
    limits?: GenesisLimits,
    options: TransactionOptions = {},
  ): Promise<void> {
    const s = row.session;
    return this.commits.run(() => {
      if (limits) {
        const exceeded = exceededLimit(limits, this.liveUsage(s), s.resources);
        if (exceeded) throw exceeded;
      }
      this.sql(
        `INSERT INTO sessions (${SESSION_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(...sessionValues(row));
      for (const record of genesisRecords(s, actor)) this.appendRecord(record);
      if (!isFinished(s.state)) this.openAllocation(s, s.createdAt);
    }, options.acknowledge);
  }

  private selectSession(sessionId: string): SessionDbRow | undefined {
    return this.sessions('WHERE session_id = ?', sessionId)[0];
  }

  async getSession(sessionId: string): Promise<SessionRow | undefined> {
    const r = this.selectSession(sessionId);
    return r && toRow(r);
  }

  async getSessions(sessionIds: readonly string[]): Promise<Map<string, SessionRow>> {
    const out = new Map<string, SessionRow>();
    for (const id of sessionIds) {
      const r = this.selectSession(id);
      if (r) out.set(id, toRow(r));
    }
    return out;
  }

  async listSessions(scope: {
    tenantId: string;
    userId?: string;
    liveOnly?: boolean;
  }): Promise<SessionRow[]> {
    if (scope.liveOnly && scope.userId !== undefined) {
      return this.sessions(
        "WHERE tenant_id = ? AND user_id = ? AND state NOT IN ('terminated', 'failed') ORDER BY created_at DESC, session_id",
        scope.tenantId,
        scope.userId,
      ).map(toRow);
    }
    if (scope.userId === undefined) {
      return this.sessions('WHERE tenant_id = ? ORDER BY created_at DESC, session_id', scope.tenantId).map(
        toRow,
      );
    }
    return this.sessions(
      'WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC, session_id',
      scope.tenantId,
      scope.userId,
    ).map(toRow);
  }

  async listUnfinished(): Promise<SessionRow[]> {
    if (this.closed) throw new Error('Canon Memory is closed');
    if (!this.scans) return this.sessions(`${UNFINISHED} ORDER BY created_at, session_id`).map(toRow);
    return this.scans.read<SessionRaw, SessionRow>(
      {
        first: `SELECT ${SESSION_COLUMNS} FROM sessions ${UNFINISHED} ORDER BY created_at, session_id LIMIT ?`,
        // The first condition lets the partial index on created_at find where the page starts.
        after: `SELECT ${SESSION_COLUMNS} FROM sessions ${UNFINISHED}
                  AND created_at >= ? AND (created_at, session_id) > (?, ?)
                ORDER BY created_at, session_id LIMIT ?`,
        key: (r) => [r[8], r[8], r[0]],
      },
      (r) => toRow(rawSession(r)),
    );
  }

  async liveTotals(): Promise<LiveTotals[]> {
    return this.sql<
      [],
      { state: SessionState; tier: TierId; sessions: number; cpu: number; memory: number; gpus: number }
    >(LIVE_TOTALS)
      .all()
      .map((r) => ({
        state: r.state,
        tier: r.tier,
        sessions: r.sessions,
        cpuMillicores: r.cpu,
        memoryMiB: r.memory,
        gpus: r.gpus,
      }));
  }

  async listLaunchesSince(since: Date): Promise<LaunchRecord[]> {
    return this.sql<
      [string],
      { user_id: string; tenant_id: string; tier: Session['tier']; created_at: string }
    >('SELECT user_id, tenant_id, tier, created_at FROM sessions WHERE created_at >= ? ORDER BY created_at')
      .all(since.toISOString())
      .map((r) => ({ userId: r.user_id, tenantId: r.tenant_id, tier: r.tier, createdAt: r.created_at }));
  }

  async transition(req: TransitionRequest): Promise<SessionRow | undefined> {
    return this.commits.run((): SessionRow | undefined => {
      const current = this.selectSession(req.sessionId);
      if (!current || !req.from.includes(current.state)) return undefined;
      const at = req.at.toISOString();
      const runtime =
        req.runtime === undefined
          ? current.runtime
          : req.runtime === null
            ? null
            : JSON.stringify(req.runtime);
      const failureReason = req.failureReason ?? current.failure_reason;
      this.sql(
        'UPDATE sessions SET state = ?, failure_reason = ?, runtime = ?, canon_timestamp = ? WHERE session_id = ?',
      ).run(req.to, failureReason, runtime, at, req.sessionId);
      const payload: Record<string, unknown> = {};
      if (req.tierChange) {
        this.retier(current, req.tierChange, at);
        Object.assign(payload, {
          tier: req.tierChange.tier,
          fromTier: current.tier,
          resources: req.tierChange.resources,
        });
      }
      if (req.failureReason !== undefined) payload.failureReason = req.failureReason;
      if (req.runtime)
        payload.runtime = { kind: req.runtime.kind, display: req.runtime.display, port: req.runtime.port };
      this.appendRecord({
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
        this.sql('UPDATE allocations SET released_at = ? WHERE session_id = ? AND released_at IS NULL').run(
          at,
          req.sessionId,
        );
      } else if (isFinished(current.state)) {
        // Not a move the lifecycle makes; if it happens the session holds resources again.
        const updated = this.selectSession(req.sessionId);
        if (updated) this.openAllocation(toRow(updated).session, at);
      }
      if (req.usage) this.insertUsage(req.usage, req.actor, at);
      // The row as the statements above left it, without reading it back.
      const retiered = req.tierChange && {
        tier: req.tierChange.tier,
        resources: JSON.stringify(req.tierChange.resources),
      };
      return toRow({
        ...current,
        ...retiered,
        state: req.to,
        failure_reason: failureReason,
        runtime,
        canon_timestamp: at,
      });
    }, req.acknowledge);
  }

  /** A tier change inside the caller's transaction: the old allocation released, the new one checked and taken. */
  private retier(
    current: SessionDbRow,
    change: NonNullable<TransitionRequest['tierChange']>,
    at: string,
  ): void {
    const owner = { tenantId: current.tenant_id, userId: current.user_id };
    this.sql('UPDATE allocations SET released_at = ? WHERE session_id = ? AND released_at IS NULL').run(
      at,
      current.session_id,
    );
    if (change.limits) {
      const exceeded = exceededLimit(change.limits, this.liveUsage(owner), change.resources);
      if (exceeded) throw exceeded;
    }
    this.sql('UPDATE sessions SET tier = ?, resources = ? WHERE session_id = ?').run(
      change.tier,
      JSON.stringify(change.resources),
      current.session_id,
    );
    const updated = this.selectSession(current.session_id);
    if (updated) this.openAllocation(toRow(updated).session, at);
  }

  private insertUsage(u: UsageRecord, actor: string, at: string): void {
    this.sql(
      `INSERT INTO usage (session_id, user_id, tenant_id, start_time, end_time, resource_consumption, cost, canon_record)
       VALUES (?, ?, ?, ?, ?, ?, ?, 1)`,
    ).run(
      u.sessionId,
      u.userId,
      u.tenantId,
      u.startTime,
      u.endTime,
      JSON.stringify(u.resourceConsumption),
      u.cost,
    );
    this.appendRecord({
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
  private storedEntityId(entityId: string): string | undefined {
    const splits = ownerSplits(entityId);
    if (splits.length === 0) return entityId;
    for (const owner of splits) {
      if (isSubjectRef(owner.userId)) return entityId; // already a pseudonym (an erased user's audit trail)
      const row = this.sql<[string, string], { subject_ref: string }>(
        'SELECT subject_ref FROM subjects WHERE tenant_id = ? AND user_id = ?',
      ).get(owner.tenantId, owner.userId);
      if (row) return `${owner.kind}:${owner.tenantId}:${row.subject_ref}`;
    }
    return undefined;
  }

  async listRecords(entityId: string): Promise<CanonRecord[]> {
    const stored = this.storedEntityId(entityId);
    if (stored === undefined) return [];
    const reveal = this.revealer();
    return this.sql<[string], RecordDbRow>('SELECT * FROM canon_records WHERE entity_id = ? ORDER BY seq')
      .all(stored)
      .map((r) => this.toRecord(r, reveal));
  }

  async listSessionRecords(sessionIds: readonly string[]): Promise<Map<string, CanonRecord[]>> {
    // No round trips to save on SQLite: each session's records as listRecords reads them.
    const out = new Map<string, CanonRecord[]>();
    for (const id of new Set(sessionIds)) {
      const records = await this.listRecords(id);
      if (records.length > 0) out.set(id, records);
    }
    return out;
  }

  private toRecord(r: RecordDbRow, reveal: (value: string) => string): CanonRecord {
    return mapSubjects<CanonRecord>(
      {
        seq: r.seq,
        recordId: r.record_id,
        entity: r.entity,
        entityId: r.entity_id,
        action: r.action,
        fromState: r.from_state,
        toState: r.to_state,
        actor: r.actor,
        tenantId: r.tenant_id,
        payload: JSON.parse(r.payload) as Record<string, unknown>,
        canonTimestamp: r.canon_timestamp,
        handshake: HANDSHAKE,
      },
      reveal,
    );
  }

  async getUsage(sessionId: string): Promise<UsageRecord | undefined> {
    const r = this.sql<[string], UsageDbRow>('SELECT * FROM usage WHERE session_id = ?').get(sessionId);
    return r && usageOf(r);
  }

  async getUsages(sessionIds: readonly string[]): Promise<Map<string, UsageRecord>> {
    // No round trips to save on SQLite: one indexed read per session.
    const out = new Map<string, UsageRecord>();
    for (const id of sessionIds) {
      const usage = await this.getUsage(id);
      if (usage) out.set(id, usage);
    }
    return out;
  }

  async touchActivity(sessionId: string, at: Date): Promise<void> {
    // Only ever moves forward, so a late, throttled touch cannot rewind the idle clock.
    await this.commits.run(() =>
      this.sql('UPDATE sessions SET last_activity_at = ? WHERE session_id = ? AND last_activity_at < ?').run(
        at.toISOString(),
        sessionId,
        at.toISOString(),
      ),
    );
  }

  async getPreferences(owner: Owner): Promise<PreferencesRow | undefined> {
    const r = this.sql<[string, string], PreferencesDbRow>(
      'SELECT * FROM preferences WHERE tenant_id = ? AND user_id = ?',
    ).get(owner.tenantId, owner.userId);
    return r && toPreferences(r);
  }

  async putPreferences(
    owner: Owner,
    preferences: Record<string, unknown>,
    at: Date,
  ): Promise<PreferencesRow> {
    const updatedAt = at.toISOString();
    return this.commits.run((): PreferencesRow => {
      // Last writer by server timestamp wins: an older write (a slower replica) does not overwrite a newer one.
      const written = this.sql<[string, string, string, string], PreferencesDbRow>(
        `INSERT INTO preferences (tenant_id, user_id, preferences, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (tenant_id, user_id) DO UPDATE
             SET preferences = excluded.preferences, updated_at = excluded.updated_at
             WHERE excluded.updated_at >= preferences.updated_at
           RETURNING *`,
      ).get(owner.tenantId, owner.userId, JSON.stringify(preferences), updatedAt);
      this.appendRecord({
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
        this.sql<[string, string], PreferencesDbRow>(
          'SELECT * FROM preferences WHERE tenant_id = ? AND user_id = ?',
        ).get(owner.tenantId, owner.userId);
      if (!stored) throw new Error('preferences row vanished inside its own transaction');
      return toPreferences(stored);
    });
  }

  async listAllocations(owner: Owner): Promise<AllocationRecord[]> {
    return this.sql<[string, string], AllocationDbRow>(
      `SELECT session_id, tier, resources, allocated_at, released_at FROM allocations
       WHERE tenant_id = ? AND user_id = ? ORDER BY allocated_at DESC, allocation_id DESC`,
    )
      .all(owner.tenantId, owner.userId)
      .map((r) => ({
        sessionId: r.session_id,
        tier: r.tier,
        resources: JSON.parse(r.resources) as Session['resources'],
        allocatedAt: r.allocated_at,
        releasedAt: r.released_at,
      }));
  }

  async pseudonymOf(owner: Owner): Promise<string> {
    return this.commits.run(() => this.subjectRef(owner.tenantId, owner.userId));
  }

  async recordPrivacyEvent(event: {
    subject: Owner;
    action: string;
    actor: string;
    at: Date;
    payload: Record<string, unknown>;
  }): Promise<CanonRecord> {
    return this.commits.run((): CanonRecord => {
      const recordId = this.appendRecord({
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
      const row = this.sql<[string], RecordDbRow>('SELECT * FROM canon_records WHERE record_id = ?').get(
        recordId,
      );
      if (!row) throw new Error('privacy record vanished inside its own transaction');
      return this.toRecord(row, this.revealer());
    });
  }

  async eraseSubject(request: ErasureRequest): Promise<ErasureResult> {
    const { tenantId, userId } = request.subject;
    const erasedAt = request.at.toISOString();
    return this.commits.run((): ErasureResult => {
      const live = this.sql<[string, string], { n: number }>(
        "SELECT count(*) AS n FROM sessions WHERE tenant_id = ? AND user_id = ? AND state NOT IN ('terminated', 'failed')",
      ).get(tenantId, userId);
      if ((live?.n ?? 0) > 0) throw new SubjectHasLiveSessionsError(live?.n ?? 0);
      const pseudonym = this.subjectRef(tenantId, userId);
      const replace = (table: string) =>
        this.sql(`UPDATE ${table} SET user_id = ? WHERE tenant_id = ? AND user_id = ?`).run(
          pseudonym,
          tenantId,
          userId,
        ).changes;
      const counts = {
        sessionsPseudonymised: replace('sessions'),
        usageRecordsPseudonymised: replace('usage'),
        allocationsPseudonymised: replace('allocations'),
        preferencesDeleted:
          this.sql('DELETE FROM preferences WHERE tenant_id = ? AND user_id = ?').run(tenantId, userId)
            .changes > 0,
      };
      // Workspaces keep the person's place (who owned, who was invited) under the pseudonym.
      replace('workspace_members');
      for (const column of ['owner_id', 'controller_id']) {
        this.sql(`UPDATE workspaces SET ${column} = ? WHERE tenant_id = ? AND ${column} = ?`).run(
          pseudonym,
          tenantId,
          userId,
        );
      }
      // The audit record is written while the pseudonym still resolves, then the link is cut.
      const auditRecordId = this.appendRecord({
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
      this.sql('UPDATE subjects SET user_id = NULL, erased_at = ? WHERE subject_ref = ?').run(
        erasedAt,
        pseudonym,
      );
      return { pseudonym, erasedAt, ...counts, auditRecordId };
    });
  }

  private readWorkspace(workspaceId: string): Workspace | undefined {
    const w = this.sql<[string], WorkspaceDbRow>('SELECT * FROM workspaces WHERE workspace_id = ?').get(
      workspaceId,
    );
    if (!w) return undefined;
    const sessionIds = this.sql<[string], { session_id: string }>(
      'SELECT session_id FROM workspace_sessions WHERE workspace_id = ? ORDER BY position',
    )
      .all(workspaceId)
      .map((r) => r.session_id);
    const members = this.sql<[string], WorkspaceMemberDbRow>(
      'SELECT user_id, role, status, invited_at, joined_at FROM workspace_members WHERE workspace_id = ? ORDER BY position',
    )
      .all(workspaceId)
      .map((m) => ({
        userId: m.user_id,
        role: m.role,
        status: m.status,
        invitedAt: m.invited_at,
        joinedAt: m.joined_at,
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
      createdAt: w.created_at,
      updatedAt: w.updated_at,
      handshake: HANDSHAKE,
    };
  }

  /** Writes the workspace's current state (members rewritten in order), inside the caller's transaction. */
  private writeWorkspaceState(w: Workspace): void {
    this.sql('UPDATE workspaces SET state = ?, controller_id = ?, updated_at = ? WHERE workspace_id = ?').run(
      w.state,
      w.controllerId,
      w.updatedAt,
      w.workspaceId,
    );
    this.sql('DELETE FROM workspace_members WHERE workspace_id = ?').run(w.workspaceId);
    w.members.forEach((m, position) => {
      this.sql(
        `INSERT INTO workspace_members (workspace_id, tenant_id, user_id, role, status, position, invited_at, joined_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(w.workspaceId, w.tenantId, m.userId, m.role, m.status, position, m.invitedAt, m.joinedAt);
    });
  }

  async createWorkspace(w: Workspace, changes: readonly WorkspaceChange[] = []): Promise<Workspace> {
    return this.commits.run((): Workspace => {
      this.sql(
        `INSERT INTO workspaces (workspace_id, tenant_id, owner_id, name, state, controller_id, created_at, updated_at, handshake)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        w.workspaceId,
        w.tenantId,
        w.ownerId,
        w.name,
        w.state,
        w.controllerId,
        w.createdAt,
        w.updatedAt,
        HANDSHAKE,
      );
      w.sessionIds.forEach((sessionId, position) => {
        this.sql('INSERT INTO workspace_sessions (workspace_id, session_id, position) VALUES (?, ?, ?)').run(
          w.workspaceId,
          sessionId,
          position,
        );
      });
      this.writeWorkspaceState(w);
      this.appendRecord({
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
      return changes.reduce((current, change) => this.recordChange(current, change, w.createdAt), w);
    });
  }

  async getWorkspace(workspaceId: string): Promise<Workspace | undefined> {
    return this.readWorkspace(workspaceId);
  }

  async listWorkspaces(scope: Owner): Promise<Workspace[]> {
    return this.sql<[string, string], { workspace_id: string }>(
      `SELECT w.workspace_id FROM workspaces w JOIN workspace_members m ON m.workspace_id = w.workspace_id
       WHERE m.tenant_id = ? AND m.user_id = ? ORDER BY w.created_at DESC, w.workspace_id`,
    )
      .all(scope.tenantId, scope.userId)
      .flatMap((r) => this.readWorkspace(r.workspace_id) ?? []);
  }

  async listWorkspacesOfSession(sessionId: string): Promise<Workspace[]> {
    return this.sql<[string], { workspace_id: string }>(
      `SELECT w.workspace_id FROM workspaces w JOIN workspace_sessions s ON s.workspace_id = w.workspace_id
       WHERE s.session_id = ? AND w.state = 'open' ORDER BY w.created_at DESC, w.workspace_id`,
    )
      .all(sessionId)
      .flatMap((r) => this.readWorkspace(r.workspace_id) ?? []);
  }

  async changeWorkspace(workspaceId: string, change: WorkspaceChange, at: Date): Promise<Workspace> {
    return this.commits.run((): Workspace => {
      const current = this.readWorkspace(workspaceId);
      if (!current) throw new WorkspaceChangeError('WORKSPACE_NOT_FOUND', 'no such workspace');
      return this.recordChange(current, change, at.toISOString());
    });
  }

  /** Decides `change` on `current` and writes the outcome with its record (inside the caller's transaction). */
  private recordChange(current: Workspace, change: WorkspaceChange, at: string): Workspace {
    const { workspace, record } = decideWorkspaceChange(current, change, at);
    this.writeWorkspaceState(workspace);
    this.appendRecord(record);
    return workspace;
  }

  /**
   * False once closed, or once a write could not be made durable: this replica then takes no more traffic.
   * No statement (every transition asks): a `SELECT 1` reads no page of the file, so it showed no more than
   * an open connection does.
   */
  async ping(): Promise<boolean> {
    return !this.closed && this.commits.failure === undefined && this.db.open;
  }

  storageHealth(): CanonStorageHealth {
    const { committed, failure } = this.commits;
    const checkpoints = this.connection.checkpoints;
    return {
      durabilityLost: failure !== undefined,
      checkpointFallback: checkpoints?.failure !== undefined,
      checkpoints: checkpoints?.stats.cycles ?? 0,
      walFrames: checkpoints?.stats.last?.log ?? 0,
      writeBatches: committed.batches,
      writes: committed.jobs,
      flushes: committed.syncs,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.commits.drain();
    this.closed = true;
    this.statements.clear();
    this.rawStatements.clear();
    this.scans?.close();
    await this.connection.release();
  }
}

function toPreferences(r: PreferencesDbRow): PreferencesRow {
  return {
    userId: r.user_id,
    tenantId: r.tenant_id,
    preferences: JSON.parse(r.preferences) as Record<string, unknown>,
    updatedAt: r.updated_at,
  };
}
