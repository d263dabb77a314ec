import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HttpWallet } from '../../../backend-adapter/wallet/http-wallet.ts';
import {
  IdempotencyConflictError,
  InsufficientFundsError,
  WalletUnavailableError,
  type DeductRequest,
  type WalletOwner,
} from '../../../backend-adapter/wallet/wallet.ts';
import { describeWalletContract } from './wallet-contract.ts';
import { startNexCoinTestServer, type NexCoinTestServer } from './nexcoin-test-server.ts';

/** Short timeouts and backoff so the failure cases run in milliseconds. */
const fast = (url: string, extra: Partial<ConstructorParameters<typeof HttpWallet>[0]> = {}) =>
  new HttpWallet({ baseUrl: url, timeoutMs: 300, retries: 4, backoffMs: 10, maxBackoffMs: 40, ...extra });

describeWalletContract('HTTP adapter against the test NexCoin service', async () => {
  const server = await startNexCoinTestServer();
  return {
    wallet: fast(server.url),
    fund: async (owner, amount) => server.fund(owner, amount),
    second: async () => fast(server.url),
    cleanup: () => server.close(),
  };
});

const ALICE: WalletOwner = { tenantId: 'puabo', userId: 'alice' };
let n = 0;
const charge = (amount = 10_000): DeductRequest => ({
  owner: ALICE,
  amount,
  idempotencyKey: `v-supercore:charge:s1:${++n}`,
  description: 'v-SuperCore basic — minute',
  category: 'compute',
  module: 'v-supercore',
  distribution: [
    { shareId: 'creators', account: 'tenant:puabo:creator-pool', amount: amount * 0.8 },
    { shareId: 'platform', account: 'n3xus:platform-treasury', amount: amount * 0.2 },
  ],
  metadata: { sessionId: 's1', period: String(n) },
});

describe('HTTP wallet adapter: failures, retries and exactly-once', () => {
  let server: NexCoinTestServer;
  beforeEach(async () => {
    server = await startNexCoinTestServer();
    server.fund(ALICE, 1_000_000);
  });
  afterEach(() => server.close());

  it('retries a 500 that applied nothing, and charges once', async () => {
    server.inject({ kind: 'fail-500' });
    const wallet = fast(server.url);
    const r = await wallet.deduct(charge());
    assert.equal(r.replayed, false);
    assert.equal(server.applied().length, 1);
    assert.equal(server.balanceOf(ALICE), 990_000);
    assert.equal(wallet.attempts, 2);
  });

  it('retries a 500 sent after the charge was applied: the retry is a replay, not a second charge', async () => {
    server.inject({ kind: 'apply-then-500' });
    const wallet = fast(server.url);
    const r = await wallet.deduct(charge());
    assert.equal(r.replayed, true);
    assert.equal(server.applied().length, 1);
    assert.equal(server.balanceOf(ALICE), 990_000);
    const keys = server.requests.map((x) => x.key);
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1], 'the retry carries the same idempotency key');
  });

  it('times out on a service that applied and never answered, then gets the replay', async () => {
    server.inject({ kind: 'apply-then-hang' });
    const wallet = fast(server.url, { timeoutMs: 150 });
    const started = Date.now();
    const r = await wallet.deduct(charge());
    assert.ok(Date.now() - started >= 150);
    assert.equal(r.replayed, true);
    assert.equal(server.applied().length, 1);
    assert.equal(server.balanceOf(ALICE), 990_000);
  });

  it('survives a dropped connection before and after applying', async () => {
    server.inject({ kind: 'drop' });
    const wallet = fast(server.url);
    const first = await wallet.deduct(charge());
    server.inject({ kind: 'apply-then-drop' });
    const second = await wallet.deduct(charge());
    assert.equal(first.replayed, false);
    assert.equal(second.replayed, true);
    assert.equal(server.applied().length, 2);
    assert.equal(server.balanceOf(ALICE), 980_000);
  });

  it('gets two answers for one key (a late one to the attempt it gave up on, one to the retry) and one charge', async () => {
    server.inject({ kind: 'delay', ms: 400 });
    const wallet = fast(server.url, { timeoutMs: 100 });
    const r = await wallet.deduct(charge());
    assert.equal(r.replayed, true);
    await new Promise((resolve) => setTimeout(resolve, 450)); // the late answer goes out to a closed request
    assert.equal(server.applied().length, 1);
    assert.equal(server.balanceOf(ALICE), 990_000);
  });

  it('honours Retry-After on 429 and 503', async () => {
    server.inject({ kind: 'status', status: 429, retryAfterSeconds: 0.05 });
    server.inject({ kind: 'status', status: 503 });
    const wallet = fast(server.url, { maxBackoffMs: 100 });
    await wallet.deduct(charge());
    assert.equal(server.applied().length, 1);
    assert.equal(wallet.attempts, 3);
  });

  it('gives up after its retries with WalletUnavailableError; the same key later charges exactly once', async () => {
    for (let i = 0; i < 3; i++) server.inject({ kind: 'apply-then-500' });
    const wallet = fast(server.url, { retries: 2 });
    const request = charge();
    await assert.rejects(wallet.deduct(request), WalletUnavailableError);
    assert.equal(wallet.attempts, 3);
    assert.equal(server.applied().length, 1, 'the first attempt was applied; the others were replays');
    const later = await wallet.deduct(request);
    assert.equal(later.replayed, true);
    assert.equal(server.balanceOf(ALICE), 990_000);
  });

  it('does not retry a refusal: 402 and 409 come back at once', async () => {
    const wallet = fast(server.url);
    await assert.rejects(wallet.deduct(charge(2_000_000)), (e: unknown) => {
      assert.ok(e instanceof InsufficientFundsError);
      assert.equal(e.balance, 1_000_000);
      assert.equal(e.requested, 2_000_000);
      return true;
    });
    const request = charge();
    await wallet.deduct(request);
    await assert.rejects(
      wallet.deduct({ ...request, amount: 20_000, distribution: charge(20_000).distribution }),
      IdempotencyConflictError,
    );
    assert.equal(wallet.attempts, 3);
  });

  it('fails fast on an unreachable service after the retries, with the backoff growing', async () => {
    const wallet = new HttpWallet({
      baseUrl: 'http://127.0.0.1:9',
      timeoutMs: 200,
      retries: 3,
      backoffMs: 20,
      maxBackoffMs: 1000,
      random: () => 0.5,
    });
    assert.deepEqual(
      [1, 2, 3, 4].map((a) => wallet.backoff(a)),
      [15, 30, 60, 120],
    );
    const started = Date.now();
    await assert.rejects(wallet.balance(ALICE), WalletUnavailableError);
    assert.ok(Date.now() - started >= 15 + 30 + 60);
    assert.equal(wallet.attempts, 4);
  });

  it('retries balance and entries reads too, and sends the handshake and service token', async () => {
    server.inject({ kind: 'fail-500' }, (method) => method === 'GET');
    const wallet = fast(server.url, { token: 'svc-token' });
    assert.equal(await wallet.balance(ALICE), 1_000_000);
    assert.equal(wallet.attempts, 2);
  });
});
