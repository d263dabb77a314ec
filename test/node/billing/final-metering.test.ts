// Sessions that end at about the same moment are metered together: their final periods written in one go, every
// charge asked of the wallet once, and every confirmation and close in one commit. A session whose last charge
// is declined stays open (owed, retried by the cycles) without holding the others back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from '../../../backend-adapter/auth/principal.ts';
import type { Session } from '../../../protocol/session.ts';
import {
  WalletUnavailableError,
  type DeductRequest,
  type Wallet,
} from '../../../backend-adapter/wallet/wallet.ts';
import { useTestDatabase } from '../canon/postgres-fixture.ts';
import type { LedgerWallet } from '../../../backend-adapter/wallet/ledger-wallet.ts';
import {
  billingRig,
  postgresBackend,
  sqliteBackend,
  type Backend,
  type BillingRig,
} from './billing-fixture.ts';

const MIN = 60_000;
/** Basic, one minute, no discount (civic-commons). */
const BASIC = 8_334;

const user = (i: number): Principal => ({
  userId: `u${i}`,
  tenantId: 'civic-commons',
  subscription: 'enterprise',
});

/** The embedded ledger as the wallet, with some of its methods replaced (undefined: the wallet has none). */
function ledgerWith(ledger: LedgerWallet, replaced: Partial<Record<keyof Wallet, unknown>>): Wallet {
  return new Proxy(ledger, {
    get(target, key) {
      if (Object.hasOwn(replaced, key)) return replaced[key as keyof Wallet];
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * u1, u2 and u3 funded, each with a session of two started periods, ended and handed to final metering;
 * `deducts(i)` counts uᵢ's deductions in the ledger.
 */
async function threeEnded(
  rig: BillingRig,
): Promise<{ ended: Session[]; deducts: (i: number) => Promise<number> }> {
  const ended: Session[] = [];
  for (const i of [1, 2, 3]) {
    await rig.ledger.credit(user(i), 100 * BASIC, `fund-u${i}`);
    ended.push(await rig.lifecycle.create(user(i), 'basic'));
  }
  rig.advance(MIN + 1_000); // two started periods each
  for (const [n, s] of ended.entries()) {
    ended[n] = await rig.lifecycle.terminate(user(n + 1), s.sessionId);
  }
  for (const s of ended) rig.metering.meterWhenFinished(s);
  const deducts = async (i: number) =>
    (await rig.ledger.listEntries(user(i))).filter((e) => e.kind === 'deduct').length;
  return { ended, deducts };
}

async function endTogether(backend: Backend): Promise<void> {
  const rig = await billingRig({ backend });
  try {
    // u0 can pay only the two periods Genesis reserves; the others, plenty.
    await rig.ledger.credit(user(0), 2 * BASIC, 'fund-u0');
    for (let i = 1; i < 5; i++) await rig.ledger.credit(user(i), 100 * BASIC, `fund-u${i}`);
    const launched: Session[] = [];
    for (let i = 0; i < 5; i++) launched.push(await rig.lifecycle.create(user(i), 'basic'));
    rig.advance(2 * MIN + 30_000); // three started periods each
    const ended: Session[] = [];
    for (const [i, s] of launched.entries()) ended.push(await rig.lifecycle.terminate(user(i), s.sessionId));

    const commits: Array<{ confirmed: number; closed: string[] }> = [];
    const markChargedMany = rig.store.markChargedMany.bind(rig.store);
    rig.store.markChargedMany = async (items, at, closes = []) => {
      commits.push({ confirmed: items.length, closed: closes.map((c) => c.sessionId) });
      return markChargedMany(items, at, closes);
    };
    for (const s of ended) rig.metering.meterWhenFinished(s);
    await rig.metering.idle();

    const paid = ended.slice(1).map((s) => s.sessionId);
    assert.deepEqual(commits, [{ confirmed: 4 * 3 + 2, closed: paid }], 'one commit for every confirmation');
    for (const [i, s] of ended.entries()) {
      const usage = await rig.backend.canon.getUsage(s.sessionId);
      assert.equal(usage?.cost, 3 * BASIC, `u${i}: three started periods`);
      const deducted = (await rig.ledger.listEntries(user(i)))
        .filter((e) => e.kind === 'deduct')
        .reduce((a, e) => a + e.amount, 0);
      const billing = await rig.store.get(s.sessionId);
      if (i === 0) {
        assert.equal(deducted, 2 * BASIC, 'u0 paid what it had');
        assert.equal(billing?.closedAt, null, 'u0 still owes its last period: open');
        assert.equal(await rig.store.outstanding(user(0)), BASIC);
      } else {
        assert.equal(deducted, usage?.cost, `u${i}: charged exactly its cost`);
        assert.equal(billing?.finalCost, usage?.cost, `u${i}: closed with its cost`);
        assert.deepEqual(await rig.store.openHolds(user(i)), [], `u${i}: its hold released`);
      }
    }

    // Metering them again (a replica, or the next cycle) charges nothing twice.
    for (const s of ended) rig.metering.meterWhenFinished(s);
    await rig.metering.idle();
    await rig.metering.runCycle();
    for (let i = 1; i < 5; i++) {
      const deducts = (await rig.ledger.listEntries(user(i))).filter((e) => e.kind === 'deduct');
      assert.equal(deducts.length, 3, `u${i}: still three charges`);
    }
  } finally {
    await rig.cleanup();
  }
}

describe('final metering of sessions that end together', () => {
  it('SQLite: charges every final period once and closes them all in one commit; a declined one stays open', async () => {
    await endTogether(await sqliteBackend());
  });

  it('SQLite: a final metering that fails is not lost: the next cycle charges and closes the session', async () => {
    const rig = await billingRig();
    try {
      await rig.ledger.credit(user(1), 100 * BASIC, 'fund-u1');
      const s = await rig.lifecycle.create(user(1), 'basic');
      rig.advance(MIN + 1_000); // two started periods
      const ended = await rig.lifecycle.terminate(user(1), s.sessionId);
      const getMany = rig.store.getMany.bind(rig.store);
      rig.store.getMany = async () => {
        throw new Error('billing store unreachable');
      };
      rig.metering.meterWhenFinished(ended);
      await rig.metering.idle();
      const deducts = async () =>
        (await rig.ledger.listEntries(user(1))).filter((e) => e.kind === 'deduct').length;
      assert.equal(await deducts(), 0, 'nothing charged while billing could not be read');
      rig.store.getMany = getMany;
      await rig.metering.runCycle();
      assert.equal(await deducts(), 2);
      assert.equal((await rig.store.get(s.sessionId))?.finalCost, 2 * BASIC, 'closed with its cost');
    } finally {
      await rig.cleanup();
    }
  });

  it('SQLite: asks the wallet for several owners at once: one owner’s slow charge holds back nobody else', async () => {
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    const rig = await billingRig({
      // A wallet that takes one deduction at a time, as the HTTP one does: u1's charges wait until released;
      // everything else goes straight to the ledger.
      wallet: (ledger) =>
        ledgerWith(ledger, {
          deductMany: undefined,
          deduct: async (request: DeductRequest) => {
            if (request.owner.userId === 'u1') await held;
            return ledger.deduct(request);
          },
        }),
    });
    try {
      const { ended, deducts } = await threeEnded(rig);
      for (let tries = 0; (await deducts(2)) + (await deducts(3)) < 4; tries++) {
        assert.ok(tries < 200, 'u2 and u3 were charged while u1’s charge hung');
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(await deducts(1), 0);
      release();
      await rig.metering.idle();
      for (const [n, s] of ended.entries()) {
        assert.equal(await deducts(n + 1), 2);
        assert.equal((await rig.store.get(s.sessionId))?.finalCost, 2 * BASIC, `u${n + 1} closed`);
      }
    } finally {
      release();
      await rig.cleanup();
    }
  });

  it('SQLite: a wallet that takes charges together and is down leaves them owed; back, it charges each once', async () => {
    let down = true;
    const asked: number[] = [];
    const rig = await billingRig({
      // The embedded ledger, refusing every charge of a batch as a wallet that did not answer, while `down`.
      wallet: (ledger) =>
        ledgerWith(ledger, {
          deductMany: async (requests: DeductRequest[]) => {
            asked.push(requests.length);
            return down
              ? requests.map(() => new WalletUnavailableError('injected: no answer'))
              : ledger.deductMany(requests);
          },
        }),
    });
    try {
      const { ended, deducts } = await threeEnded(rig);
      await rig.metering.idle();
      assert.deepEqual(
        asked,
        [3],
        'the first round was refused: no second round asked of a wallet that is down',
      );
      for (const [n, s] of ended.entries()) {
        assert.equal(await deducts(n + 1), 0);
        assert.equal(await rig.store.outstanding(user(n + 1)), 2 * BASIC, `u${n + 1} owes both periods`);
        assert.equal((await rig.store.get(s.sessionId))?.closedAt, null, `u${n + 1} still open`);
      }
      down = false;
      await rig.metering.runCycle();
      for (const n of [1, 2, 3]) {
        assert.equal(await deducts(n), 2, `u${n}: each period charged once`);
        assert.equal(await rig.store.outstanding(user(n)), 0);
      }
    } finally {
      await rig.cleanup();
    }
  });

  describe('PostgreSQL', () => {
    const databaseUrl = useTestDatabase();
    it('PostgreSQL: the same, on the database several replicas share', async () => {
      await endTogether(await postgresBackend(databaseUrl()));
    });
  });
});
