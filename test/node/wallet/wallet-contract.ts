// The one behaviour every Wallet adapter must have. Each adapter's *.test.ts runs it against its own backing
// (SQLite ledger, PostgreSQL ledger, HTTP adapter + the test NexCoin service); only the fixture differs.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  IdempotencyConflictError,
  InsufficientFundsError,
  WalletRequestError,
  type DeductRequest,
  type Wallet,
  type WalletOwner,
} from '../../../backend-adapter/wallet/wallet.ts';

export interface WalletFixture {
  /** A wallet on empty books, without an opening grant. */
  wallet: Wallet;
  /** Puts NexCoin on an owner's wallet (however the backing does it). */
  fund(owner: WalletOwner, amount: number): Promise<void>;
  /** Another adapter instance on the same books, as a second replica would have. */
  second(): Promise<Wallet>;
  cleanup(): Promise<void>;
}

const ALICE: WalletOwner = { tenantId: 'puabo', userId: 'alice' };
const BOB: WalletOwner = { tenantId: 'puabo', userId: 'bob' };
/** Same user id in another tenant: a different wallet. */
const ALICE_ELSEWHERE: WalletOwner = { tenantId: 'v-suite', userId: 'alice' };

let counter = 0;
function charge(owner: WalletOwner, amount: number, key = `k-${++counter}`): DeductRequest {
  const creators = Math.floor((amount * 8000) / 10000);
  return {
    owner,
    amount,
    idempotencyKey: key,
    description: `v-SuperCore basic — minute ${counter}`,
    category: 'compute',
    module: 'v-supercore',
    distribution: [
      { shareId: 'creators', account: `tenant:${owner.tenantId}:creator-pool`, amount: creators },
      { shareId: 'platform', account: 'n3xus:platform-treasury', amount: amount - creators },
    ],
    metadata: { sessionId: 's-1', period: String(counter) },
  };
}

