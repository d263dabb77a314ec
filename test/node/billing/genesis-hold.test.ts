// The billing check at Genesis is atomic: concurrent launches (one process, or two replicas on the same
// database) whose balance covers only some of them — exactly as many as it covers start, the rest get the
// stable BALANCE_TOO_LOW and have nothing written or provisioned. The hold a launch takes is released at its
// first charge, or when the launch fails.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import type { Principal } from '../../../backend-adapter/auth/principal.ts';
import type { Session } from '../../../protocol/session.ts';
import { useTestDatabase } from '../canon/postgres-fixture.ts';
import {
  billingRig,
  FakeRuntime,
  postgresBackend,
  sqliteBackend,
  type Backend,
  type BillingRig,
} from './billing-fixture.ts';

const MIN = 60_000;
/** Basic, one minute, no discount (civic-commons); Genesis needs two periods in reserve. */
const BASIC = 8_334;
const RESERVE = 2 * BASIC;

const user = (userId: string): Principal => ({
  userId,
  tenantId: 'civic-commons',
  subscription: 'enterprise',
});

/** Fires `n` launches at once across the rigs; returns the sessions started and the refusals. */
async function launchAtOnce(rigs: BillingRig[], who: Principal, n: number) {
  const results = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => (rigs[i % rigs.length] as BillingRig).lifecycle.create(who, 'basic')),
  );
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  return { started, refused };
}

function assertAllBalanceTooLow(refused: unknown[]): void {
  for (const e of refused) {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, 'BALANCE_TOO_LOW', e.message);
    assert.equal(e.status, 402);
  }
}

async function property(backend: Backend, replicas: number): Promise<void> {
  const rigs: BillingRig[] = [];
  for (let i = 0; i < replicas; i++) rigs.push(await billingRig({ backend, runtime: new FakeRuntime() }));
  const [first] = rigs;
  assert.ok(first);
  for (const [covers, launches] of [
    [1, 6],
    [2, 8],
  ] as const) {
    const who = user(`u-${covers}-${Math.random().toString(36).slice(2, 8)}`);
    await first.ledger.credit(who, covers * RESERVE + RESERVE - 1, `fund:${who.userId}`);
    const { started, refused } = await launchAtOnce(rigs, who, launches);
    assert.equal(started.length, covers, `the balance covers ${covers} launch(es)`);
    assert.equal(refused.length, launches - covers);
    assertAllBalanceTooLow(refused);
    const sessions = await backend.canon.listSessions(who);
    assert.deepEqual(
      sessions.map((r) => r.session.sessionId).sort(),
      started.map((s: Session) => s.sessionId).sort(),
      'nothing written for the refused launches',
    );
    const starts = rigs.flatMap((r) => r.runtime.calls.filter((c) => c.startsWith('start ')));
    for (const s of started) assert.ok(starts.includes(`start ${s.sessionId}`));
    const holds = await first.store.openHolds(who);
    assert.deepEqual(
      holds.map((h) => h.sessionId).sort(),
      started.map((s) => s.sessionId).sort(),
      'one hold per started launch, none for the refused',
    );
    assert.ok(holds.every((h) => h.amount === RESERVE));
    assert.deepEqual(
      (await first.store.listSessions(who)).map((b) => b.sessionId).sort(),
      started.map((s) => s.sessionId).sort(),
      'registered for metering with its hold: every started launch, none of the refused',
    );
  }
}

describe('Genesis holds: concurrent launches never spend the same balance twice', () => {
  it('SQLite: two replicas, exactly as many launches as the balance covers', async () => {
    const backend = await sqliteBackend();
    try {
      await property(backend, 2);
    } finally {
      await backend.cleanup();
    }
  });

  describe('PostgreSQL', () => {
    const databaseUrl = useTestDatabase();
    it('PostgreSQL: three replicas, exactly as many launches as the balance covers', async () => {
      const backend = await postgresBackend(databaseUrl());
      try {
        await property(backend, 3);
      } finally {
        await backend.cleanup();
      }
    });
  });

  it('the hold is released at the first charge, and when a launch fails', async () => {
    const runtime = new (class extends FakeRuntime {
      fail = false;
      override async start(sessionId: string) {
        if (this.fail) throw new Error('no capacity');
        return super.start(sessionId);
      }
    })();
    const rig = await billingRig({ runtime });
    try {
      const who = user('carol');
      await rig.ledger.credit(who, 2 * RESERVE, 'fund');
      const s = await rig.lifecycle.create(who, 'basic');
      assert.deepEqual(await rig.store.openHolds(who), [{ sessionId: s.sessionId, amount: RESERVE }]);
      // The balance covers the reserve of this one and of one more: with the first held, a second fits…
      runtime.fail = true;
      await assert.rejects(rig.lifecycle.create(who, 'basic'), /no capacity/);
      assert.deepEqual(
        (await rig.store.openHolds(who)).map((h) => h.sessionId),
        [s.sessionId],
        'the failed launch holds nothing',
      );
      runtime.fail = false;
      rig.advance(MIN);
      await rig.metering.runCycle();
      assert.deepEqual(await rig.store.openHolds(who), [], 'converted at the first charge');
      // …and the running session still counts: its reserve and a new one exceed what is left.
      await assert.rejects(rig.lifecycle.create(who, 'basic'), (e: unknown) => {
        assert.ok(e instanceof ApiError && e.code === 'BALANCE_TOO_LOW');
        return true;
      });
    } finally {
      await rig.cleanup();
    }
  });
});
