import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PoolClient } from 'pg';
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
import { applyPostgresMigrations, quoteIdent } from './postgres-migrations.ts';

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
  created_at: Date;
  canon_timestamp: Date;
  last_activity_at: Date;
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
  tenant_sessions: Int8;
  tenant_cpu: Int8;
  tenant_memory: Int8;
  cluster_sessions: Int8;
  cluster_cpu: Int8;
  cluster_memory: Int8;
  cluster_storage: Int8;
}

type Owner = { userId: string; tenantId: string };

/** A BIGINT as a JS number; refuses values past 2^53 rather than rounding money. */
function int(value: Int8): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`integer ${value} does not fit a JS number exactly`);
  return n;
}

function toRow(r: SessionDbRow): SessionRow {
  const session: Session = {
    sessionId: r.session_id,
    userId: r.user_id,
    tenantId: r.tenant_id,
    tier: r.tier,
    resources: r.resources,
    state: r.state,
    createdAt: r.created_at.toISOString(),
    canonTimestamp: r.canon_timestamp.toISOString(),
    handshake: HANDSHAKE,
  };
  if (r.failure_reason !== null) session.failureReason = r.failure_reason;
  return { session, runtime: r.runtime, lastActivityAt: r.last_activity_at.toISOString() };
}

function toPreferences(r: PreferencesDbRow): PreferencesRow {
  return {
    userId: r.user_id,
    tenantId: r.tenant_id,
    preferences: r.preferences,
    updatedAt: r.updated_at.toISOString(),
  };
}

/** Transaction-level advisory lock serialising quota-checked creates across every replica (per schema). */
const GENESIS_LOCK = "SELECT pg_advisory_xact_lock(hashtext('v-supercore:canon:genesis:' || $1))";

/**
 * Canon Memory in PostgreSQL, shared by several orchestrator replicas. Same semantics as the SQLite adapter:
 * append-only canon_records (a trigger refuses UPDATE/DELETE/TRUNCATE), current-state tables written in
 * the same transaction, versioned migrations applied at open under an advisory lock.
 *
 * Concurrency: a transition locks its session row (`SELECT … FOR UPDATE`) and compares its state inside the
 * transaction, so of two replicas racing on one session exactly one applies. A create with limits takes
 * one transaction-scoped advisory lock per schema before reading the live sums: the cluster-wide ceiling
 * is one global invariant, so quota-checked creates must be serialised globally anyway; the lock is held
 * for a handful of statements, and waiting on it is cheaper and more predictable than SERIALIZABLE
 * transactions that would all conflict on the same aggregate and retry.
 */
