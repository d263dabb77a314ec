/**
 * Port: the NexCoin wallet. Amounts are integer micro-NexCoin (1 NexCoin = 1,000,000), always safe integers.
 * Every money movement carries an idempotency key: the same key with the same request is applied once and
 * answered again with the first result (`replayed: true`); the same key with a different request is refused.
 *
 * Adapters: the embedded double-entry ledger (ledger-wallet.ts, in Canon Memory's database) and the HTTP
 * adapter to the NexCoin wallet service (http-wallet.ts). One contract suite (test/node/wallet/) runs
 * against both.
 */

/** Whose wallet: a user within a tenant. */
export interface WalletOwner {
  tenantId: string;
  userId: string;
}

/** One share of a charge credited to a beneficiary account (the 80/20 value distribution). */
export interface DistributionShare {
  /** The configured share's name, e.g. `creators` or `platform`. */
  shareId: string;
  /** The account credited, e.g. `tenant:puabo:creator-pool`. */
  account: string;
  amount: number;
}

export type WalletCategory = 'compute';
export type WalletModule = 'v-supercore';

export interface DeductRequest {
  owner: WalletOwner;
  amount: number;
  idempotencyKey: string;
  /** Shown on the user's statement, e.g. `v-SuperCore pro — minute 12 (active)`. */
  description: string;
  category: WalletCategory;
  module: WalletModule;
  /** Where the charge goes; the amounts must sum to `amount`. */
  distribution: DistributionShare[];
  /** Free-form references (sessionId, period) kept with the entry. */
  metadata?: Record<string, string>;
}

export interface RefundRequest {
  /** The deduction being (partly) refunded. */
  transactionId: string;
  amount: number;
  idempotencyKey: string;
  reason: string;
}

export type WalletEntryKind = 'deduct' | 'refund' | 'credit';

/** One money movement on a user's wallet, with where its value went. */
export interface WalletEntry {
  transactionId: string;
  idempotencyKey: string;
  kind: WalletEntryKind;
  owner: WalletOwner;
  /** Always positive; `kind` says the direction. */
  amount: number;
  description: string;
  category: string;
  module: string;
  metadata: Record<string, string>;
  /** For a refund: the deduction it refunds. */
  refundOf: string | null;
  /** For a deduction: the shares credited; for a refund: the shares debited back. */
  distribution: DistributionShare[];
  createdAt: string;
}

export interface WalletResult {
  entry: WalletEntry;
  /** True when the idempotency key had been applied before: nothing moved this time. */
  replayed: boolean;
  /** The owner's balance right after (or, for a replay, now). */
  balanceAfter: number;
}

export interface ListEntriesOptions {
  /** Only entries created at or after this ISO time. */
  from?: string;
  /** Only entries created before this ISO time. */
  to?: string;
}

/** One owner's entries from `from` (an ISO time, inclusive; all of them without). */
export interface OwnerEntriesRequest {
  owner: WalletOwner;
  from?: string;
}

export interface Wallet {
  /** `embedded-ledger` or `http`; shown in the handshake report. */
  readonly kind: string;
  balance(owner: WalletOwner): Promise<number>;
  deduct(request: DeductRequest): Promise<WalletResult>;
  /**
   * Several deductions at once where the wallet can take them together (the embedded ledger): each request's
   * result or the error that refused it, in order, one owner's applied in the order given; callers fall back
   * to deduct per request.
   */
  deductMany?(requests: readonly DeductRequest[]): Promise<Array<WalletResult | Error>>;
  refund(request: RefundRequest): Promise<WalletResult>;
  /** Oldest first. */
  listEntries(owner: WalletOwner, options?: ListEntriesOptions): Promise<WalletEntry[]>;
  /**
   * listEntries of each owner from its own time, in the order asked, where the wallet can read many owners
   * at once (the embedded ledger); callers fall back to listEntries per owner.
   */
  listEntriesOfOwners?(requests: readonly OwnerEntriesRequest[]): Promise<WalletEntry[][]>;
  close(): Promise<void>;
}

/** The balance does not cover the deduction; nothing moved. */
export class InsufficientFundsError extends Error {
  readonly code = 'INSUFFICIENT_FUNDS';
  constructor(
    readonly balance: number,
    readonly requested: number,
  ) {
    super(`insufficient NexCoin: balance ${balance} µNXC, requested ${requested} µNXC`);
  }
}

/** The idempotency key was used before for a different request; nothing moved. */
export class IdempotencyConflictError extends Error {
  readonly code = 'IDEMPOTENCY_CONFLICT';
  constructor(readonly idempotencyKey: string) {
    super(`idempotency key "${idempotencyKey}" was already used for a different request`);
  }
}

/** The request is malformed (bad amount, distribution not summing, unknown transaction …); nothing moved. */
export class WalletRequestError extends Error {
  readonly code = 'WALLET_REQUEST_INVALID';
}

/** The wallet could not be reached or kept failing; the request may or may not have been applied. */
export class WalletUnavailableError extends Error {
  readonly code = 'WALLET_UNAVAILABLE';
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** Checks what every adapter must refuse before anything moves. */
export function validateDeduct(request: DeductRequest): void {
  validateAmount(request.amount);
  validateKey(request.idempotencyKey);
  if (request.category !== 'compute' || request.module !== 'v-supercore') {
    throw new WalletRequestError('category must be "compute" and module "v-supercore"');
  }
  let sum = 0;
  for (const share of request.distribution) {
    if (!Number.isSafeInteger(share.amount) || share.amount < 0) {
      throw new WalletRequestError(`share ${share.shareId} has an invalid amount ${share.amount}`);
    }
    if (!share.account || !share.shareId) throw new WalletRequestError('every share needs an account and id');
    sum += share.amount;
  }
  if (sum !== request.amount) {
    throw new WalletRequestError(`the distribution sums to ${sum}, not to the amount ${request.amount}`);
  }
}

export function validateAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new WalletRequestError(`amount must be a positive integer of micro-NexCoin, got ${amount}`);
  }
}

export function validateKey(key: string): void {
  if (!key || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new WalletRequestError(`idempotency key must be 1–${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
}

/**
 * Splits `amount` over `weights` (e.g. basis points) exactly: each gets floor(amount × weight / total), the
 * remainder (fewer micro-NexCoin than there are shares) goes to the share at `remainderIndex`. The parts
 * always sum to `amount`. BigInt, so amount × weight never loses precision.
 */
export function splitExactly(amount: number, weights: readonly number[], remainderIndex = 0): number[] {
  const total = weights.reduce((a, w) => a + BigInt(w), 0n);
  if (total <= 0n) throw new WalletRequestError('the weights must sum to more than zero');
  const parts = weights.map((w) => (BigInt(amount) * BigInt(w)) / total);
  const rest = BigInt(amount) - parts.reduce((a, p) => a + p, 0n);
  const index = Math.min(Math.max(remainderIndex, 0), parts.length - 1);
  parts[index] = (parts[index] ?? 0n) + rest;
  return parts.map((p) => Number(p));
}
