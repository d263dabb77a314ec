// Reconciliation reads two days of sessions: in pages, with turns of the event loop between them, so requests
// are not held behind one long read (on SQLite reads run on the event loop). Paging must not lose or repeat a
// session at a page's edge.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timeOrderedId } from '../../../backend-adapter/time-ordered-id.ts';
import { useTestDatabase } from '../canon/postgres-fixture.ts';
import {
  billingRig,
  postgresBackend,
  rogueDeduction,
  sqliteBackend,
  type Backend,
  type BillingRig,
} from './billing-fixture.ts';

const HOUR = 3_600_000;

/** How many turns the event loop takes while `work` runs (a chain of setImmediate callbacks counts them). */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns };
  } finally {
    running = false;
  }
}

/**
 * 1,203 sessions registered: 101 closed three days ago (before the window), 300 an hour ago (in it), the
 * other 802 still open, of 47 owners. Returns the ids the window must list, sorted, and an open session of
 * user-46.
 */
async function registered(rig: BillingRig): Promise<{ expected: string[]; open: string }> {
  const sessions = Array.from({ length: 1203 }, (_, i) => ({
    sessionId: timeOrderedId(),
    tenantId: 'paging',
    userId: `user-${i % 47}`,
    tier: 'basic',
  }));
  const { terms, prices } = rig.metering.registrationFor('basic', 'paging');
  await rig.store.registerMany(
    sessions.map((session) => ({ session, terms, prices })),
    new Date(rig.clock.now - 4 * 24 * HOUR),
  );
  const expected: string[] = [];
  for (const [i, s] of sessions.entries()) {
    if (i % 12 === 0) await rig.store.close(s.sessionId, 0, new Date(rig.clock.now - 3 * 24 * HOUR));
    else if (i % 3 === 0) await rig.store.close(s.sessionId, 0, new Date(rig.clock.now - HOUR));
    if (i % 12 !== 0) expected.push(s.sessionId);
  }
  return { expected: expected.sort(), open: sessions[46]?.sessionId ?? '' };
}

async function listsEverySessionOnce(backend: Backend): Promise<void> {
  const rig = await billingRig({ backend });
  try {
    const { expected, open } = await registered(rig);
    // A deduction no charge accounts for, on user-46's session: found only if each owner's entries reach
    // that owner's sessions, whichever page of owners they were read in.
    const owner = { tenantId: 'paging', userId: 'user-46' };
    await rig.ledger.credit(owner, 1_000_000, 'fund:user-46');
    await rogueDeduction(rig.ledger, owner, open, 8_334, 'rogue-deduction');
    assert.equal(expected.length, 1102);
    const from = new Date(rig.clock.now - 2 * 24 * HOUR).toISOString();
    const to = new Date(rig.clock.now).toISOString();
    const { result, turns } = await turnsDuring(() => rig.store.listForReconciliation(from, to));
    assert.deepEqual(
      result.map((s) => s.sessionId),
      expected,
    );
    assert.ok(turns >= 2, `the event loop turned between the three pages (${turns} turns)`);

    const run = await turnsDuring(() => rig.reconciler.run({ from, to }));
    assert.equal(run.result.sessionsChecked, 1102);
    assert.deepEqual(
      run.result.differences.map((d) => [d.kind, d.sessionId, d.userId]),
      [['ledger-entry-without-charge', open, 'user-46']],
    );
    // Pages of 50 sessions for the charges, rows and usage records (23), and of 20 owners for their wallet
    // entries (3): each followed by a pause.
    assert.ok(
      run.turns >= 23,
      `the event loop turned between the reconciliation's pages (${run.turns} turns)`,
    );
  } finally {
    await rig.cleanup();
  }
}

describe('reconciliation reads in pages', () => {
  it('SQLite: every session of the window listed once, in order, with turns of the event loop between pages', async () => {
    await listsEverySessionOnce(await sqliteBackend());
  });

  describe('PostgreSQL', () => {
    const databaseUrl = useTestDatabase();
    it('PostgreSQL: the same', async () => {
      await listsEverySessionOnce(await postgresBackend(databaseUrl()));
    });
  });
});
