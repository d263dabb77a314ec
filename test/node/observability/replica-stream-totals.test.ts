import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { RedisStreamTotalsChannel } from '../../../backend-adapter/events/redis-stream-totals-channel.ts';
import { ReplicaStreamTotals } from '../../../backend-adapter/observability/replica-stream-totals.ts';
import { StreamStats } from '../../../backend-adapter/observability/stream-stats.ts';
import { REDIS_TEST_URL, redisForTest, uniquePrefix } from '../../support/redis-fixture.ts';

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 5000) throw new Error(`timed out waiting until ${what}`);
    await delay(20);
  }
}

/** A replica: its own streams, its own channel connections, its view of every replica's totals. */
async function replica(prefix: string, clock: () => number = Date.now) {
  const channel = await RedisStreamTotalsChannel.connect(REDIS_TEST_URL, { prefix });
  const streams = new StreamStats();
  const totals = new ReplicaStreamTotals(channel, streams, 1000, clock);
  /** One viewer of `sessionId` that was sent `updates` updates of 1,000 bytes and drew them all. */
  const stream = (sessionId: string, updates: number) => {
    const viewer = streams.observe(sessionId, () => undefined);
    for (let i = 0; i < updates; i++) viewer.observer.onUpdateSent?.(1000);
    viewer.observer.onUpdatesDrawn?.(updates);
    return viewer;
  };
  return {
    channel,
    streams,
    totals,
    stream,
    close: async () => {
      totals.stop();
      await channel.close();
    },
  };
}

describe('every replica’s stream totals through Redis', () => {
  const prefix = uniquePrefix('stream-totals');
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ cleanup } = await redisForTest(prefix));
  });
  after(() => cleanup());

  it('sums what each replica streams of a session, its own included', async () => {
    const gatewayA = await replica(prefix);
    const gatewayB = await replica(prefix);
    const orchestrator = await replica(prefix);
    try {
      gatewayA.stream('s1', 10);
      gatewayB.stream('s1', 5);
      gatewayB.stream('s2', 1);
      await Promise.all([gatewayA.totals.report(), gatewayB.totals.report(), orchestrator.totals.report()]);
      await until(() => orchestrator.totals.totalsOf('s1').viewers === 2, 'both gateways reported');
      assert.deepEqual(orchestrator.totals.totalsOf('s1'), {
        txBytes: 15_000,
        rxBytes: 0,
        updatesDrawn: 15,
        updatesSent: 15,
        viewers: 2,
        rttSumMs: 0,
        rttCount: 0,
      });
      assert.equal(orchestrator.totals.totalsOf('s2').txBytes, 1000);
      assert.equal(orchestrator.totals.totalsOf('nobody-streams-this').viewers, 0);
      // A gateway's own report counts for it too, once.
      await until(() => gatewayA.totals.totalsOf('s1').viewers === 2, 'A heard both');
      assert.equal(gatewayA.totals.totalsOf('s1').txBytes, 15_000);
    } finally {
      await Promise.all([gatewayA.close(), gatewayB.close(), orchestrator.close()]);
    }
  });

  it('drops a replica that stopped reporting, and a session its gateway stopped streaming', async () => {
    let now = 1_000_000;
    const gateway = await replica(prefix);
    const orchestrator = await replica(prefix, () => now);
    try {
      const viewer = gateway.stream('s1', 4);
      await gateway.totals.report();
      await until(() => orchestrator.totals.totalsOf('s1').viewers === 1, 'the gateway reported');
      // Its viewer left and the gateway forgot the session: one empty report clears it.
      viewer.release();
      gateway.streams.forget('s1');
      await gateway.totals.report();
      await until(() => orchestrator.totals.totalsOf('s1').viewers === 0, 'the empty report arrived');
      assert.equal(orchestrator.totals.totalsOf('s1').txBytes, 0);

      gateway.stream('s1', 2);
      await gateway.totals.report();
      await until(() => orchestrator.totals.totalsOf('s1').viewers === 1, 'reported again');
      // Then silence: three intervals later its last report no longer counts.
      now += 3001;
      assert.equal(orchestrator.totals.totalsOf('s1').viewers, 0);
    } finally {
      await Promise.all([gateway.close(), orchestrator.close()]);
    }
  });

  it('ignores a malformed report whole, and keeps the good ones', async () => {
    const gateway = await replica(prefix);
    const orchestrator = await replica(prefix);
    const probe = await redisForTest(prefix);
    try {
      gateway.stream('s1', 3);
      await gateway.totals.report();
      await until(() => orchestrator.totals.totalsOf('s1').viewers === 1, 'the gateway reported');
      for (const hostile of [
        'not json',
        JSON.stringify({ type: 'stream.totals', from: 'evil', sessions: [['s1', { txBytes: -5 }]] }),
        JSON.stringify({
          type: 'stream.totals',
          from: 'evil',
          sessions: [['s1', { txBytes: 1e9, rxBytes: 0, updatesDrawn: 0, updatesSent: 0, viewers: 'x' }]],
        }),
      ]) {
        await probe.redis.publish(gateway.channel.channel, hostile);
      }
      await gateway.totals.report(); // comes after the hostile ones on the same channel
      await delay(100);
      assert.equal(orchestrator.totals.totalsOf('s1').txBytes, 3000);
      assert.equal(orchestrator.totals.totalsOf('s1').viewers, 1);
    } finally {
      await Promise.all([gateway.close(), orchestrator.close()]);
      await probe.cleanup();
    }
  });
});
