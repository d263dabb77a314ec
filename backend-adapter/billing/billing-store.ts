import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  applyComponentMigrations,
  int,
  intOrNull,
  iso,
  isoOrNull,
  json,
  last,
  PostgresSqlDb,
  q,
  run,
  SqliteSqlDb,
  text,
  textOrNull,
  type ComponentMigration,
  type SqlDb,
  type SqlRow,
  type SqlValue,
  type SqlWork,
  write,
} from '../sql/sql-db.ts';
import type { DistributionShare, WalletOwner } from '../wallet/wallet.ts';
import type { BillingTerms, PeriodClass, PeriodPrices } from './pricing.ts';
import type { PoolConnections } from '../sql/pool-connections.ts';
import { jsonRows } from '../sql/json-rows.ts';
import {
  decideHold,
  holdResultOf,
  holdStatement,
  OTHER_HOLDS,
  OWED_BY_OWNER,
  REGISTER_COLUMNS,
  type HoldRequest,
  type HoldResult,
} from './holds.ts';

/** Unsettled charges by owner: a handful per owner whatever their history (the partial condition is OWED_BY_OWNER's). */
const OWED_INDEX =
  "CREATE INDEX billing_charges_owner_unsettled ON billing_charges (tenant_id, user_id) WHERE status <> 'charged';";

/**
 * Billing's own records, in Canon Memory's database beside the sessions: one row per metered session (its
 * terms, fixed at admission, and how far it has been charged) and one row per charged period. Versioned as
 * component `billing` (see sql-db.ts applyComponentMigrations), not as a Canon migration, for the reasons
 * given in wallet/ledger-migrations.ts.
 *
 * Exactly once: `billing_charges` has one row per (session, period) — its primary key — and a unique
 * idempotency key. A charge row is written ("pending") before the wallet is asked, and marked "charged" with
 * the wallet's transaction id after; a crash in between leaves it pending, and the next cycle asks the wallet
 * again with the same key, which answers with the first result instead of charging twice. Two replicas
 * metering the same session write the same rows (the second insert is a no-op) and send the same keys.
 */
