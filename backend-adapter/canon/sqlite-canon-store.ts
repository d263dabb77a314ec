import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { Session, SessionState } from '../../protocol/session.ts';
import type { RuntimeHandle } from '../runtime/runtime-provider.ts';
import type { CanonRecord, CanonStore, SessionRow, TransitionRequest, UsageRecord } from './canon-store.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';

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
  return { session, runtime: r.runtime === null ? null : (JSON.parse(r.runtime) as RuntimeHandle) };
}

/** Canon Memory in an embedded SQLite file (the default). WAL + synchronous FULL: an acknowledged write survives a crash. */
export class SqliteCanonStore implements CanonStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)',
    );
    const applied = new Set(
      this.db
        .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
        .all()
        .map((r) => r.version),
    );
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)')
          .run(m.version, new Date().toISOString());
      })();
    }
  }

  schemaVersion(): number {
    const row = this.db
      .prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_migrations')
      .get();
    return row?.v ?? 0;
  }

  private appendRecord(r: Omit<CanonRecord, 'seq' | 'recordId' | 'handshake'>): void {
    this.db
      .prepare(
        `INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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

  async createSession(row: SessionRow, actor: string): Promise<void> {
    const s = row.session;
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO sessions (session_id, user_id, tenant_id, tier, resources, state, failure_reason, runtime, created_at, canon_timestamp, handshake)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
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
    })();
  }

  async getSession(sessionId: string): Promise<SessionRow | undefined> {
    const r = this.db
      .prepare<[string], SessionDbRow>('SELECT * FROM sessions WHERE session_id = ?')
      .get(sessionId);
    return r && toRow(r);
  }

  async listSessions(owner: { userId: string; tenantId: string }): Promise<SessionRow[]> {
    return this.db
      .prepare<[string, string], SessionDbRow>(
        'SELECT * FROM sessions WHERE tenant_id = ? AND user_id = ? ORDER BY created_at DESC, session_id',
      )
      .all(owner.tenantId, owner.userId)
      .map(toRow);
  }

  async listUnfinished(): Promise<SessionRow[]> {
    return this.db
      .prepare<[], SessionDbRow>(
        "SELECT * FROM sessions WHERE state NOT IN ('terminated', 'failed') ORDER BY created_at",
      )
      .all()
      .map(toRow);
  }

  async transition(req: TransitionRequest): Promise<SessionRow | undefined> {
    return this.db.transaction((): SessionRow | undefined => {
      const current = this.db
        .prepare<[string], SessionDbRow>('SELECT * FROM sessions WHERE session_id = ?')
        .get(req.sessionId);
      if (!current || !req.from.includes(current.state)) return undefined;
      const at = req.at.toISOString();
      const runtime =
        req.runtime === undefined
          ? current.runtime
          : req.runtime === null
            ? null
            : JSON.stringify(req.runtime);
      const failureReason = req.failureReason ?? current.failure_reason;
      this.db
        .prepare(
          'UPDATE sessions SET state = ?, failure_reason = ?, runtime = ?, canon_timestamp = ? WHERE session_id = ?',
        )
        .run(req.to, failureReason, runtime, at, req.sessionId);
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
      if (req.usage) this.insertUsage(req.usage, req.actor, at);
      const updated = this.db
        .prepare<[string], SessionDbRow>('SELECT * FROM sessions WHERE session_id = ?')
        .get(req.sessionId);
      return updated && toRow(updated);
    })();
  }

  private insertUsage(u: UsageRecord, actor: string, at: string): void {
    this.db
      .prepare(
        `INSERT INTO usage (session_id, user_id, tenant_id, start_time, end_time, resource_consumption, cost, canon_record)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1)`,
      )
      .run(
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
    return this.db
      .prepare<[string], RecordDbRow>('SELECT * FROM canon_records WHERE entity_id = ? ORDER BY seq')
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
    const r = this.db
      .prepare<[string], UsageDbRow>('SELECT * FROM usage WHERE session_id = ?')
      .get(sessionId);
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

  async ping(): Promise<boolean> {
    return this.db.prepare<[], { ok: number }>('SELECT 1 AS ok').get()?.ok === 1;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
