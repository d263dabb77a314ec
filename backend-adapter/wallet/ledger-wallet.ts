import { createHash, randomBytes } from 'node:crypto';
import {
  applyComponentMigrations,
  int,
  iso,
  isRefusedStatement,
  isUniqueViolation,
  json,
  PostgresSqlDb,
  q,
  run,
  SqliteSqlDb,
  text,
  textOrNull,
  type SqlDb,
  type SqlRow,
  type SqlValue,
  type SqlWork,
} from '../sql/sql-db.ts';
import { jsonRows } from '../sql/json-rows.ts';
import { deductStatement } from './postgres-deduct-statement.ts';
import { LEDGER_MIGRATIONS } from './ledger-migrations.ts';
import {
  IdempotencyConflictError,
  InsufficientFundsError,
  splitExactly,
  validateAmount,
  validateDeduct,
  validateKey,
  WalletRequestError,
  type DeductRequest,
  type DistributionShare,
  type OwnerEntriesRequest,
  type ListEntriesOptions,
  type RefundRequest,
  type Wallet,
  type WalletEntry,
  type WalletEntryKind,
  type WalletOwner,
  type WalletResult,
} from './wallet.ts';
import { timeOrderedId } from '../time-ordered-id.ts';
import type { PoolConnections } from '../sql/pool-connections.ts';

export const ISSUANCE_ACCOUNT = 'n3xus:issuance';

export interface LedgerOptions {
  /** Credited once to every wallet the ledger opens (dev harness: something to spend); 0 for none. */
  openingBalance?: number;
  clock?: () => Date;
}

/** What the ledger's own audit finds; all zero when the books are consistent. */
export interface LedgerAudit {
  transactions: number;
  /** Transactions whose postings do not sum to zero. */
  unbalancedTransactions: number;
  /** Wallets whose stored balance differs from the sum of their postings. */
  walletBalanceMismatches: number;
  /** Sum of every posting (must be 0). */
  postingsTotal: bigint;
}

