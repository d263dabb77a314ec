import type { SqlValue } from '../sql/sql-db.ts';
import type { DeductRequest } from './wallet.ts';

/** What the statement needs besides the request: all of it known to exist already. */
export interface KnownDeduct {
  transactionId: string;
  hash: string;
  /** The owner's subject reference and wallet account. */
  subjectRef: string;
  account: string;
  createdAt: string;
}

/**
 * Deductions from wallets whose subjects and accounts exist, on PostgreSQL as one statement with no BEGIN /
 * COMMIT: for each, the debit (only if the balance covers it and the idempotency key is new), the transaction
 * and its postings, applied together or not at all. One round trip for a batch instead of five per charge.
 * Each wallet at most once (a row is updated once per statement): the caller passes distinct accounts.
 *
 * It returns (ord, balance) for each deduction it applied, `ord` being its index in `items`. One it did not
 * apply (the key was used already, the balance is short) the general transaction (ledger-wallet.ts) decides
 * and answers (a replay, InsufficientFundsError). A concurrent request with the same key that commits first
 * makes the transaction's insert fail on the unique key, which rolls the whole statement back; the general path
 * then finds the key and replays. Postings are inserted in the order given, as the general path does (share
 * order is read back by posting id).
 */
export function deductStatement(items: ReadonlyArray<{ request: DeductRequest; known: KnownDeduct }>): {
  text: string;
  params: SqlValue[];
} {
  const accounts = new Set(items.map((i) => i.known.account));
  if (accounts.size !== items.length) throw new Error('deductStatement needs one deduction per wallet');
  const requests = items.map(({ request, known }, ord) => ({
    ord,
    transaction_id: known.transactionId,
    idempotency_key: request.idempotencyKey,
    request_hash: known.hash,
    account_id: known.account,
    tenant_id: request.owner.tenantId,
    subject_ref: known.subjectRef,
    amount: request.amount,
    description: request.description,
    category: request.category,
    module: request.module,
    metadata: request.metadata ?? {},
    created_at: known.createdAt,
  }));
  const postings = items.flatMap(({ request, known }, ord) => [
    { req: ord, ord: 0, account_id: known.account, share_id: null, amount: -request.amount },
    ...request.distribution.map((share, i) => ({
      req: ord,
      ord: i + 1,
      account_id: share.account,
      share_id: share.shareId,
      amount: share.amount,
    })),
  ]);
  const text = `WITH req AS (
      SELECT * FROM jsonb_to_recordset($1::jsonb) AS r (ord int, transaction_id text, idempotency_key text,
        request_hash text, account_id text, tenant_id text, subject_ref text, amount bigint, description text,
        category text, module text, metadata jsonb, created_at timestamptz)
    ), debit AS (
      UPDATE ledger_accounts a SET balance = a.balance - r.amount
        FROM req r
       WHERE a.account_id = r.account_id AND a.balance >= r.amount
         AND NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.idempotency_key = r.idempotency_key)
      RETURNING r.ord, a.balance
    ), entry AS (
      INSERT INTO ledger_transactions (transaction_id, idempotency_key, request_hash, kind, account_id, tenant_id,
        subject_ref, amount, description, category, module, metadata, refund_of, created_at)
      SELECT r.transaction_id, r.idempotency_key, r.request_hash, 'deduct', r.account_id, r.tenant_id, r.subject_ref,
             r.amount, r.description, r.category, r.module, r.metadata, NULL, r.created_at
        FROM req r JOIN debit d ON d.ord = r.ord
       ORDER BY r.ord
      RETURNING transaction_id
    ), posted AS (
      INSERT INTO ledger_postings (transaction_id, account_id, share_id, amount)
      SELECT r.transaction_id, p.account_id, p.share_id, p.amount
        FROM req r JOIN debit d ON d.ord = r.ord
        JOIN jsonb_to_recordset($2::jsonb) AS p (req int, ord int, account_id text, share_id text, amount bigint)
          ON p.req = r.ord
       ORDER BY r.ord, p.ord
    )
    SELECT ord, balance FROM debit`;
  return { text, params: [JSON.stringify(requests), JSON.stringify(postings)] };
}
