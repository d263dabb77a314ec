import { int, iso, text, type SqlRow, type SqlValue } from '../sql/sql-db.ts';
import type { WalletOwner } from '../wallet/wallet.ts';
import type { BillingTerms, PeriodPrices } from './pricing.ts';

/**
 * The hold rule (what a launch, resume or tier change must find before it may run), written twice: in
 * JavaScript over rows read under the owner's lock (SQLite), and as one PostgreSQL statement that reads,
 * decides and writes (`holdStatement`), so a launch's hold there is one round trip. The two are kept in step
 * here, side by side, and billing's tests run both.
 */

/** What one owner owes: their charges the wallet has not confirmed ($1 tenant, $2 user). */
export const OWED_BY_OWNER =
  "SELECT coalesce(sum(amount), 0) AS total FROM billing_charges WHERE tenant_id = $1 AND user_id = $2 AND status <> 'charged'";

/** A billing registration's columns, in the order of its values (see billing-store.ts registerParams). */
export const REGISTER_COLUMNS = [
  ['session_id', 'text'],
  ['tenant_id', 'text'],
  ['user_id', 'text'],
  ['tier', 'text'],
  ['active_rate', 'bigint'],
  ['storage_rate', 'bigint'],
  ['discount_bp', 'integer'],
  ['period_ms', 'integer'],
  ['active_price', 'bigint'],
  ['paused_price', 'bigint'],
  ['registered_at', 'timestamptz'],
] as const;

/** What a Genesis (or resume, or tier change) reservation found, and whether it was taken. */
export interface HoldResult {
  ok: boolean;
  balance: number;
  outstanding: number;
  /** Held by the owner's other launches in flight (not yet charged). */
  held: number;
  required: number;
}

/** A reservation request: checked and taken under the owner's lock, atomically with every other one. */
export interface HoldRequest {
  sessionId: string;
  owner: WalletOwner;
  /** The wallet's balance, read just before. */
  balance: number;
  /** Reserve periods × this session's price per period: what the hold keeps back. */
  amount: number;
  /** What the owner's other running sessions need (reserve × price each), by session id; a session that
   * still holds a reservation is counted by its hold instead. */
  running: ReadonlyMap<string, number>;
  /** The owner's sessions that are not terminated or failed. */
  live: ReadonlySet<string>;
  /**
   * A hold counts while its session is live, or while it is younger than this (a launch not yet written to
   * Canon Memory); any other hold (its session ended, or its launch died) is released.
   */
  staleBefore: Date;
  at: Date;
  /**
   * A launch's billing registration, written in the hold's own transaction: a launch then never holds
   * NexCoin without a billing row, nor costs a second commit before it is written to Canon Memory.
   */
  register?: { terms: BillingTerms; prices: PeriodPrices; at: Date };
}

/** The owner's other holds in force and what they owe, as the SQLite path reads them under its lock. */
export const OTHER_HOLDS = `SELECT h.session_id, h.amount, h.created_at, o.total AS owed
   FROM (${OWED_BY_OWNER}) o
   LEFT JOIN billing_holds h
     ON h.tenant_id = $1 AND h.user_id = $2 AND h.released_at IS NULL AND h.session_id <> $3`;

/**
 * The rule over OTHER_HOLDS' rows: which holds ended (to release) and whether the balance, less what is owed,
 * covers the holds still in force, the other running sessions not counted by a hold, and this one's reserve.
 */
export function decideHold(
  req: HoldRequest,
  rows: readonly SqlRow[],
): { result: HoldResult; ended: string[] } {
  let held = 0;
  const counted = new Set<string>();
  const ended: string[] = [];
  for (const h of rows) {
    if (h.session_id === null || h.session_id === undefined) continue;
    const id = text(h.session_id);
    if (!req.live.has(id) && iso(h.created_at) < req.staleBefore.toISOString()) {
      ended.push(id);
      continue;
    }
    held += int(h.amount);
    counted.add(id);
  }
  let running = 0;
  for (const [id, need] of req.running) if (id !== req.sessionId && !counted.has(id)) running += need;
  const outstanding = int(rows[0]?.owed ?? 0);
  const required = held + running + req.amount;
  return {
    result: { ok: req.balance - outstanding >= required, balance: req.balance, outstanding, held, required },
    ended,
  };
}

/**
 * The same rule as one PostgreSQL statement, run under the owner's advisory lock: it releases the ended
 * holds, and takes this session's hold (and writes its registration, `register` being its values in
 * REGISTER_COLUMNS order) only if the balance covers it. Its one row says what it found.
 */
export function holdStatement(
  req: HoldRequest,
  register?: readonly SqlValue[],
): { text: string; params: SqlValue[] } {
  const params: SqlValue[] = [
    req.owner.tenantId,
    req.owner.userId,
    req.sessionId,
    req.balance,
    req.amount,
    JSON.stringify(Object.fromEntries(req.running)),
    JSON.stringify([...req.live]),
    req.staleBefore.toISOString(),
    req.at.toISOString(),
  ];
  const parts = [
    `others AS (
       SELECT h.session_id, h.amount,
              (h.session_id NOT IN (SELECT jsonb_array_elements_text($7::jsonb)) AND h.created_at < $8::timestamptz) AS ended
         FROM billing_holds h
        WHERE h.tenant_id = $1 AND h.user_id = $2 AND h.released_at IS NULL AND h.session_id <> $3
     )`,
    `released AS (
       UPDATE billing_holds SET released_at = $9::timestamptz
        WHERE released_at IS NULL AND session_id IN (SELECT session_id FROM others WHERE ended)
     )`,
    `sums AS (
       SELECT (${OWED_BY_OWNER}) AS owed,
              (SELECT coalesce(sum(amount), 0) FROM others WHERE NOT ended) AS held,
              (SELECT coalesce(sum(r.value::bigint), 0) FROM jsonb_each_text($6::jsonb) r
                WHERE r.key <> $3 AND r.key NOT IN (SELECT session_id FROM others WHERE NOT ended)) AS running
     )`,
    `fits AS (SELECT owed, held, held + running + $5::bigint AS required, $4::bigint - owed >= held + running + $5::bigint AS ok FROM sums)`,
    `hold AS (
       INSERT INTO billing_holds (session_id, tenant_id, user_id, amount, created_at, released_at)
       SELECT $3, $1, $2, $5::bigint, $9::timestamptz, NULL FROM fits WHERE ok
       ON CONFLICT (session_id) DO UPDATE SET amount = excluded.amount, created_at = excluded.created_at,
         released_at = NULL
     )`,
  ];
  if (register) {
    const values = REGISTER_COLUMNS.map(([, type], i) => `$${params.length + i + 1}::${type}`);
    params.push(...register);
    parts.push(`registered AS (
       INSERT INTO billing_sessions (${REGISTER_COLUMNS.map(([c]) => c).join(', ')}, charged_through)
       SELECT ${values.join(', ')}, 0 FROM fits WHERE ok
       ON CONFLICT DO NOTHING
     )`);
  }
  return { text: `WITH ${parts.join(', ')} SELECT owed, held, required, ok FROM fits`, params };
}

/** The statement's row as the request's result. */
export function holdResultOf(req: HoldRequest, row: SqlRow | undefined): HoldResult {
  if (!row) throw new Error('the hold statement returned no row');
  return {
    ok: row.ok === true,
    balance: req.balance,
    outstanding: int(row.owed),
    held: int(row.held),
    required: int(row.required),
  };
}