/** A wallet's account id: its subject reference, never the user id. */
export function walletAccount(subjectRef: string): string {
  return `wallet:${subjectRef}`;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

const ownerKey = (o: WalletOwner): string => `${o.tenantId}\u0000${o.userId}`;

/** Hashes what a request moves (not who it is for, which is compared apart: no personal data is hashed). */
function hashOf(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function deductHash(r: DeductRequest): string {
  return hashOf(['deduct', r.amount, r.distribution.map((s) => [s.shareId, s.account, s.amount])]);
}

/** The entry a deduction records. */
function deductEntry(request: DeductRequest, transactionId: string, createdAt: string): WalletEntry {
  return {
    transactionId,
    idempotencyKey: request.idempotencyKey,
    kind: 'deduct',
    owner: { ...request.owner },
    amount: request.amount,
    description: request.description,
    category: request.category,
    module: request.module,
    metadata: { ...(request.metadata ?? {}) },
    refundOf: null,
    distribution: request.distribution.map((s) => ({ ...s })),
    createdAt,
  };
}

interface NewTransaction {
  transactionId: string;
  key: string;
  hash: string;
  kind: WalletEntryKind;
  account: string;
  tenantId: string;
  subjectRef: string;
  amount: number;
  description: string;
  category: string;
  module: string;
  metadata: Record<string, string>;
  refundOf: string | null;
  createdAt: string;
}

/** What a transaction created; remembered only once it commits. */
interface Created {
  accounts: string[];
  subjects: Array<[string, string]>;
}

/** A posting row (transaction_id, account_id, share_id, amount) added to its transaction's shares. */
function addShare(shares: Map<string, DistributionShare[]>, r: SqlRow): void {
  const id = text(r.transaction_id);
  const list = shares.get(id) ?? [];
  list.push({ shareId: text(r.share_id), account: text(r.account_id), amount: Math.abs(int(r.amount)) });
  shares.set(id, list);
}

const EPOCH = new Date(0).toISOString();
/** Owners per read of listEntriesOfOwners: a statement's parameter stays a few kilobytes. */
const OWNERS_PER_READ = 200;

/** Transactions with their owner's user id (the subject's current user id: a pseudonym once erased). */
const WITH_OWNER = `SELECT t.*, s.user_id AS owner_user_id FROM ledger_transactions t
  JOIN ledger_subjects s ON s.subject_ref = t.subject_ref`;

/**
 * The embedded NexCoin wallet: a double-entry ledger in Canon Memory's database (SQLite by default,
 * PostgreSQL when Canon is). Idempotency keys are unique in the database, so a key is applied at most once
 * even by two replicas at the same instant; a wallet's balance never goes below zero (checked on the row,
 * in the transaction that moves it). Wallets belong to subject references, so erasing a user (GDPR) touches
 * only the mutable `ledger_subjects` row while the append-only books stay complete.
 */
export class LedgerWallet implements Wallet {
  readonly kind = 'embedded-ledger';
  private readonly clock: () => Date;
  private readonly openingBalance: number;
  private readonly knownAccounts = new Set<string>();
  private readonly knownSubjects = new Map<string, string>();

  private constructor(
    private readonly db: SqlDb,
    options: LedgerOptions,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.openingBalance = options.openingBalance ?? 0;
    if (!Number.isSafeInteger(this.openingBalance) || this.openingBalance < 0) {
      throw new WalletRequestError('the opening balance must be a non-negative integer');
    }
  }

  /** On an SqlDb the caller owns (tests, benchmarks); applies the ledger's migrations. */
  static async on(db: SqlDb, options: LedgerOptions = {}): Promise<LedgerWallet> {
    await applyComponentMigrations(db, 'ledger', LEDGER_MIGRATIONS);
    return new LedgerWallet(db, options);
  }

  static async openSqlite(file: string, options: LedgerOptions = {}): Promise<LedgerWallet> {
    const db = new SqliteSqlDb(file);
    try {
      return await LedgerWallet.on(db, options);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  static async openPostgres(
    url: string,
    options: LedgerOptions & { schema?: string; maxConnections?: number } = {},
  ): Promise<LedgerWallet> {
    const db = await PostgresSqlDb.open(url, options);
    try {
      return await LedgerWallet.on(db, options);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /**
   * Runs a transaction body; what it created is remembered after it commits. A racing insert of the same
   * idempotency key (another replica, another connection) fails on the unique index and is run again, when
   * it finds the key and answers with a replay.
   */
  private async tx<T>(body: (created: Created) => SqlWork<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let created: Created = { accounts: [], subjects: [] };
      try {
        // Afresh on each run: SQLite's group commit may run a body again after a rollback.
        const result = await this.db.transaction(() => body((created = { accounts: [], subjects: [] })));
        for (const account of created.accounts) this.knownAccounts.add(account);
        for (const [key, ref] of created.subjects) this.knownSubjects.set(key, ref);
        return result;
      } catch (error) {
        if (attempt < 3 && isUniqueViolation(error)) continue;
        throw error;
      }
    }
  }

  async balance(owner: WalletOwner): Promise<number> {
    const rows = await this.db.query(
      `SELECT a.balance FROM ledger_accounts a JOIN ledger_subjects s ON s.subject_ref = a.subject_ref
        WHERE s.tenant_id = $1 AND s.user_id = $2`,
      [owner.tenantId, owner.userId],
    );
    if (rows[0]) return int(rows[0].balance);
    if (this.openingBalance === 0) return 0;
    return this.tx((created) => this.balanceAfterOpening(created, owner));
  }

  private *balanceAfterOpening(created: Created, owner: WalletOwner): SqlWork<number> {
    const ref = yield* this.ensureWallet(created, owner);
    return yield* this.balanceOf(ref);
  }

  async deduct(request: DeductRequest): Promise<WalletResult> {
    validateDeduct(request);
    const [known] = await this.deductKnown([request]);
    return known ?? this.tx((created) => this.deductWork(created, request, deductHash(request)));
  }

  /**
   * Several deductions, each answered as `deduct` would (its result, or the error that refused it), in the
   * order asked; one owner's in that order, each on the balance the one before left. On PostgreSQL those to
   * wallets this process has seen go as one statement per pass over the owners (deductStatement), not
   * one each; the rest, and any that statement did not apply, take the general transaction.
   */
  async deductMany(requests: readonly DeductRequest[]): Promise<Array<WalletResult | Error>> {
    const results = new Array<WalletResult | Error>(requests.length);
    let pending: number[] = [];
    requests.forEach((r, i) => {
      try {
        validateDeduct(r);
        pending.push(i);
      } catch (error) {
        results[i] = asError(error);
      }
    });
    while (pending.length > 0) {
      const owners = new Set<string>();
      const pass: number[] = [];
      const later: number[] = [];
      for (const i of pending) {
        const key = ownerKey((requests[i] as DeductRequest).owner);
        (owners.has(key) ? later : pass).push(i);
        owners.add(key);
      }
      let applied: Array<WalletResult | undefined>;
      try {
        applied = await this.deductKnown(pass.map((i) => requests[i] as DeductRequest));
      } catch (error) {
        // The server or the connection failed (nothing was written): each request is answered with that.
        for (const i of pass) results[i] = asError(error);
        pending = later;
        continue;
      }
      await Promise.all(
        pass.map(async (i, j) => {
          const request = requests[i] as DeductRequest;
          const done = applied[j];
          try {
            results[i] =
              done ?? (await this.tx((created) => this.deductWork(created, request, deductHash(request))));
          } catch (error) {
            results[i] = asError(error);
          }
        }),
      );
      pending = later;
    }
    return results;
  }

  /**
   * On PostgreSQL, charges to wallets this process has seen (subject and every account known), one request
   * per owner, as one statement (postgres-deduct-statement.ts): each request's result where the statement
   * applied it; undefined where that does not apply or it wrote nothing, and the general transaction decides.
   */
  private async deductKnown(requests: readonly DeductRequest[]): Promise<Array<WalletResult | undefined>> {
    const known = requests.map((request) => {
      if (this.db.dialect !== 'postgres') return undefined;
      const subjectRef = this.knownSubjects.get(ownerKey(request.owner));
      if (subjectRef === undefined) return undefined;
      const account = walletAccount(subjectRef);
      const accounts = [account, ...request.distribution.map((s) => s.account)];
      if (!accounts.every((a) => this.knownAccounts.has(a))) return undefined;
      const createdAt = this.now();
      return { transactionId: timeOrderedId(), hash: deductHash(request), subjectRef, account, createdAt };
    });
    const items = requests.flatMap((request, i) => {
      const k = known[i];
      return k ? [{ request, known: k, index: i }] : [];
    });
    const out = new Array<WalletResult | undefined>(requests.length);
    if (items.length === 0) return out;
    const statement = deductStatement(items);
    let rows: SqlRow[];
    try {
      rows = await this.db.query(statement.text, statement.params);
    } catch (error) {
      // Nothing was written. A key a racing request committed first, or one request the database refuses (a
      // constraint, a trigger): the general path decides each, so only that one is refused. A server or
      // connection that failed is every request's answer.
      if (isRefusedStatement(error)) return out;
      throw error;
    }
    for (const row of rows) {
      const item = items[int(row.ord)];
      if (!item) continue;
      out[item.index] = {
        entry: deductEntry(item.request, item.known.transactionId, item.known.createdAt),
        replayed: false,
        balanceAfter: int(row.balance),
      };
    }
    return out;
  }

  private *deductWork(created: Created, request: DeductRequest, hash: string): SqlWork<WalletResult> {
    const ref = yield* this.ensureWallet(created, request.owner);
    const account = walletAccount(ref);
    const transactionId = timeOrderedId();
    const createdAt = this.now();
    // The key first, and it is the idempotency check: a key already recorded (a retry, or a concurrent
    // duplicate that committed first, which this insert waits for) inserts nothing and is answered from
    // what was recorded, or refused if it was another request. A new key costs no extra lookup.
    const inserted = yield* this.insertTransaction(
      {
        transactionId,
        key: request.idempotencyKey,
        hash,
        kind: 'deduct',
        account,
        tenantId: request.owner.tenantId,
        subjectRef: ref,
        amount: request.amount,
        description: request.description,
        category: request.category,
        module: request.module,
        metadata: request.metadata ?? {},
        refundOf: null,
        createdAt,
      },
      { unlessKeyExists: true },
    );
    if (!inserted) {
      const replay = yield* this.replay(request.idempotencyKey, hash, request.owner);
      if (!replay) throw new Error(`idempotency key ${request.idempotencyKey} was neither new nor recorded`);
      return replay;
    }
    const updated = yield* q(
      'UPDATE ledger_accounts SET balance = balance - $1 WHERE account_id = $2 AND balance >= $1 RETURNING balance',
      [request.amount, account],
    );
    if (!updated[0]) throw new InsufficientFundsError(yield* this.balanceOf(ref), request.amount);
    for (const share of request.distribution) {
      yield* this.ensureAccount(created, share.account, 'distribution');
    }
    yield* this.post(transactionId, [
      { account, shareId: null, amount: -request.amount },
      ...request.distribution.map((s) => ({ account: s.account, shareId: s.shareId, amount: s.amount })),
    ]);
    return {
      entry: deductEntry(request, transactionId, createdAt),
      replayed: false,
      balanceAfter: int(updated[0].balance),
    };
  }

  async refund(request: RefundRequest): Promise<WalletResult> {
    validateAmount(request.amount);
    validateKey(request.idempotencyKey);
    const hash = hashOf(['refund', request.transactionId, request.amount]);
    return this.tx(() => this.refundWork(request, hash));
  }

  private *refundWork(request: RefundRequest, hash: string): SqlWork<WalletResult> {
    const replay = yield* this.replay(request.idempotencyKey, hash, undefined);
    if (replay) return replay;
    const original = (yield* q(`${WITH_OWNER} WHERE t.transaction_id = $1 AND t.kind = 'deduct'`, [
      request.transactionId,
    ]))[0];
    if (!original) throw new WalletRequestError(`no deduction ${request.transactionId} to refund`);
    const refunded = int(
      (yield* q('SELECT coalesce(sum(amount), 0) AS total FROM ledger_transactions WHERE refund_of = $1', [
        request.transactionId,
      ]))[0]?.total ?? 0,
    );
    const originalAmount = int(original.amount);
    if (refunded + request.amount > originalAmount) {
      throw new WalletRequestError(
        `refunds would total ${refunded + request.amount} µNXC, more than the deduction of ${originalAmount}`,
      );
    }
    const owner = { tenantId: text(original.tenant_id), userId: text(original.owner_user_id) };
    const ref = text(original.subject_ref);
    const originalShares = (yield* this.sharesOf([request.transactionId])).get(request.transactionId) ?? [];
    // The refund takes back from each share in the proportions the deduction gave them.
    const parts =
      originalShares.length > 0
        ? splitExactly(
            request.amount,
            originalShares.map((s) => s.amount),
          )
        : [];
    const transactionId = timeOrderedId();
    const createdAt = this.now();
    const account = text(original.account_id);
    const description = `Refund: ${request.reason}`;
    const metadata = json<Record<string, string>>(original.metadata);
    yield* this.insertTransaction({
      transactionId,
      key: request.idempotencyKey,
      hash,
      kind: 'refund',
      account,
      tenantId: owner.tenantId,
      subjectRef: ref,
      amount: request.amount,
      description,
      category: text(original.category),
      module: text(original.module),
      metadata,
      refundOf: request.transactionId,
      createdAt,
    });
    const updated = yield* q(
      'UPDATE ledger_accounts SET balance = balance + $1 WHERE account_id = $2 RETURNING balance',
      [request.amount, account],
    );
    const distribution: DistributionShare[] = originalShares.map((s, i) => ({
      shareId: s.shareId,
      account: s.account,
      amount: parts[i] ?? 0,
    }));
    yield* this.post(transactionId, [
      { account, shareId: null, amount: request.amount },
      ...distribution.map((s) => ({ account: s.account, shareId: s.shareId, amount: -s.amount })),
    ]);
    const entry: WalletEntry = {
      transactionId,
      idempotencyKey: request.idempotencyKey,
      kind: 'refund',
      owner,
      amount: request.amount,
      description,
      category: text(original.category),
      module: text(original.module),
      metadata,
      refundOf: request.transactionId,
      distribution,
      createdAt,
    };
    return { entry, replayed: false, balanceAfter: int(updated[0]?.balance ?? 0) };
  }

  /** Adds NexCoin to a wallet from the issuance account (top-ups, grants; not part of the Wallet port). */
  async credit(
    owner: WalletOwner,
    amount: number,
    idempotencyKey: string,
    description = 'NexCoin credit',
  ): Promise<WalletResult> {
    validateAmount(amount);
    validateKey(idempotencyKey);
    const hash = hashOf(['credit', amount]);
    return this.tx((created) => this.creditWork(created, owner, amount, idempotencyKey, hash, description));
  }

  private *creditWork(
    created: Created,
    owner: WalletOwner,
    amount: number,
    key: string,
    hash: string,
    description: string,
  ): SqlWork<WalletResult> {
    const replay = yield* this.replay(key, hash, owner);
    if (replay) return replay;
    const ref = yield* this.ensureWallet(created, owner);
    const entry = yield* this.creditIn(created, owner, ref, amount, key, hash, description);
    return { entry, replayed: false, balanceAfter: yield* this.balanceOf(ref) };
  }

  async listEntries(owner: WalletOwner, options: ListEntriesOptions = {}): Promise<WalletEntry[]> {
    const params: SqlValue[] = [owner.tenantId, owner.userId];
    let where = 's.tenant_id = $1 AND s.user_id = $2';
    if (options.from) {
      params.push(options.from);
      where += ` AND t.created_at >= $${params.length}`;
    }
    if (options.to) {
      params.push(options.to);
      where += ` AND t.created_at < $${params.length}`;
    }
    return this.tx(() => this.listWork(where, params));
  }

  /**
   * listEntries of many owners, each from its own time: two reads whatever their number, so reconciling
   * every owner of two days' sessions no longer costs a transaction per owner. The lists come back in the
   * order of `requests`.
   */
  async listEntriesOfOwners(requests: readonly OwnerEntriesRequest[]): Promise<WalletEntry[][]> {
    // ISO times as the rows give them back, so that they compare as text.
    const fromOf = (r: OwnerEntriesRequest): string => (r.from ? new Date(r.from).toISOString() : EPOCH);
    const since = new Map<string, { owner: WalletOwner; from: string }>();
    for (const r of requests) {
      const from = fromOf(r);
      const known = since.get(ownerKey(r.owner));
      if (!known || from < known.from) since.set(ownerKey(r.owner), { owner: r.owner, from });
    }
    const byOwner = new Map<string, WalletEntry[]>();
    for (const key of since.keys()) byOwner.set(key, []);
    const owners = [...since.values()];
    for (let i = 0; i < owners.length; i += OWNERS_PER_READ) {
      const page = owners.slice(i, i + OWNERS_PER_READ);
      const entries = await this.tx(() => this.ownersWork(page));
      for (const e of entries) byOwner.get(ownerKey(e.owner))?.push(e);
    }
    return requests.map((r) => {
      const from = fromOf(r);
      return (byOwner.get(ownerKey(r.owner)) ?? []).filter((e) => e.createdAt >= from);
    });
  }

  private *ownersWork(owners: ReadonlyArray<{ owner: WalletOwner; from: string }>): SqlWork<WalletEntry[]> {
    const from = `${jsonRows(this.db.dialect, '$1', { tenant_id: 'text', user_id: 'text', since: 'time' })}
      JOIN ledger_subjects s ON s.tenant_id = x.tenant_id AND s.user_id = x.user_id
      JOIN ledger_transactions t ON t.subject_ref = s.subject_ref AND t.created_at >= x.since`;
    const param = JSON.stringify(
      owners.map(({ owner, from: since }) => ({ tenant_id: owner.tenantId, user_id: owner.userId, since })),
    );
    const rows = yield* q(`SELECT t.*, s.user_id AS owner_user_id FROM ${from} ORDER BY t.seq`, [param]);
    const shares = new Map<string, DistributionShare[]>();
    const postings = yield* q(
      `SELECT p.transaction_id, p.account_id, p.share_id, p.amount FROM ${from}
         JOIN ledger_postings p ON p.transaction_id = t.transaction_id
        WHERE p.share_id IS NOT NULL ORDER BY p.posting_id`,
      [param],
    );
    for (const r of postings) addShare(shares, r);
    return rows.map((r) => this.entryOf(r, shares.get(text(r.transaction_id)) ?? []));
  }

  private *listWork(where: string, params: readonly SqlValue[]): SqlWork<WalletEntry[]> {
    const rows = yield* q(`${WITH_OWNER} WHERE ${where} ORDER BY t.seq`, params);
    const shares = yield* this.sharesOf(rows.map((r) => text(r.transaction_id)));
    return rows.map((r) => this.entryOf(r, shares.get(text(r.transaction_id)) ?? []));
  }

  /** Everything the ledger holds about a user, for a GDPR/CCPA export. */
  async exportOwner(owner: WalletOwner): Promise<{ balance: number; entries: WalletEntry[] }> {
    const rows = await this.db.query(
      `SELECT a.balance FROM ledger_accounts a JOIN ledger_subjects s ON s.subject_ref = a.subject_ref
        WHERE s.tenant_id = $1 AND s.user_id = $2`,
      [owner.tenantId, owner.userId],
    );
    return { balance: rows[0] ? int(rows[0].balance) : 0, entries: await this.listEntries(owner) };
  }

  /**
   * GDPR erasure: the user's subject now maps to `pseudonym` instead of their id. The books (append-only)
   * are untouched and stay complete; nothing in them names the person any more.
   */
  async eraseOwner(owner: WalletOwner, pseudonym: string): Promise<{ walletsPseudonymised: number }> {
    const changed = await this.db.transaction(function* (): SqlWork<number> {
      return yield* run(
        'UPDATE ledger_subjects SET user_id = $3, erased_at = $4 WHERE tenant_id = $1 AND user_id = $2',
        [owner.tenantId, owner.userId, pseudonym, new Date().toISOString()],
      );
    });
    this.knownSubjects.delete(ownerKey(owner));
    return { walletsPseudonymised: changed };
  }

  /** Checks the books: every transaction balanced, every wallet's balance equal to its postings. */
  async audit(): Promise<LedgerAudit> {
    return this.tx(function* (): SqlWork<LedgerAudit> {
      const transactions = int((yield* q('SELECT count(*) AS n FROM ledger_transactions'))[0]?.n ?? 0);
      const unbalanced = int(
        (yield* q(
          'SELECT count(*) AS n FROM (SELECT transaction_id FROM ledger_postings GROUP BY transaction_id HAVING sum(amount) <> 0) x',
        ))[0]?.n ?? 0,
      );
      const mismatches = int(
        (yield* q(
          `SELECT count(*) AS n FROM ledger_accounts a
             LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_postings GROUP BY account_id) p
               ON p.account_id = a.account_id
            WHERE a.kind = 'wallet' AND a.balance <> coalesce(p.total, 0)`,
        ))[0]?.n ?? 0,
      );
      const total = (yield* q('SELECT coalesce(sum(amount), 0) AS total FROM ledger_postings'))[0]?.total;
      return {
        transactions,
        unbalancedTransactions: unbalanced,
        walletBalanceMismatches: mismatches,
        postingsTotal: BigInt(String(total ?? 0)),
      };
    });
  }

  /** Its PostgreSQL pool's state; undefined on SQLite. */
  connections(): PoolConnections | undefined {
    return this.db.connections?.();
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  // ---- transaction bodies' parts ----

  private *balanceOf(subjectRef: string): SqlWork<number> {
    const rows = yield* q('SELECT balance FROM ledger_accounts WHERE account_id = $1', [
      walletAccount(subjectRef),
    ]);
    return rows[0] ? int(rows[0].balance) : 0;
  }

  /**
   * The earlier result for `key`, or undefined when the key is new; the key used for a different request
   * (or, when `owner` is given, for another owner) is refused.
   */
  private *replay(
    key: string,
    hash: string,
    owner: WalletOwner | undefined,
  ): SqlWork<WalletResult | undefined> {
    const row = (yield* q(`${WITH_OWNER} WHERE t.idempotency_key = $1`, [key]))[0];
    if (!row) return undefined;
    const sameOwner =
      owner === undefined ||
      (text(row.tenant_id) === owner.tenantId && text(row.owner_user_id) === owner.userId);
    if (text(row.request_hash) !== hash || !sameOwner) throw new IdempotencyConflictError(key);
    const id = text(row.transaction_id);
    const shares = yield* this.sharesOf([id]);
    const entry = this.entryOf(row, shares.get(id) ?? []);
    return { entry, replayed: true, balanceAfter: yield* this.balanceOf(text(row.subject_ref)) };
  }

  private *ensureAccount(
    created: Created,
    account: string,
    kind: 'distribution' | 'issuance',
  ): SqlWork<void> {
    if (this.knownAccounts.has(account) || created.accounts.includes(account)) return;
    yield* run(
      'INSERT INTO ledger_accounts (account_id, kind, balance, created_at) VALUES ($1, $2, 0, $3) ON CONFLICT DO NOTHING',
      [account, kind, this.now()],
    );
    created.accounts.push(account);
  }

  /** The owner's subject reference, created with a new random one if they have none. */
  private *subjectOf(created: Created, owner: WalletOwner): SqlWork<string> {
    const key = ownerKey(owner);
    const known = this.knownSubjects.get(key) ?? created.subjects.find(([k]) => k === key)?.[1];
    if (known) return known;
    const select = 'SELECT subject_ref FROM ledger_subjects WHERE tenant_id = $1 AND user_id = $2';
    let row = (yield* q(select, [owner.tenantId, owner.userId]))[0];
    if (!row) {
      // Another replica inserting the same owner at once: its row wins, this insert does nothing.
      yield* run(
        'INSERT INTO ledger_subjects (subject_ref, tenant_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [`subj_${randomBytes(16).toString('hex')}`, owner.tenantId, owner.userId],
      );
      row = (yield* q(select, [owner.tenantId, owner.userId]))[0];
    }
    if (!row) throw new Error('ledger subject vanished inside its own transaction');
    const ref = text(row.subject_ref);
    created.subjects.push([key, ref]);
    return ref;
  }

  /** Opens the owner's wallet if it is new, with the opening grant (once: the insert decides). */
  private *ensureWallet(created: Created, owner: WalletOwner): SqlWork<string> {
    const ref = yield* this.subjectOf(created, owner);
    const account = walletAccount(ref);
    if (this.knownAccounts.has(account) || created.accounts.includes(account)) return ref;
    const opened = yield* run(
      `INSERT INTO ledger_accounts (account_id, kind, subject_ref, balance, created_at)
       VALUES ($1, 'wallet', $2, 0, $3) ON CONFLICT DO NOTHING`,
      [account, ref, this.now()],
    );
    created.accounts.push(account);
    if (opened === 1 && this.openingBalance > 0) {
      yield* this.creditIn(
        created,
        owner,
        ref,
        this.openingBalance,
        `opening-grant:${account}`,
        hashOf(['credit', this.openingBalance]),
        'Opening NexCoin grant',
      );
    }
    return ref;
  }

  private *creditIn(
    created: Created,
    owner: WalletOwner,
    ref: string,
    amount: number,
    key: string,
    hash: string,
    description: string,
  ): SqlWork<WalletEntry> {
    yield* this.ensureAccount(created, ISSUANCE_ACCOUNT, 'issuance');
    const account = walletAccount(ref);
    const transactionId = timeOrderedId();
    const createdAt = this.now();
    yield* this.insertTransaction({
      transactionId,
      key,
      hash,
      kind: 'credit',
      account,
      tenantId: owner.tenantId,
      subjectRef: ref,
      amount,
      description,
      category: 'credit',
      module: 'v-supercore',
      metadata: {},
      refundOf: null,
      createdAt,
    });
    yield* run('UPDATE ledger_accounts SET balance = balance + $1 WHERE account_id = $2', [amount, account]);
    yield* this.post(transactionId, [
      { account: ISSUANCE_ACCOUNT, shareId: null, amount: -amount },
      { account, shareId: null, amount },
    ]);
    return {
      transactionId,
      idempotencyKey: key,
      kind: 'credit',
      owner: { ...owner },
      amount,
      description,
      category: 'credit',
      module: 'v-supercore',
      metadata: {},
      refundOf: null,
      distribution: [],
      createdAt,
    };
  }

  /**
   * Records a transaction; with `unlessKeyExists`, a key already recorded inserts nothing (false) rather
   * than failing on the unique index.
   */
  private *insertTransaction(
    t: NewTransaction,
    options: { unlessKeyExists?: boolean } = {},
  ): SqlWork<boolean> {
    const changed = yield* run(
      `INSERT INTO ledger_transactions (transaction_id, idempotency_key, request_hash, kind, account_id, tenant_id,
         subject_ref, amount, description, category, module, metadata, refund_of, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)${
         options.unlessKeyExists ? ' ON CONFLICT (idempotency_key) DO NOTHING' : ''
       }`,
      [
        t.transactionId,
        t.key,
        t.hash,
        t.kind,
        t.account,
        t.tenantId,
        t.subjectRef,
        t.amount,
        t.description,
        t.category,
        t.module,
        JSON.stringify(t.metadata),
        t.refundOf,
        t.createdAt,
      ],
    );
    return changed > 0;
  }

  /** A transaction's postings, in one statement. */
  private *post(
    transactionId: string,
    postings: ReadonlyArray<{ account: string; shareId: string | null; amount: number }>,
  ): SqlWork<void> {
    const params: SqlValue[] = [transactionId];
    const rows = postings.map((p) => {
      params.push(p.account, p.shareId, p.amount);
      const n = params.length;
      return `($1, $${n - 2}, $${n - 1}, $${n})`;
    });
    yield* run(
      `INSERT INTO ledger_postings (transaction_id, account_id, share_id, amount) VALUES ${rows.join(', ')}`,
      params,
    );
  }

  /** The share postings of the given transactions, in posting order, as positive amounts. */
  private *sharesOf(ids: readonly string[]): SqlWork<Map<string, DistributionShare[]>> {
    const out = new Map<string, DistributionShare[]>();
    // Bounded chunks keep the statement size (and SQLite's variable limit) in check.
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const placeholders = chunk.map((_, j) => `$${j + 1}`).join(', ');
      const rows = yield* q(
        `SELECT transaction_id, account_id, share_id, amount FROM ledger_postings
          WHERE share_id IS NOT NULL AND transaction_id IN (${placeholders}) ORDER BY posting_id`,
        chunk,
      );
      for (const r of rows) addShare(out, r);
    }
    return out;
  }

  private entryOf(r: SqlRow, distribution: DistributionShare[]): WalletEntry {
    return {
      transactionId: text(r.transaction_id),
      idempotencyKey: text(r.idempotency_key),
      kind: text(r.kind) as WalletEntryKind,
      owner: { tenantId: text(r.tenant_id), userId: text(r.owner_user_id) },
      amount: int(r.amount),
      description: text(r.description),
      category: text(r.category),
      module: text(r.module),
      metadata: json<Record<string, string>>(r.metadata),
      refundOf: textOrNull(r.refund_of),
      distribution,
      createdAt: iso(r.created_at),
    };
  }
}
