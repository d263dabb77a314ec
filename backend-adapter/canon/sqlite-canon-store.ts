import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { Session, SessionState } from '../../protocol/session.ts';
import type { RuntimeHandle } from '../runtime/runtime-provider.ts';
import { exceededLimit, isFinished, preferencesEntityId, type LiveUsage } from './canon-shared.ts';
import type {
  AllocationRecord,
  CanonRecord,
  CanonStore,
  GenesisLimits,
  PreferencesRow,
  SessionRow,
  TransitionRequest,
  UsageRecord,
} from './canon-store.ts';
import { applySqliteMigrations } from './sqlite-migrations.ts';

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
  storage: number;
}

type Owner = { userId: string; tenantId: string };

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

const LIVE_SUMS = `SELECT count(*) AS sessions, coalesce(sum(cpu_millicores), 0) AS cpu,
  coalesce(sum(memory_mib), 0) AS memory, coalesce(sum(storage_gib), 0) AS storage
  FROM allocations WHERE released_at IS NULL`;

/**
 * Canon Memory in an embedded SQLite file (the default). WAL + synchronous FULL: an acknowledged write survives
 * a crash. Every write is an IMMEDIATE transaction (the write lock is taken before the first read), so a
 * compare-and-set or a quota check cannot be overtaken by another process writing the same file.
 */
export class SqliteCanonStore implements CanonStore {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    applySqliteMigrations(this.db);
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

  private appendRecord(r: Omit<CanonRecord, 'seq' | 'recordId' | 'handshake'>): void {
    this.sql(
      `INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      randomUUID(),
      r.entity,
      r.entityId,
      r.action,
      r.fromState,
      r.toState,
      r.actor,
      r.tenantId,
      JSON.stringify(r.payload),
      r.canonTimestamp,
      HANDSHAKE,
    );
  }

  private liveUsage(owner: Owner): LiveUsage {
    const user = this.sql<[string, string], SumsDbRow>(`${LIVE_SUMS} AND tenant_id = ? AND user_id = ?`).get(
      owner.tenantId,
      owner.userId,
    );
    const tenant = this.sql<[string], SumsDbRow>(`${LIVE_SUMS} AND tenant_id = ?`).get(owner.tenantId);
    const cluster = this.sql<[], SumsDbRow>(LIVE_SUMS).get();
    return {
      userSessions: user?.sessions ?? 0,
      tenant: {
        sessions: tenant?.sessions ?? 0,
        cpuMillicores: tenant?.cpu ?? 0,
        memoryMiB: tenant?.memory ?? 0,
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
      `INSERT INTO allocations (session_id, user_id, tenant_id, tier, resources, cpu_millicores, memory_mib, storage_gib, gpus, allocated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      s.sessionId,
      s.userId,
      s.tenantId,
      s.tier,
      JSON.stringify(s.resources),
      s.resources.cpuMillicores,
      s.resources.memoryMiB,
      s.resources.storageGiB,
      s.resources.gpus,
      at,
    );
  }

  async createSession(row: SessionRow, actor: string, limits?: GenesisLimits): Promise<void> {
    const s = row.session;
    this.db
      .transaction(() => {
        if (limits) {
          const exceeded = exceededLimit(limits, this.liveUsage(s), s.resources);
          if (exceeded) throw exceeded;
        }
        this.sql(
          `INSERT INTO sessions (session_id, user_id, tenant_id, tier, resources, state, failure_reason, runtime, created_at, canon_timestamp, last_activity_at, handshake)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          s.sessionId,
          s.userId,
          s.tenantId,
          s.tier,
          JSON.stringify(s.resources),
          s.state,
          s.failureReason ?? null,
          row.runtime === null ? null : JSON.stringify(row.runtime),
          s.createdAt,
          s.canonTimestamp,
          row.lastActivityAt,
          HANDSHAKE,
        );
        this.appendRecord({
          entity: 'session',
          entityId: s.sessionId,
          action: 'genesis.requested',
          fromState: null,
          toState: s.state,
          actor,
          tenantId: s.tenantId,
          payload: { tier: s.tier, resources: s.resources },
          canonTimestamp: s.canonTimestamp,
        });
        if (!isFinished(s.state)) this.openAllocation(s, s.createdAt);
      })
      .immediate();
  }

  private selectSession(sessionId: string): SessionDbRow | undefined {
    return this.sql<[string], SessionDbRow>('SELECT * FROM sessions WHERE session_id = ?').get(sessionId);
  }

  async getSession(sessionId: string): Promise<SessionRow | undefined> {
    const r = this.selectSession(sessionId);
    return r && toRow(r);
  }

  async listSessions(scope: { tenantId: string; userId?: string }): Promise<SessionRow[]> {
    if (scope.userId === undefined) {
      return this.sql<[string], SessionDbRow>(
        'SELECT * FROM sessions WHERE tenant_id = ? ORDER BY created_at DESC, session_id',
      )
        .all(scope.tenantId)
        .map(toRow);
    }
    return this.sql<[string, string], SessionDbRow>(
      'SELECT * FROM sessions WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC, session_id',
    )
      .all(scope.tenantId, scope.userId)
      .map(toRow);
  }

  async listUnfinished(): Promise<SessionRow[]> {
    return this.sql<[], SessionDbRow>(
      "SELECT * FROM sessions WHERE state NOT IN ('terminated', 'failed') ORDER BY created_at",
    )
      .all()
      .map(toRow);
  }

  async transition(req: TransitionRequest): Promise<SessionRow | undefined> {
    return this.db
      .transaction((): SessionRow | undefined => {
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
        const updated = this.selectSession(req.sessionId);
        return updated && toRow(updated);
      })
      .immediate();
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

  async listRecords(entityId: string): Promise<CanonRecord[]> {
    return this.sql<[string], RecordDbRow>('SELECT * FROM canon_records WHERE entity_id = ? ORDER BY seq')
      .all(entityId)
      .map((r) => ({
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
      }));
  }

  async getUsage(sessionId: string): Promise<UsageRecord | undefined> {
    const r = this.sql<[string], UsageDbRow>('SELECT * FROM usage WHERE session_id = ?').get(sessionId);
    return (
      r && {
        sessionId: r.session_id,
        userId: r.user_id,
        tenantId: r.tenant_id,
        startTime: r.start_time,
        endTime: r.end_time,
        resourceConsumption: JSON.parse(r.resource_consumption) as UsageRecord['resourceConsumption'],
        cost: r.cost,
        canonRecord: true,
      }
    );
  }

  async touchActivity(sessionId: string, at: Date): Promise<void> {
    // Only ever moves forward, so a late, throttled touch cannot rewind the idle clock.
    this.sql('UPDATE sessions SET last_activity_at = ? WHERE session_id = ? AND last_activity_at < ?').run(
      at.toISOString(),
      sessionId,
      at.toISOString(),
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
    return this.db
      .transaction((): PreferencesRow => {
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
      })
      .immediate();
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

  async ping(): Promise<boolean> {
    return this.sql<[], { ok: number }>('SELECT 1 AS ok').get()?.ok === 1;
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db.close();
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
