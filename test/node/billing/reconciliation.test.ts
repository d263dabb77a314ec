import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { chargeKey } from '../../../backend-adapter/billing/pricing.ts';
import Database from 'better-sqlite3';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import type { LedgerWallet } from '../../../backend-adapter/wallet/ledger-wallet.ts';
import type { Wallet } from '../../../backend-adapter/wallet/wallet.ts';
import { FakeRuntime, billingRig, rogueDeduction, type BillingRig } from './billing-fixture.ts';

/** A desktop that dies when it is paused: the session fails after it ran. */
class DiesOnPause extends FakeRuntime {
  override async pause(): Promise<void> {
    throw new Error('the desktop is no longer running');
  }
}

const MIN = 60_000;

describe('billing reconciliation', () => {
  let rig: BillingRig;
  afterEach(async () => {
    await rig.cleanup();
  });

  async function billedSessions(): Promise<{ ids: string[]; window: { from: string; to: string } }> {
    const from = new Date(rig.clock.now - MIN).toISOString();
    const ids: string[] = [];
    for (const [i, who] of [
      { userId: 'ann', tenantId: 'puabo' },
      { userId: 'ben', tenantId: 'civic-commons' },
      { userId: 'cat', tenantId: 'civic-commons' },
    ].entries()) {
      const p = { ...who, subscription: 'enterprise' };
      await rig.ledger.credit(p, 100_000_000, `fund:${who.userId}`);
      const s = await rig.lifecycle.create(p, i === 0 ? 'pro' : 'basic');
      ids.push(s.sessionId);
    }
    rig.advance(3 * MIN + 1_000);
    await rig.metering.runCycle();
    for (const [i, id] of ids.entries()) {
      const owner = (await rig.backend.canon.getSession(id))?.session;
      assert.ok(owner);
      await rig.lifecycle.terminate({ userId: owner.userId, tenantId: owner.tenantId }, id);
      await rig.metering.meterSession(id);
      rig.advance(i * 1_000);
    }
    return { ids, window: { from, to: new Date(rig.clock.now + 1).toISOString() } };
  }

  it('finds nothing to report when usage, charges and the ledger agree', async () => {
    rig = await billingRig();
    const { window } = await billedSessions();
    const report = await rig.reconciler.run(window);
    assert.equal(report.sessionsChecked, 3);
    assert.equal(report.matched, 3);
    assert.deepEqual(report.differences, []);
    assert.equal(report.totals.usage, report.totals.ledgerDeducted);
    assert.equal(report.totals.usage, report.totals.charges);
  });

  // The embedded ledger reads every owner's entries at once; a wallet without that (the HTTP one) is read
  // one owner at a time. Both must find the same.
  const oneOwnerAtATime = (ledger: LedgerWallet): Wallet => ({
    kind: 'one-owner-at-a-time',
    balance: (owner) => ledger.balance(owner),
    deduct: (request) => ledger.deduct(request),
    refund: (request) => ledger.refund(request),
    listEntries: (owner, options) => ledger.listEntries(owner, options),
    close: () => ledger.close(),
  });
  for (const [how, wallet] of [
    ['all owners in one read', undefined],
    ['one owner at a time', oneOwnerAtATime],
  ] as const)
    it(`finds a planted extra deduction, a planted usage cost and a lost ledger entry (${how})`, async () => {
      rig = await billingRig(wallet ? { wallet } : {});
      const { ids, window } = await billedSessions();
      const [a, b, c] = ids as [string, string, string];
      // 1. Someone charged session a twice for minute 2 under another key.
      await rogueDeduction(
        rig.ledger,
        { tenantId: 'puabo', userId: 'ann' },
        a,
        33_334,
        'rogue-retry-without-key',
      );
      // 2. Session b's usage record says one micro-NexCoin less than was billed.
      assert.ok(rig.backend.file);
      const raw = new Database(rig.backend.file);
      try {
        raw.prepare('UPDATE usage SET cost = cost - 1 WHERE session_id = ?').run(b);
        // 3. Session c's first charge is marked charged, but under a transaction the ledger never saw.
        raw
          .prepare(
            "UPDATE billing_charges SET idempotency_key = 'v-supercore:charge:lost' WHERE session_id = ? AND period = 0",
          )
          .run(c);
      } finally {
        raw.close();
      }
      const report = await rig.reconciler.run(window);
      const kinds = (id: string) =>
        report.differences
          .filter((d) => d.sessionId === id)
          .map((d) => d.kind)
          .sort();
      assert.deepEqual(kinds(a), ['ledger-entry-without-charge', 'usage-vs-ledger']);
      assert.deepEqual(kinds(b), ['usage-vs-charges', 'usage-vs-ledger']);
      assert.deepEqual(kinds(c), ['charge-without-ledger-entry', 'ledger-entry-without-charge']);
      const extra = report.differences.find((d) => d.sessionId === a && d.kind === 'usage-vs-ledger');
      assert.equal((extra?.actual ?? 0) - (extra?.expected ?? 0), 33_334);
      assert.match(
        report.differences.find((d) => d.sessionId === c && d.kind === 'ledger-entry-without-charge')
          ?.detail ?? '',
        new RegExp(chargeKey(c, 0)),
      );
      assert.equal(report.matched, 0);
    });

  it('reports charges still owed', async () => {
    rig = await billingRig({ policy: { reservePeriods: 1 } });
    const p = { userId: 'dee', tenantId: 'civic-commons', subscription: 'enterprise' };
    await rig.ledger.credit(p, 8_334, 'fund');
    const s = await rig.lifecycle.create(p, 'basic');
    rig.advance(2 * MIN);
    await rig.metering.runCycle();
    const report = await rig.reconciler.run();
    const owed = report.differences.filter((d) => d.sessionId === s.sessionId);
    assert.deepEqual(
      owed.map((d) => [d.kind, d.actual]),
      [['outstanding', 8_334]],
    );
  });
  it('checks a session that ran and then failed as a terminated one, and reports its record if lost', async () => {
    rig = await billingRig({ runtime: new DiesOnPause() });
    const from = new Date(rig.clock.now - MIN).toISOString();
    const p = { userId: 'eve', tenantId: 'civic-commons', subscription: 'enterprise' };
    await rig.ledger.credit(p, 100_000_000, 'fund');
    const kept = await rig.lifecycle.create(p, 'basic');
    const lost = await rig.lifecycle.create(p, 'basic');
    rig.advance(3 * MIN + 1_000);
    await rig.metering.runCycle();
    for (const s of [kept, lost]) {
      await assert.rejects(
        rig.lifecycle.pause(p, s.sessionId),
        (e: unknown) => e instanceof ApiError && e.code === 'RUNTIME_FAILED',
      );
      assert.equal((await rig.backend.canon.getSession(s.sessionId))?.session.state, 'failed');
      await rig.metering.meterSession(s.sessionId);
    }
    const usage = await rig.backend.canon.getUsage(kept.sessionId);
    const deducted = (await rig.ledger.listEntries(p))
      .filter((e) => e.kind === 'deduct' && e.metadata.sessionId === kept.sessionId)
      .reduce((a, e) => a + e.amount, 0);
    assert.equal(usage?.cost, 4 * 8_334, 'four started minutes of basic');
    assert.equal(usage?.cost, deducted, 'the failed session’s record says what the ledger took');

    assert.ok(rig.backend.file);
    const raw = new Database(rig.backend.file);
    try {
      raw.prepare('DELETE FROM usage WHERE session_id = ?').run(lost.sessionId);
    } finally {
      raw.close();
    }
    const report = await rig.reconciler.run({ from, to: new Date(rig.clock.now + 1).toISOString() });
    assert.equal(report.sessionsChecked, 2);
    assert.deepEqual(
      report.differences.map((d) => [d.sessionId, d.kind]),
      [[lost.sessionId, 'missing-usage']],
    );
    assert.match(report.differences[0]?.detail ?? '', /failed after it was billed/);
    assert.equal(report.matched, 1);
  });

  it('expects no usage record from a session that failed before it ran', async () => {
    class NeverStarts extends FakeRuntime {
      override async start(): Promise<never> {
        throw new Error('Xvnc exited');
      }
    }
    rig = await billingRig({ runtime: new NeverStarts() });
    const from = new Date(rig.clock.now - MIN).toISOString();
    const p = { userId: 'fay', tenantId: 'civic-commons', subscription: 'enterprise' };
    await rig.ledger.credit(p, 100_000_000, 'fund');
    await assert.rejects(rig.lifecycle.create(p, 'basic'));
    const [row] = await rig.backend.canon.listSessions(p);
    assert.equal(row?.session.state, 'failed');
    assert.equal(await rig.backend.canon.getUsage(row?.session.sessionId ?? ''), undefined);
    rig.advance(MIN);
    await rig.metering.runCycle();
    const report = await rig.reconciler.run({ from, to: new Date(rig.clock.now + 1).toISOString() });
    assert.deepEqual(report.differences, []);
  });
});