export const BILLING_MIGRATIONS: readonly ComponentMigration[] = [
  {
    version: 1,
    sqlite: `
      CREATE TABLE billing_sessions (
        session_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        active_rate INTEGER NOT NULL CHECK (active_rate >= 0),
        storage_rate INTEGER NOT NULL CHECK (storage_rate >= 0),
        discount_bp INTEGER NOT NULL CHECK (discount_bp BETWEEN 0 AND 10000),
        period_ms INTEGER NOT NULL CHECK (period_ms > 0),
        active_price INTEGER NOT NULL CHECK (active_price >= 0),
        paused_price INTEGER NOT NULL CHECK (paused_price >= 0),
        start_ms INTEGER,
        charged_through INTEGER NOT NULL DEFAULT 0 CHECK (charged_through >= 0),
        registered_at TEXT NOT NULL,
        closed_at TEXT,
        final_cost INTEGER
      );
      CREATE INDEX billing_sessions_open ON billing_sessions (session_id) WHERE closed_at IS NULL;
      CREATE INDEX billing_sessions_owner ON billing_sessions (tenant_id, user_id);

      CREATE TABLE billing_charges (
        session_id TEXT NOT NULL REFERENCES billing_sessions (session_id),
        period INTEGER NOT NULL CHECK (period >= 0),
        idempotency_key TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('active', 'paused')),
        amount INTEGER NOT NULL CHECK (amount > 0),
        period_start TEXT NOT NULL,
        distribution TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'charged', 'declined')),
        wallet_transaction_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        charged_at TEXT,
        PRIMARY KEY (session_id, period)
      );
      CREATE INDEX billing_charges_unsettled ON billing_charges (created_at) WHERE status <> 'charged';
      CREATE INDEX billing_charges_owner ON billing_charges (tenant_id, user_id, period_start);
    `,
    postgres: `
      CREATE TABLE billing_sessions (
        session_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        active_rate BIGINT NOT NULL CHECK (active_rate >= 0),
        storage_rate BIGINT NOT NULL CHECK (storage_rate >= 0),
        discount_bp INTEGER NOT NULL CHECK (discount_bp BETWEEN 0 AND 10000),
        period_ms INTEGER NOT NULL CHECK (period_ms > 0),
        active_price BIGINT NOT NULL CHECK (active_price >= 0),
        paused_price BIGINT NOT NULL CHECK (paused_price >= 0),
        start_ms BIGINT,
        charged_through INTEGER NOT NULL DEFAULT 0 CHECK (charged_through >= 0),
        registered_at TIMESTAMPTZ NOT NULL,
        closed_at TIMESTAMPTZ,
        final_cost BIGINT
      );
      CREATE INDEX billing_sessions_open ON billing_sessions (session_id) WHERE closed_at IS NULL;
      CREATE INDEX billing_sessions_owner ON billing_sessions (tenant_id, user_id);

      CREATE TABLE billing_charges (
        session_id TEXT NOT NULL REFERENCES billing_sessions (session_id),
        period INTEGER NOT NULL CHECK (period >= 0),
        idempotency_key TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('active', 'paused')),
        amount BIGINT NOT NULL CHECK (amount > 0),
        period_start TIMESTAMPTZ NOT NULL,
        distribution JSONB NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'charged', 'declined')),
        wallet_transaction_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TIMESTAMPTZ NOT NULL,
        charged_at TIMESTAMPTZ,
        PRIMARY KEY (session_id, period)
      );
      CREATE INDEX billing_charges_unsettled ON billing_charges (created_at) WHERE status <> 'charged';
      CREATE INDEX billing_charges_owner ON billing_charges (tenant_id, user_id, period_start);
    `,
  },
  {
    // Tier changes: the rates of every tier a session changed to, fixed at the change ({tier: TierTerms}).
    // Holds: the reserve a launch (or a resume, or a tier change) took, until its first charge.
    version: 2,
    sqlite: `
      ALTER TABLE billing_sessions ADD COLUMN tier_terms TEXT NOT NULL DEFAULT '{}';
      CREATE TABLE billing_holds (
        session_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount >= 0),
        created_at TEXT NOT NULL,
        released_at TEXT
      );
      CREATE INDEX billing_holds_owner ON billing_holds (tenant_id, user_id) WHERE released_at IS NULL;
    `,
    postgres: `
      ALTER TABLE billing_sessions ADD COLUMN tier_terms JSONB NOT NULL DEFAULT '{}'::jsonb;
      CREATE TABLE billing_holds (
        session_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        amount BIGINT NOT NULL CHECK (amount >= 0),
        created_at TIMESTAMPTZ NOT NULL,
        released_at TIMESTAMPTZ
      );
      CREATE INDEX billing_holds_owner ON billing_holds (tenant_id, user_id) WHERE released_at IS NULL;
    `,
  },
  {
    // Every launch reads what its user owes (OWED_BY_OWNER). Through billing_charges_owner that read walked the
    // user's whole charge history, charged or not: 500 µs at 2,000 charges, and growing with every session.
    version: 3,
    sqlite: OWED_INDEX,
    postgres: OWED_INDEX,
  },
];

/** The rates of a tier a session changed to, fixed when it changed (the admitted tier's are in `terms`). */
export interface TierTerms {
  activeMicroPerHour: number;
  storageMicroPerHour: number;
  prices: PeriodPrices;
}

export interface BillingSessionRow {
  sessionId: string;
  tenantId: string;
  userId: string;
  terms: BillingTerms;
  prices: PeriodPrices;
  /** When period 0 began (first Active), once metering has seen it. */
  startMs: number | null;
  /** Every period below this has its charge row. */
  chargedThrough: number;
  registeredAt: string;
  closedAt: string | null;
  finalCost: number | null;
  /** The tiers the session changed to, with their rates (fixed at the change). */
  tierTerms: Readonly<Record<string, TierTerms>>;
}

/** A session's prices per period at `tier` (the admitted tier's, or a tier it changed to; undefined: unknown). */
export function pricesAt(row: BillingSessionRow, tier: string): PeriodPrices | undefined {
  return tier === row.terms.tier ? row.prices : row.tierTerms[tier]?.prices;
}

