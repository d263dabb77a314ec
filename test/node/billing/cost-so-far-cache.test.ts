// The session list's cost so far reuses each session's billing row and Canon records until the session
// changes: a repeated list reads nothing more, concurrent lists share one read, a change event or metering's
// final cost is seen at once, and a read overtaken by a change is not kept.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Principal } from '../../../backend-adapter/auth/principal.ts';
import { billingRig, type BillingRig } from './billing-fixture.ts';

const MIN = 60_000;
const ada: Principal = { userId: 'ada', tenantId: 'civic-commons', subscription: 'enterprise' };
const BASIC = 8_334; // basic, one minute, no discount

/** Counts the billing-row and Canon-record reads the cost so far makes. */
function countReads(rig: BillingRig): { rows: number; records: number } {
  const reads = { rows: 0, records: 0 };
  const getMany = rig.store.getMany.bind(rig.store);
  rig.store.getMany = (ids) => {
    reads.rows++;
    return getMany(ids);
  };
  const listRecords = rig.backend.canon.listRecords.bind(rig.backend.canon);
  rig.backend.canon.listRecords = (id) => {
    reads.records++;
    return listRecords(id);
  };
  return reads;
}

describe('cost so far in session lists', () => {
  let rig: BillingRig;
  afterEach(async () => {
    await rig.cleanup();
  });

  it('reads a session once for repeated and concurrent lists, and again after a change event', async () => {
    rig = await billingRig();
    await rig.ledger.credit(ada, 100 * BASIC, 'fund');
    const s = await rig.lifecycle.create(ada, 'basic');
    const reads = countReads(rig);
    rig.advance(MIN + 1_000);
    const lists = await Promise.all(
      [1, 2, 3].map(async () => rig.metering.withCosts(await rig.lifecycle.list(ada))),
    );
    for (const [listed] of lists) assert.equal(listed?.costSoFarMicroNexCoin, 2 * BASIC);
    assert.equal(reads.records, 1, 'concurrent lists share one read of the records');
    const again = await rig.metering.withCosts(await rig.lifecycle.list(ada));
    assert.equal(again[0]?.costSoFarMicroNexCoin, 2 * BASIC);
    const before = { ...reads };
    await rig.metering.withCosts(await rig.lifecycle.list(ada));
    assert.deepEqual(reads, before, 'a repeated list reads nothing more');

    // A change (pause) reaches every replica as an event: the next list reads the session again.
    await rig.lifecycle.pause(ada, s.sessionId);
    rig.metering.forgetRecords(s.sessionId);
    rig.advance(MIN);
    await rig.metering.withCosts(await rig.lifecycle.list(ada));
    assert.equal(reads.records, before.records + 1);
    assert.equal(reads.rows, before.rows + 1);
  });

  it('prices each new period while the records stay cached, and changes with a change of state', async () => {
    rig = await billingRig();
    await rig.ledger.credit(ada, 100 * BASIC, 'fund');
    const s = await rig.lifecycle.create(ada, 'basic');
    const reads = countReads(rig);
    const cost = async () =>
      (await rig.metering.withCosts(await rig.lifecycle.list(ada)))[0]?.costSoFarMicroNexCoin;
    rig.advance(1_000);
    assert.equal(await cost(), BASIC, 'the first minute has started');
    rig.advance(30_000);
    assert.equal(await cost(), BASIC, 'still in the first minute');
    rig.advance(29_500); // 60.5 s: the second minute has started; the records read at 1 s are still kept
    assert.equal(await cost(), 2 * BASIC, 'priced again although nothing was read');
    assert.equal(reads.records, 1, 'the records were read once for these lists');
    rig.advance(MIN);
    assert.equal(await cost(), 3 * BASIC);

    // Paused: the Active minutes stay as they were, storage minutes follow (cheaper than Active ones).
    await rig.lifecycle.pause(ada, s.sessionId);
    rig.metering.forgetRecords(s.sessionId);
    const atPause = (await cost()) ?? 0;
    rig.advance(5 * MIN);
    const later = (await cost()) ?? 0;
    assert.ok(later > atPause && later < atPause + 5 * BASIC, `${atPause} → ${later}`);
  });

  it('shows the final cost once metering closes a finished session, without an event', async () => {
    rig = await billingRig();
    await rig.ledger.credit(ada, 100 * BASIC, 'fund');
    const s = await rig.lifecycle.create(ada, 'basic');
    rig.advance(2 * MIN + 1_000);
    await rig.lifecycle.terminate(ada, s.sessionId);
    rig.metering.forgetRecords(s.sessionId);
    const [ended] = await rig.metering.withCosts(await rig.lifecycle.list(ada));
    assert.equal(ended?.costSoFarMicroNexCoin, 3 * BASIC, 'three started minutes, estimated');
    await rig.metering.meterSession(s.sessionId);
    const final = (await rig.store.get(s.sessionId))?.finalCost;
    assert.equal(final, 3 * BASIC);
    rig.advance(10 * MIN);
    const reads = countReads(rig);
    const [closed] = await rig.metering.withCosts(await rig.lifecycle.list(ada));
    assert.equal(closed?.costSoFarMicroNexCoin, final);
    assert.equal(reads.rows, 1, 'the finished session’s row was read again for its final cost');
    await rig.metering.withCosts(await rig.lifecycle.list(ada));
    assert.equal(reads.rows, 1, 'a final cost is kept');
  });

  it('does not keep a read that a change overtook', async () => {
    rig = await billingRig();
    await rig.ledger.credit(ada, 100 * BASIC, 'fund');
    const s = await rig.lifecycle.create(ada, 'basic');
    const sessions = await rig.lifecycle.list(ada);
    // The change event arrives while each read is in flight.
    const getMany = rig.store.getMany.bind(rig.store);
    rig.store.getMany = async (ids) => {
      const rows = await getMany(ids);
      rig.metering.forgetRecords(s.sessionId);
      return rows;
    };
    const listRecords = rig.backend.canon.listRecords.bind(rig.backend.canon);
    rig.backend.canon.listRecords = async (id) => {
      const records = await listRecords(id);
      rig.metering.forgetRecords(s.sessionId);
      return records;
    };
    await rig.metering.withCosts(sessions);
    rig.store.getMany = getMany;
    rig.backend.canon.listRecords = listRecords;
    const reads = countReads(rig);
    await rig.metering.withCosts(sessions);
    assert.deepEqual(reads, { rows: 1, records: 1 }, 'both are read again');
  });
});
