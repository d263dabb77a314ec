import type { TSchema, Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { setTimeout as sleep } from 'node:timers/promises';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import {
  IDEMPOTENCY_KEY_HEADER,
  REPLAYED_HEADER,
  WireBalanceSchema,
  WireEntriesSchema,
  WireErrorSchema,
  WireResultSchema,
  type WireDeductBody,
  type WireRefundBody,
} from './nexcoin-wire.ts';
import {
  IdempotencyConflictError,
  InsufficientFundsError,
  validateAmount,
  validateDeduct,
  validateKey,
  WalletRequestError,
  WalletUnavailableError,
  type DeductRequest,
  type ListEntriesOptions,
  type RefundRequest,
  type Wallet,
  type WalletEntry,
  type WalletOwner,
  type WalletResult,
} from './wallet.ts';

export interface HttpWalletOptions {
  /** The NexCoin wallet service, e.g. `https://nexcoin-wallet.n3xus-net:8443`. */
  baseUrl: string;
  /** Service credential sent as a bearer token. */
  token?: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts after the first (network errors, timeouts, 5xx, 429). */
  retries?: number;
  /** First backoff; doubles each attempt up to `maxBackoffMs`, with jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** For tests: a deterministic jitter source in [0, 1). */
  random?: () => number;
  fetch?: typeof fetch;
}

/** Statuses that mean "try again, with the same idempotency key". */
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

class Retryable extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * The NexCoin wallet service over HTTP. Every money movement sends its idempotency key, and every retry
 * (timeout, connection lost, 5xx, 429) sends the same key, so a request the service applied but whose answer
 * was lost is answered again from the service's record instead of charged twice. Backoff is exponential with
 * "equal jitter" (half fixed, half random) so replicas retrying together spread out; `Retry-After` is honoured.
 */
export class HttpWallet implements Wallet {
  readonly kind = 'http';
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  private readonly fetchImpl: typeof fetch;
  /** Attempts made (for tests and metrics). */
  attempts = 0;

  constructor(private readonly options: HttpWalletOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.retries = options.retries ?? 4;
    this.backoffMs = options.backoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 2_000;
    this.random = options.random ?? Math.random;
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** The wait before retry number `attempt` (1-based). */
  backoff(attempt: number): number {
    const ceiling = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  private walletPath(owner: WalletOwner): string {
    return `/v1/wallets/${encodeURIComponent(owner.tenantId)}/${encodeURIComponent(owner.userId)}`;
  }

  async balance(owner: WalletOwner): Promise<number> {
    const body = await this.call('GET', this.walletPath(owner), WireBalanceSchema);
    return body.value.balance;
  }

  async deduct(request: DeductRequest): Promise<WalletResult> {
    validateDeduct(request);
    const body: WireDeductBody = {
      amount: request.amount,
      description: request.description,
      category: request.category,
      module: request.module,
      distribution: request.distribution,
      metadata: request.metadata ?? {},
    };
    const r = await this.call('POST', `${this.walletPath(request.owner)}/deductions`, WireResultSchema, {
      body,
      idempotencyKey: request.idempotencyKey,
    });
    return { entry: r.value.entry, balanceAfter: r.value.balanceAfter, replayed: r.replayed };
  }

  async refund(request: RefundRequest): Promise<WalletResult> {
    validateAmount(request.amount);
    validateKey(request.idempotencyKey);
    const body: WireRefundBody = { amount: request.amount, reason: request.reason };
    const r = await this.call(
      'POST',
      `/v1/transactions/${encodeURIComponent(request.transactionId)}/refunds`,
      WireResultSchema,
      { body, idempotencyKey: request.idempotencyKey },
    );
    return { entry: r.value.entry, balanceAfter: r.value.balanceAfter, replayed: r.replayed };
  }

  async listEntries(owner: WalletOwner, options: ListEntriesOptions = {}): Promise<WalletEntry[]> {
    const query = new URLSearchParams();
    if (options.from) query.set('from', options.from);
    if (options.to) query.set('to', options.to);
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    const r = await this.call('GET', `${this.walletPath(owner)}/entries${suffix}`, WireEntriesSchema);
    return r.value.entries;
  }

  async close(): Promise<void> {
    // fetch's connection pool needs no closing.
  }

  private async call<S extends TSchema>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    send: { body?: unknown; idempotencyKey?: string } = {},
  ): Promise<{ value: Static<S>; replayed: boolean }> {
    let last: Error | undefined;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) {
        const retryAfter = last instanceof Retryable ? last.retryAfterMs : undefined;
        await sleep(Math.min(this.maxBackoffMs, retryAfter ?? this.backoff(attempt)));
      }
      try {
        return await this.once(method, path, schema, send);
      } catch (error) {
        if (!(error instanceof Retryable)) throw error;
        last = error;
      }
    }
    throw new WalletUnavailableError(
      `the NexCoin wallet did not answer ${method} ${path} after ${this.retries + 1} attempts: ${last?.message ?? 'unknown'}`,
    );
  }

  private async once<S extends TSchema>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    send: { body?: unknown; idempotencyKey?: string },
  ): Promise<{ value: Static<S>; replayed: boolean }> {
    this.attempts++;
    const headers: Record<string, string> = { accept: 'application/json', [HANDSHAKE_HEADER]: HANDSHAKE };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (send.idempotencyKey) headers[IDEMPOTENCY_KEY_HEADER] = send.idempotencyKey;
    if (send.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let payload: unknown;
    try {
      response = await this.fetchImpl(this.base + path, {
        method,
        headers,
        body: send.body === undefined ? undefined : JSON.stringify(send.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const raw = await response.text();
      payload = raw ? (JSON.parse(raw) as unknown) : undefined;
    } catch (error) {
      // Connection refused or reset, timeout (headers or body), or a body cut short: the request may have
      // been applied; the retry with the same key finds out.
      throw new Retryable(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
    if (response.ok) {
      if (!Value.Check(schema, payload)) throw new Retryable(`malformed ${response.status} answer`);
      return { value: payload, replayed: response.headers.get(REPLAYED_HEADER) === 'true' };
    }
    if (RETRYABLE.has(response.status)) {
      const after = Number(response.headers.get('retry-after'));
      throw new Retryable(
        `status ${response.status}`,
        Number.isFinite(after) && after > 0 ? after * 1000 : undefined,
      );
    }
    const error = Value.Check(WireErrorSchema, payload) ? payload.error : undefined;
    if (response.status === 402 || error?.code === 'INSUFFICIENT_FUNDS') {
      throw new InsufficientFundsError(error?.balance ?? 0, error?.requested ?? 0);
    }
    if (response.status === 409 || error?.code === 'IDEMPOTENCY_CONFLICT') {
      throw new IdempotencyConflictError(send.idempotencyKey ?? '');
    }
    throw new WalletRequestError(
      `the NexCoin wallet refused ${method} ${path}: ${response.status} ${error?.message ?? ''}`.trim(),
    );
  }
}