export type ChargeStatus = 'pending' | 'charged' | 'declined';

export interface NewCharge {
  sessionId: string;
  period: number;
  idempotencyKey: string;
  tenantId: string;
  userId: string;
  tier: string;
  kind: PeriodClass;
  amount: number;
  periodStart: string;
  distribution: DistributionShare[];
}

/** A session's newly metered periods and its new cursor. */
export interface PeriodBatch {
  sessionId: string;
  startMs: number;
  charges: readonly NewCharge[];
  chargedThrough: number;
}

export interface ChargeRow extends NewCharge {
  status: ChargeStatus;
  walletTransactionId: string | null;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  chargedAt: string | null;
}

export interface ChargeScope {
  tenantId: string;
  /** Without it: the whole tenant. */
  userId?: string;
  /** Periods starting at or after (ISO). */
  from?: string;
  /** Periods starting before (ISO). */
  to?: string;
}

function sessionOf(r: SqlRow): BillingSessionRow {
  return {
    sessionId: text(r.session_id),
    tenantId: text(r.tenant_id),
    userId: text(r.user_id),
    terms: {
      tier: text(r.tier),
      activeMicroPerHour: int(r.active_rate),
      storageMicroPerHour: int(r.storage_rate),
      discountBasisPoints: int(r.discount_bp),
      periodMs: int(r.period_ms),
    },
    prices: { active: int(r.active_price), paused: int(r.paused_price) },
    startMs: intOrNull(r.start_ms),
    chargedThrough: int(r.charged_through),
    registeredAt: iso(r.registered_at),
    closedAt: isoOrNull(r.closed_at),
    finalCost: intOrNull(r.final_cost),
    tierTerms: json<Record<string, TierTerms>>(r.tier_terms ?? '{}'),
  };
}

function chargeOf(r: SqlRow): ChargeRow {
  return {
    sessionId: text(r.session_id),
    period: int(r.period),
    idempotencyKey: text(r.idempotency_key),
    tenantId: text(r.tenant_id),
    userId: text(r.user_id),
    tier: text(r.tier),
    kind: text(r.kind) as PeriodClass,
    amount: int(r.amount),
    periodStart: iso(r.period_start),
    distribution: json<DistributionShare[]>(r.distribution),
    status: text(r.status) as ChargeStatus,
    walletTransactionId: textOrNull(r.wallet_transaction_id),
    attempts: int(r.attempts),
    lastError: textOrNull(r.last_error),
    createdAt: iso(r.created_at),
    chargedAt: isoOrNull(r.charged_at),
  };
}

/** A session to register for metering, with the terms and prices it launches on. */
export interface Registration {
  session: { sessionId: string; tenantId: string; userId: string };
  terms: BillingTerms;
  prices: PeriodPrices;
}

/** A hold's transaction (see `hold`). */
const ON_COMMIT = { acknowledge: 'on-commit' } as const;
/** Billing sessions listed for reconciliation in one read. */
const RECONCILIATION_PAGE = 500;

const REGISTER_ROW = `INSERT INTO billing_sessions (${REGISTER_COLUMNS.map(([c]) => c).join(', ')}, charged_through)
   VALUES (${REGISTER_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}, 0) ON CONFLICT DO NOTHING`;

/** A registration's values, in REGISTER_COLUMNS order. */
function registerParams({ session, terms, prices }: Registration, at: Date): SqlValue[] {
  return [
    session.sessionId,
    session.tenantId,
    session.userId,
    terms.tier,
    terms.activeMicroPerHour,
    terms.storageMicroPerHour,
    terms.discountBasisPoints,
    terms.periodMs,
    prices.active,
    prices.paused,
    at.toISOString(),
  ];
}