export class PostgresCanonStore implements CanonStore {
  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
  ) {}

  static async open(
    connectionString: string,
    options: { schema?: string; maxConnections?: number } = {},
  ): Promise<PostgresCanonStore> {
    const schema = options.schema ?? 'public';
    const pool = new pg.Pool({
      connectionString,
      // Every connection works in the store's schema; the name is checked to be a plain identifier.
      options: `-c search_path=${quoteIdent(schema)}`,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: 10_000,
    });
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
    return new PostgresCanonStore(pool, schema);
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
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private async appendRecord(
    client: PoolClient,
    r: Omit<CanonRecord, 'seq' | 'recordId' | 'handshake'>,
  ): Promise<void> {
    await client.query(
      `INSERT INTO canon_records (record_id, entity, entity_id, action, from_state, to_state, actor, tenant_id, payload, canon_timestamp, handshake)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::timestamptz, $11)`,
      [
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
      ],
    );
  }

  private async liveUsage(client: PoolClient, owner: Owner): Promise<LiveUsage> {
    const r = (
      await client.query<LiveDbRow>(
        `SELECT count(*) FILTER (WHERE tenant_id = $1 AND user_id = $2) AS user_sessions,
                count(*) FILTER (WHERE tenant_id = $1) AS tenant_sessions,
                coalesce(sum(cpu_millicores) FILTER (WHERE tenant_id = $1), 0) AS tenant_cpu,
                coalesce(sum(memory_mib) FILTER (WHERE tenant_id = $1), 0) AS tenant_memory,
                count(*) AS cluster_sessions,
                coalesce(sum(cpu_millicores), 0) AS cluster_cpu,
                coalesce(sum(memory_mib), 0) AS cluster_memory,
                coalesce(sum(storage_gib), 0) AS cluster_storage
           FROM allocations WHERE released_at IS NULL`,
        [owner.tenantId, owner.userId],
      )
    ).rows[0];
    if (!r) throw new Error('aggregate query returned no row');
    return {
      userSessions: int(r.user_sessions),
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

  private async openAllocation(client: PoolClient, s: Session, at: string): Promise<void> {
    await client.query(
      `INSERT INTO allocations (session_id, user_id, tenant_id, tier, resources, cpu_millicores, memory_mib, storage_gib, gpus, allocated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10::timestamptz)`,
      [
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
      ],
    );
  }

  async createSession(row: SessionRow, actor: string, limits?: GenesisLimits): Promise<void> {
    const s = row.session;
    await this.tx(async (c) => {
      if (limits) {
        await c.query(GENESIS_LOCK, [this.schema]);
        const exceeded = exceededLimit(limits, await this.liveUsage(c, s), s.resources);
        if (exceeded) throw exceeded;
      }
      await c.query(
        `INSERT INTO sessions (session_id, user_id, tenant_id, tier, resources, state, failure_reason, runtime, created_at, canon_timestamp, last_activity_at, handshake)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb, $9::timestamptz, $10::timestamptz, $11::timestamptz, $12)`,
        [
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
        ],
      );
      await this.appendRecord(c, {
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
      if (!isFinished(s.state)) await this.openAllocation(c, s, s.createdAt);
    });
  }

  async getSession(sessionId: string): Promise<SessionRow | undefined> {
    const r = await this.pool.query<SessionDbRow>('SELECT * FROM sessions WHERE session_id = $1', [
      sessionId,
    ]);
    const row = r.rows[0];
    return row && toRow(row);
  }

  async listSessions(scope: { tenantId: string; userId?: string }): Promise<SessionRow[]> {
    const r =
      scope.userId === undefined
        ? await this.pool.query<SessionDbRow>(
            'SELECT * FROM sessions WHERE tenant_id = $1 ORDER BY created_at DESC, session_id',
            [scope.tenantId],
          )
        : await this.pool.query<SessionDbRow>(
            'SELECT * FROM sessions WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC, session_id',
            [scope.tenantId, scope.userId],
          );
    return r.rows.map(toRow);
  }

  async listUnfinished(): Promise<SessionRow[]> {
    const r = await this.pool.query<SessionDbRow>(
      "SELECT * FROM sessions WHERE state NOT IN ('terminated', 'failed') ORDER BY created_at",
    );
    return r.rows.map(toRow);
  }

  async transition(req: TransitionRequest): Promise<SessionRow | undefined> {
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
      return toRow(updated);
    });
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

  async listRecords(entityId: string): Promise<CanonRecord[]> {
    const r = await this.pool.query<RecordDbRow>(
      'SELECT * FROM canon_records WHERE entity_id = $1 ORDER BY seq',
      [entityId],
    );
    return r.rows.map((x) => ({
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
    }));
  }

  async getUsage(sessionId: string): Promise<UsageRecord | undefined> {
    const r = (await this.pool.query<UsageDbRow>('SELECT * FROM usage WHERE session_id = $1', [sessionId]))
      .rows[0];
    return (
      r && {
        sessionId: r.session_id,
        userId: r.user_id,
        tenantId: r.tenant_id,
        startTime: r.start_time.toISOString(),
        endTime: r.end_time.toISOString(),
        resourceConsumption: r.resource_consumption,
        cost: int(r.cost),
        canonRecord: true,
      }
    );
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

  async ping(): Promise<boolean> {
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