export function describeWalletContract(name: string, make: () => Promise<WalletFixture>): void {
  describe(`Wallet contract: ${name}`, () => {
    let f: WalletFixture;
    let wallet: Wallet;
    beforeEach(async () => {
      f = await make();
      wallet = f.wallet;
    });
    afterEach(async () => {
      await f.cleanup();
    });

    it('starts at zero and reports funding per owner, tenant included', async () => {
      assert.equal(await wallet.balance(ALICE), 0);
      await f.fund(ALICE, 5_000_000);
      assert.equal(await wallet.balance(ALICE), 5_000_000);
      assert.equal(await wallet.balance(ALICE_ELSEWHERE), 0);
      assert.equal(await wallet.balance(BOB), 0);
    });

    it('deducts with description, category, module, metadata and the distribution that sums to the charge', async () => {
      await f.fund(ALICE, 1_000_000);
      const request = charge(ALICE, 8_334);
      const result = await wallet.deduct(request);
      assert.equal(result.replayed, false);
      assert.equal(result.balanceAfter, 1_000_000 - 8_334);
      assert.equal(await wallet.balance(ALICE), 1_000_000 - 8_334);
      const e = result.entry;
      assert.equal(e.kind, 'deduct');
      assert.equal(e.amount, 8_334);
      assert.equal(e.idempotencyKey, request.idempotencyKey);
      assert.deepEqual(e.owner, ALICE);
      assert.equal(e.category, 'compute');
      assert.equal(e.module, 'v-supercore');
      assert.equal(e.description, request.description);
      assert.deepEqual(e.metadata, request.metadata);
      assert.deepEqual(e.distribution, request.distribution);
      assert.equal(
        e.distribution.reduce((a, s) => a + s.amount, 0),
        e.amount,
      );
      const listed = await wallet.listEntries(ALICE);
      assert.deepEqual(
        listed.filter((x) => x.kind === 'deduct'),
        [e],
      );
    });

    it('applies an idempotency key once: a repeat is a replay of the first result', async () => {
      await f.fund(ALICE, 1_000_000);
      const request = charge(ALICE, 100_000);
      const first = await wallet.deduct(request);
      const again = await wallet.deduct(request);
      const third = await wallet.deduct({ ...request, description: 'retried' });
      assert.equal(again.replayed, true);
      assert.equal(third.replayed, true);
      assert.equal(again.entry.transactionId, first.entry.transactionId);
      assert.equal(await wallet.balance(ALICE), 900_000);
      assert.equal(again.balanceAfter, 900_000);
      assert.equal((await wallet.listEntries(ALICE)).filter((x) => x.kind === 'deduct').length, 1);
    });

    it('refuses a key reused for a different request, moving nothing', async () => {
      await f.fund(ALICE, 1_000_000);
      const request = charge(ALICE, 100_000);
      await wallet.deduct(request);
      await assert.rejects(
        wallet.deduct({ ...request, amount: 200_000, distribution: charge(ALICE, 200_000).distribution }),
        IdempotencyConflictError,
      );
      await assert.rejects(wallet.deduct({ ...request, owner: BOB }), IdempotencyConflictError);
      assert.equal(await wallet.balance(ALICE), 900_000);
      assert.equal(await wallet.balance(BOB), 0);
    });

    it('declines what the balance does not cover, moving nothing and keeping the key usable', async () => {
      await f.fund(ALICE, 50_000);
      const request = charge(ALICE, 60_000);
      await assert.rejects(wallet.deduct(request), (e: unknown) => {
        assert.ok(e instanceof InsufficientFundsError);
        assert.equal(e.balance, 50_000);
        assert.equal(e.requested, 60_000);
        return true;
      });
      assert.equal(await wallet.balance(ALICE), 50_000);
      assert.equal((await wallet.listEntries(ALICE)).filter((x) => x.kind === 'deduct').length, 0);
      await f.fund(ALICE, 10_000);
      const later = await wallet.deduct(request);
      assert.equal(later.replayed, false);
      assert.equal(await wallet.balance(ALICE), 0);
    });

    it('refuses malformed requests before anything moves', async () => {
      await f.fund(ALICE, 1_000_000);
      const ok = charge(ALICE, 1_000);
      const bad: DeductRequest[] = [
        { ...ok, amount: 0, distribution: [] },
        { ...ok, amount: 1.5 },
        { ...ok, amount: -5 },
        { ...ok, idempotencyKey: '' },
        { ...ok, distribution: [{ shareId: 'creators', account: 'x', amount: 999 }] },
        { ...ok, category: 'games' as 'compute' },
      ];
      for (const request of bad) await assert.rejects(wallet.deduct(request), WalletRequestError);
      assert.equal(await wallet.balance(ALICE), 1_000_000);
    });

    it('charges one key once when replicas send it at the same moment', async () => {
      await f.fund(ALICE, 1_000_000);
      const other = await f.second();
      try {
        // Each replica has charged this wallet before, as under load (an adapter may then take a shorter path).
        for (const w of [wallet, other]) await w.deduct(charge(ALICE, 1_000));
        const request = charge(ALICE, 10_000);
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? wallet : other).deduct(request)),
        );
        assert.equal(results.filter((r) => !r.replayed).length, 1);
        assert.equal(new Set(results.map((r) => r.entry.transactionId)).size, 1);
        assert.equal(await wallet.balance(ALICE), 988_000);
      } finally {
        await other.close();
      }
    });

    it('never goes below zero under concurrent charges with different keys', async () => {
      await f.fund(BOB, 52_000);
      const other = await f.second();
      try {
        for (const w of [wallet, other]) await w.deduct(charge(BOB, 1_000));
        const outcomes = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? wallet : other).deduct(charge(BOB, 10_000))),
        );
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 5);
        for (const o of outcomes) {
          if (o.status === 'rejected')
            assert.ok(o.reason instanceof InsufficientFundsError, String(o.reason));
        }
        assert.equal(await wallet.balance(BOB), 0);
      } finally {
        await other.close();
      }
    });

    it('refunds part of a deduction, taking back from each share in proportion, once per key', async () => {
      await f.fund(ALICE, 1_000_000);
      const { entry } = await wallet.deduct(charge(ALICE, 100_001));
      const refund = await wallet.refund({
        transactionId: entry.transactionId,
        amount: 50_001,
        idempotencyKey: 'refund-1',
        reason: 'desktop failed',
      });
      assert.equal(refund.replayed, false);
      assert.equal(refund.entry.kind, 'refund');
      assert.equal(refund.entry.refundOf, entry.transactionId);
      assert.equal(
        refund.entry.distribution.reduce((a, s) => a + s.amount, 0),
        50_001,
      );
      assert.deepEqual(
        refund.entry.distribution.map((s) => s.shareId),
        entry.distribution.map((s) => s.shareId),
      );
      const again = await wallet.refund({
        transactionId: entry.transactionId,
        amount: 50_001,
        idempotencyKey: 'refund-1',
        reason: 'desktop failed',
      });
      assert.equal(again.replayed, true);
      assert.equal(await wallet.balance(ALICE), 1_000_000 - 100_001 + 50_001);
      await assert.rejects(
        wallet.refund({
          transactionId: entry.transactionId,
          amount: 50_001,
          idempotencyKey: 'refund-2',
          reason: 'x',
        }),
        WalletRequestError,
      );
      await assert.rejects(
        wallet.refund({ transactionId: 'no-such', amount: 1, idempotencyKey: 'refund-3', reason: 'x' }),
        WalletRequestError,
      );
      const kinds = (await wallet.listEntries(ALICE)).map((x) => x.kind).filter((k) => k !== 'credit');
      assert.deepEqual(kinds, ['deduct', 'refund']);
    });

    it('lists an owner’s entries oldest first, filtered by time, and nobody else’s', async () => {
      await f.fund(ALICE, 1_000_000);
      await f.fund(ALICE_ELSEWHERE, 1_000_000);
      const a = await wallet.deduct(charge(ALICE, 1_000));
      await new Promise((r) => setTimeout(r, 5));
      const b = await wallet.deduct(charge(ALICE, 2_000));
      await wallet.deduct(charge(ALICE_ELSEWHERE, 3_000));
      const mine = (await wallet.listEntries(ALICE)).filter((x) => x.kind === 'deduct');
      assert.deepEqual(
        mine.map((x) => x.transactionId),
        [a.entry.transactionId, b.entry.transactionId],
      );
      const later = await wallet.listEntries(ALICE, { from: b.entry.createdAt });
      assert.deepEqual(
        later.map((x) => x.transactionId),
        [b.entry.transactionId],
      );
      const earlier = (await wallet.listEntries(ALICE, { to: b.entry.createdAt })).filter(
        (x) => x.kind === 'deduct',
      );
      assert.deepEqual(
        earlier.map((x) => x.transactionId),
        [a.entry.transactionId],
      );
    });
  });
}