/** Inserts billing rows (a second registration keeps the first terms) and reads back what is stored. */
function* registerRows(items: readonly Registration[], at: Date): SqlWork<Map<string, BillingSessionRow>> {
  const out = new Map<string, BillingSessionRow>();
  for (const item of items) {
    // The row as stored: the one just inserted, or the one already there (registered elsewhere first).
    const inserted = yield* q(`${REGISTER_ROW} RETURNING *`, registerParams(item, at));
    const row =
      inserted[0] ??
      (yield* q('SELECT * FROM billing_sessions WHERE session_id = $1', [item.session.sessionId]))[0];
    if (row) out.set(item.session.sessionId, sessionOf(row));
  }
  return out;
}

/** A new charge row as recordMany reads it from its JSON parameter. */
const NEW_CHARGE_COLUMNS = {
  session_id: 'text',
  period: 'integer',
  idempotency_key: 'text',
  tenant_id: 'text',
  user_id: 'text',
  tier: 'text',
  kind: 'text',
  amount: 'bigint',
  period_start: 'time',
  distribution: 'json',
  created_at: 'time',
} as const;

/** Ends a session's metering with its final cost (once: a closed row stays as it was closed). */
function* closeRow(sessionId: string, finalCost: number, at: string): SqlWork<void> {
  yield* write(
    'UPDATE billing_sessions SET closed_at = $2, final_cost = $3 WHERE session_id = $1 AND closed_at IS NULL',
    [sessionId, at, finalCost],
  );
}

export class BillingStore {
  private constructor(private readonly db: SqlDb) {}

  static async on(db: SqlDb): Promise<BillingStore> {
    await applyComponentMigrations(db, 'billing', BILLING_MIGRATIONS);
    return new BillingStore(db);
  }

  static async openSqlite(file: string): Promise<BillingStore> {
    const db = new SqliteSqlDb(file);
    try {
      return await BillingStore.on(db);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  static async openPostgres(
    url: string,
    options: { schema?: string; maxConnections?: number } = {},
  ): Promise<BillingStore> {
    const db = await PostgresSqlDb.open(url, options);
    try {
      return await BillingStore.on(db);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  /** Registers a session with its terms; a second registration keeps the first terms. Returns what is stored. */
  async register(
    session: { sessionId: string; tenantId: string; userId: string },
    terms: BillingTerms,
    prices: PeriodPrices,
    at: Date,
  ): Promise<BillingSessionRow> {
    const row = (await this.registerMany([{ session, terms, prices }], at)).get(session.sessionId);
    if (!row) throw new Error(`billing session ${session.sessionId} vanished inside its own transaction`);
    return row;
  }

  /** Registers several sessions in one transaction (see register). */
  async registerMany(items: readonly Registration[], at: Date): Promise<Map<string, BillingSessionRow>> {
    return this.db.transaction(() => registerRows(items, at));
  }

  async get(sessionId: string): Promise<BillingSessionRow | undefined> {
    const row = (await this.db.query('SELECT * FROM billing_sessions WHERE session_id = $1', [sessionId]))[0];
    return row && sessionOf(row);
  }

  /** Several sessions' rows in one statement (a session not registered is absent). */
  async getMany(sessionIds: readonly string[]): Promise<Map<string, BillingSessionRow>> {
    const out = new Map<string, BillingSessionRow>();
    if (sessionIds.length === 0) return out;
    const rows = await this.db.query(
      `SELECT * FROM billing_sessions
        WHERE session_id IN (SELECT session_id FROM ${jsonRows(this.db.dialect, '$1', { session_id: 'text' })})`,
      [JSON.stringify(sessionIds.map((id) => ({ session_id: id })))],
    );
    for (const r of rows) {
      const s = sessionOf(r);
      out.set(s.sessionId, s);
    }
    return out;
  }

  /** Sessions still being metered. */
  async listOpen(): Promise<BillingSessionRow[]> {
    return (
      await this.db.query('SELECT * FROM billing_sessions WHERE closed_at IS NULL ORDER BY session_id')
    ).map(sessionOf);
  }

  /**
   * Sessions whose metering ended in [from, to), and every session still being metered, by session id: read
   * RECONCILIATION_PAGE at a time with a turn of the event loop between pages (in one read, two days of
   * sessions held SQLite's event loop for tens of ms).
   */
  async listForReconciliation(from: string, to: string): Promise<BillingSessionRow[]> {
    const out: BillingSessionRow[] = [];
    for (let after = ''; ; await nextTurn()) {
      const page = (
        await this.db.query(
          `SELECT * FROM billing_sessions WHERE ((closed_at >= $1 AND closed_at < $2) OR closed_at IS NULL)
             AND session_id > $3 ORDER BY session_id LIMIT ${RECONCILIATION_PAGE}`,
          [from, to, after],
        )
      ).map(sessionOf);
      out.push(...page);
      const last = page.at(-1);
      if (!last || page.length < RECONCILIATION_PAGE) return out;
      after = last.sessionId;
    }
  }

  async listSessions(scope: { tenantId: string; userId?: string }): Promise<BillingSessionRow[]> {
    const rows =
      scope.userId === undefined
        ? await this.db.query('SELECT * FROM billing_sessions WHERE tenant_id = $1', [scope.tenantId])
        : await this.db.query('SELECT * FROM billing_sessions WHERE tenant_id = $1 AND user_id = $2', [
            scope.tenantId,
            scope.userId,
          ]);
    return rows.map(sessionOf);
  }

  /**
   * Writes the charge rows of newly metered periods (pending; a row that exists is left as it is) and moves
   * the session's cursor forward (never back), in one transaction.
   */
  recordPeriods(
    sessionId: string,
    startMs: number,
    charges: readonly NewCharge[],
    chargedThrough: number,
    at: Date,
  ): Promise<number> {
    return this.recordMany([{ sessionId, startMs, charges, chargedThrough }], at);
  }

  /**
   * recordPeriods for several sessions in one transaction of two statements, whatever their number; returns
   * the charge rows inserted.
   */
  async recordMany(batches: readonly PeriodBatch[], at: Date): Promise<number> {
    if (batches.length === 0) return 0;
    const createdAt = at.toISOString();
    const charges = JSON.stringify(
      batches.flatMap((b) =>
        b.charges.map((c) => ({
          session_id: c.sessionId,
          period: c.period,
          idempotency_key: c.idempotencyKey,
          tenant_id: c.tenantId,
          user_id: c.userId,
          tier: c.tier,
          kind: c.kind,
          amount: c.amount,
          period_start: c.periodStart,
          distribution: c.distribution,
          created_at: createdAt,
        })),
      ),
    );
    const cursors = JSON.stringify(
      batches.map((b) => ({
        session_id: b.sessionId,
        charged_through: b.chargedThrough,
        start_ms: b.startMs,
      })),
    );
    return this.db.transaction(function* (dialect): SqlWork<number> {
      const inserted = yield* run(
        `INSERT INTO billing_charges (session_id, period, idempotency_key, tenant_id, user_id, tier, kind, amount,
           period_start, distribution, status, attempts, created_at)
         SELECT session_id, period, idempotency_key, tenant_id, user_id, tier, kind, amount, period_start,
                distribution, 'pending', 0, created_at
           FROM ${jsonRows(dialect, '$1', NEW_CHARGE_COLUMNS)}
          WHERE true
         ON CONFLICT DO NOTHING`,
        [charges],
      );
      // The cursor only moves forward.
      yield* write(
        `UPDATE billing_sessions
            SET charged_through = CASE WHEN billing_sessions.charged_through < x.charged_through
                                       THEN x.charged_through ELSE billing_sessions.charged_through END,
                start_ms = coalesce(billing_sessions.start_ms, x.start_ms)
           FROM ${jsonRows(dialect, '$1', { session_id: 'text', charged_through: 'integer', start_ms: 'bigint' })}
          WHERE billing_sessions.session_id = x.session_id`,
        [cursors],
      );
      return inserted;
    });
  }

  /** Charges not yet confirmed by the wallet (pending, or declined for lack of funds), oldest first. */
  async listUnsettled(limit = 10_000): Promise<ChargeRow[]> {
    return (
      await this.db.query(
        "SELECT * FROM billing_charges WHERE status <> 'charged' ORDER BY created_at, session_id, period LIMIT $1",
        [limit],
      )
    ).map(chargeOf);
  }

  async markCharged(sessionId: string, period: number, walletTransactionId: string, at: Date): Promise<void> {
    await this.markChargedMany([{ sessionId, period, walletTransactionId }], at);
  }

  /** Marks charges the wallet confirmed, in one transaction of three statements whatever their number. */
  async markChargedMany(
    items: ReadonlyArray<{ sessionId: string; period: number; walletTransactionId: string }>,
    at: Date,
    closes: ReadonlyArray<{ sessionId: string; finalCost: number }> = [],
  ): Promise<void> {
    if (items.length === 0 && closes.length === 0) return;
    const chargedAt = at.toISOString();
    const charged = JSON.stringify(
      items.map((i) => ({
        session_id: i.sessionId,
        period: i.period,
        wallet_transaction_id: i.walletTransactionId,
      })),
    );
    const sessions = JSON.stringify(
      [...new Set([...items, ...closes].map((i) => i.sessionId))].map((id) => ({ session_id: id })),
    );
    const closing = JSON.stringify(closes.map((c) => ({ session_id: c.sessionId, final_cost: c.finalCost })));
    await this.db.transaction(function* (dialect): SqlWork<void> {
      if (items.length > 0) {
        yield* write(
          `UPDATE billing_charges SET status = 'charged', wallet_transaction_id = x.wallet_transaction_id,
                  charged_at = $2, attempts = billing_charges.attempts + 1, last_error = NULL
             FROM ${jsonRows(dialect, '$1', { session_id: 'text', period: 'integer', wallet_transaction_id: 'text' })}
            WHERE billing_charges.session_id = x.session_id AND billing_charges.period = x.period
              AND billing_charges.status <> 'charged'`,
          [charged, chargedAt],
        );
      }
      // A session's first charge converts its hold (see `hold`): in the same commit, not one more.
      yield* write(
        `UPDATE billing_holds SET released_at = $2
          WHERE released_at IS NULL
            AND session_id IN (SELECT session_id FROM ${jsonRows(dialect, '$1', { session_id: 'text' })})`,
        [sessions, chargedAt],
      );
      // Their last charges confirmed, finished sessions' metering ends in the same commit (see `close`).
      if (closes.length > 0) {
        yield* write(
          `UPDATE billing_sessions SET closed_at = $2, final_cost = x.final_cost
             FROM ${jsonRows(dialect, '$1', { session_id: 'text', final_cost: 'bigint' })}
            WHERE billing_sessions.session_id = x.session_id AND billing_sessions.closed_at IS NULL`,
          [closing, chargedAt],
        );
      }
    });
  }

  /** The wallet refused for lack of funds: owed, retried every cycle with the same key. */
  async markDeclined(sessionId: string, period: number, reason: string): Promise<void> {
    await this.db.query(
      `UPDATE billing_charges SET status = 'declined', attempts = attempts + 1, last_error = $3
        WHERE session_id = $1 AND period = $2 AND status <> 'charged'`,
      [sessionId, period, reason],
    );
  }

  /** The wallet did not answer (or refused otherwise): stays as it was, retried next cycle. */
  async markAttemptFailed(sessionId: string, period: number, reason: string): Promise<void> {
    await this.db.query(
      `UPDATE billing_charges SET attempts = attempts + 1, last_error = $3
        WHERE session_id = $1 AND period = $2 AND status <> 'charged'`,
      [sessionId, period, reason],
    );
  }

  /** Ends metering of a session (every period charged); keeps its final cost and releases its hold. */
  async close(sessionId: string, finalCost: number, at: Date): Promise<void> {
    await this.db.transaction(function* (): SqlWork<void> {
      yield* closeRow(sessionId, finalCost, at.toISOString());
      yield* write(
        'UPDATE billing_holds SET released_at = $2 WHERE session_id = $1 AND released_at IS NULL',
        [sessionId, at.toISOString()],
      );
    });
  }

  async chargesOf(sessionId: string): Promise<ChargeRow[]> {
    return (
      await this.db.query('SELECT * FROM billing_charges WHERE session_id = $1 ORDER BY period', [sessionId])
    ).map(chargeOf);
  }

  /** The charges of several sessions in one statement, each session's in period order (none: absent). */
  async chargesOfMany(sessionIds: readonly string[]): Promise<Map<string, ChargeRow[]>> {
    const out = new Map<string, ChargeRow[]>();
    if (sessionIds.length === 0) return out;
    const rows = await this.db.query(
      `SELECT * FROM billing_charges
        WHERE session_id IN (SELECT session_id FROM ${jsonRows(this.db.dialect, '$1', { session_id: 'text' })})
        ORDER BY session_id, period`,
      [JSON.stringify(sessionIds.map((id) => ({ session_id: id })))],
    );
    for (const row of rows) {
      const charge = chargeOf(row);
      const list = out.get(charge.sessionId) ?? [];
      list.push(charge);
      out.set(charge.sessionId, list);
    }
    return out;
  }

  async listCharges(scope: ChargeScope): Promise<ChargeRow[]> {
    const params: SqlValue[] = [scope.tenantId];
    let where = 'tenant_id = $1';
    if (scope.userId !== undefined) {
      params.push(scope.userId);
      where += ` AND user_id = $${params.length}`;
    }
    if (scope.from) {
      params.push(scope.from);
      where += ` AND period_start >= $${params.length}`;
    }
    if (scope.to) {
      params.push(scope.to);
      where += ` AND period_start < $${params.length}`;
    }
    return (
      await this.db.query(
        `SELECT * FROM billing_charges WHERE ${where} ORDER BY period_start, session_id, period`,
        params,
      )
    ).map(chargeOf);
  }

  /**
   * Records the rates of a tier the session changes to; the first ones recorded for that tier stay (a second
   * change to the same tier, or another replica, keeps them). Returns the stored row.
   */
  async addTier(sessionId: string, tier: string, terms: TierTerms): Promise<BillingSessionRow | undefined> {
    const patch = JSON.stringify({ [tier]: terms });
    return this.db.transaction(function* (dialect): SqlWork<BillingSessionRow | undefined> {
      // The stored entry wins over the patch: rates are fixed when a tier is first used.
      yield* run(
        dialect === 'postgres'
          ? 'UPDATE billing_sessions SET tier_terms = $2::jsonb || tier_terms WHERE session_id = $1 AND tier <> $3'
          : 'UPDATE billing_sessions SET tier_terms = json_patch($2, tier_terms) WHERE session_id = $1 AND tier <> $3',
        [sessionId, patch, tier],
      );
      const row = (yield* q('SELECT * FROM billing_sessions WHERE session_id = $1', [sessionId]))[0];
      return row && sessionOf(row);
    });
  }

  /**
   * The atomic billing check: under the owner's lock (SQLite: the IMMEDIATE write lock; PostgreSQL: a
   * transaction-scoped advisory lock per owner), the balance less what is owed must cover the owner's holds
   * still in force, the reserve of their other running sessions and this session's own reserve; if it does,
   * this session's hold is taken (replacing an earlier one of the same session). Two launches racing for a
   * balance that covers one are thereby serialised: the second sees the first one's hold.
   *
   * On SQLite, answered once committed, not once durable, so a launch waits for one flush less: a hold only
   * reserves for a request in flight, which a crash ends too, and every door follows it with a Canon Memory
   * transition, durable after it in the same file.
   */
  async hold(req: HoldRequest): Promise<HoldResult> {
    const { owner, sessionId, register } = req;
    const registered =
      register &&
      registerParams(
        { session: { sessionId, ...owner }, terms: register.terms, prices: register.prices },
        register.at,
      );
    return this.db.transaction(function* (dialect): SqlWork<HoldResult> {
      if (dialect === 'postgres') {
        // BEGIN, the lock, the statement that decides and writes, and the COMMIT: one round trip.
        yield* write(
          "SELECT pg_advisory_xact_lock(hashtext('v-supercore:billing-hold:' || current_schema() || ':' || $1 || '/' || $2))",
          [owner.tenantId, owner.userId],
        );
        const statement = holdStatement(req, registered);
        return holdResultOf(req, (yield* last(statement.text, statement.params))[0]);
      }
      // SQLite: the transaction holds the write lock; the rule reads the owner's holds and decides in JS.
      const { result, ended } = decideHold(
        req,
        yield* q(OTHER_HOLDS, [owner.tenantId, owner.userId, sessionId]),
      );
      const at = req.at.toISOString();
      for (const id of ended) {
        yield* run(
          'UPDATE billing_holds SET released_at = $2 WHERE session_id = $1 AND released_at IS NULL',
          [id, at],
        );
      }
      if (!result.ok) return result;
      yield* run(
        `INSERT INTO billing_holds (session_id, tenant_id, user_id, amount, created_at, released_at)
         VALUES ($1, $2, $3, $4, $5, NULL)
         ON CONFLICT (session_id) DO UPDATE SET amount = excluded.amount, created_at = excluded.created_at,
           released_at = NULL`,
        [sessionId, owner.tenantId, owner.userId, req.amount, at],
      );
      if (registered) yield* run(REGISTER_ROW, registered);
      return result;
    }, ON_COMMIT);
  }

  /** Ends the holds of these sessions (charged for the first time, ended, or never created). */
  async releaseHolds(sessionIds: readonly string[], at: Date): Promise<void> {
    if (sessionIds.length === 0) return;
    for (let i = 0; i < sessionIds.length; i += 500) {
      const chunk = sessionIds.slice(i, i + 500);
      await this.db.query(
        `UPDATE billing_holds SET released_at = $1
          WHERE released_at IS NULL AND session_id IN (${chunk.map((_, j) => `$${j + 2}`).join(', ')})`,
        [at.toISOString(), ...chunk],
      );
    }
  }

  /** Holds in force (unreleased), for tests and reports. */
  async openHolds(owner: WalletOwner): Promise<Array<{ sessionId: string; amount: number }>> {
    return (
      await this.db.query(
        'SELECT session_id, amount FROM billing_holds WHERE tenant_id = $1 AND user_id = $2 AND released_at IS NULL ORDER BY session_id',
        [owner.tenantId, owner.userId],
      )
    ).map((r) => ({ sessionId: text(r.session_id), amount: int(r.amount) }));
  }

  /** What an owner owes: charges the wallet has not confirmed. */
  async outstanding(owner: WalletOwner): Promise<number> {
    const row = (await this.db.query(OWED_BY_OWNER, [owner.tenantId, owner.userId]))[0];
    return int(row?.total ?? 0);
  }

  /** What every owner owes (only owners who owe anything), in one query. */
  async outstandingByOwner(): Promise<Map<string, number>> {
    const rows = await this.db.query(
      "SELECT tenant_id, user_id, sum(amount) AS total FROM billing_charges WHERE status <> 'charged' GROUP BY tenant_id, user_id",
    );
    return new Map(rows.map((r) => [`${text(r.tenant_id)}/${text(r.user_id)}`, int(r.total)]));
  }

  /** GDPR erasure: the user's billing rows name `pseudonym` instead (amounts and sessions stay complete). */
  async pseudonymise(
    owner: WalletOwner,
    pseudonym: string,
  ): Promise<{ sessions: number; charges: number; holds: number }> {
    return this.db.transaction(function* (): SqlWork<{ sessions: number; charges: number; holds: number }> {
      const params = [owner.tenantId, owner.userId, pseudonym];
      return {
        sessions: yield* run(
          'UPDATE billing_sessions SET user_id = $3 WHERE tenant_id = $1 AND user_id = $2',
          params,
        ),
        charges: yield* run(
          'UPDATE billing_charges SET user_id = $3 WHERE tenant_id = $1 AND user_id = $2',
          params,
        ),
        holds: yield* run(
          'UPDATE billing_holds SET user_id = $3 WHERE tenant_id = $1 AND user_id = $2',
          params,
        ),
      };
    });
  }

  /** Its PostgreSQL pool's state; undefined on SQLite. */
  connections(): PoolConnections | undefined {
    return this.db.connections?.();
  }

  async closeDb(): Promise<void> {
    await this.db.close();
  }
}
