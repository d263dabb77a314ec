import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { RedisSessionEventBus } from '../../../backend-adapter/events/redis-session-event-bus.ts';
import type { SessionChangedEvent } from '../../../backend-adapter/events/session-event-bus.ts';
import { RedisWorkspaceEventBus } from '../../../backend-adapter/events/redis-workspace-event-bus.ts';
import type { WorkspaceChangedEvent } from '../../../backend-adapter/events/workspace-event-bus.ts';
import { REDIS_TEST_URL, redisForTest, uniquePrefix } from '../../support/redis-fixture.ts';

function event(sessionId: string): SessionChangedEvent {
  const at = new Date().toISOString();
  return {
    type: 'session.changed',
    previousState: 'active',
    session: {
      sessionId,
      userId: 'u1',
      tenantId: 't1',
      tier: 'basic',
      resources: {
        cpuMillicores: 1000,
        memoryMiB: 2048,
        storageGiB: 10,
        gpus: 0,
        display: { width: 1, height: 1 },
      },
      state: 'paused',
      createdAt: at,
      canonTimestamp: at,
      handshake: '55-45-17',
    },
  };
}

/** Resolves once `list` holds `n` items; fails after a second. */
async function until(list: unknown[], n: number): Promise<void> {
  const deadline = Date.now() + 1000;
  while (list.length < n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} deliveries, got ${list.length}`);
    await sleep(5);
  }
}

describe('Redis session event bus', () => {
  let prefix: string;
  let raw: { redis: Redis; cleanup(): Promise<void> };
  let buses: RedisSessionEventBus[];
  const open = async (p = prefix) => {
    const bus = await RedisSessionEventBus.connect(REDIS_TEST_URL, { prefix: p });
    buses.push(bus);
    return bus;
  };

  beforeEach(async () => {
    prefix = uniquePrefix('events');
    raw = await redisForTest(prefix);
    buses = [];
  });
  afterEach(async () => {
    for (const bus of buses) await bus.close();
    await raw.cleanup();
  });

  it('delivers a publish from one instance to every subscriber of every instance, itself included, once', async () => {
    const a = await open();
    const b = await open();
    assert.equal(a.channel, `${prefix}session-events`);
    const got = { a1: [] as string[], a2: [] as string[], b1: [] as string[] };
    a.subscribe((e) => got.a1.push(e.session.sessionId));
    a.subscribe((e) => got.a2.push(e.session.sessionId));
    b.subscribe((e) => got.b1.push(e.session.sessionId));

    await a.publish(event('from-a'));
    await b.publish(event('from-b'));
    for (const list of Object.values(got)) await until(list, 2);
    await sleep(100); // long enough for a duplicate to show up, if there were one
    assert.deepEqual(got, { a1: ['from-a', 'from-b'], a2: ['from-a', 'from-b'], b1: ['from-a', 'from-b'] });
  });

  it('subscribes again after its connection to Redis is lost, and closes cleanly while reconnecting', async () => {
    const a = await open();
    const got: string[] = [];
    a.subscribe((e) => got.push(e.session.sessionId));
    // Every subscriber connection of this machine's Redis is dropped, ours included (ioredis reconnects them).
    await raw.redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    const deadline = Date.now() + 5000;
    while (!got.includes('after')) {
      if (Date.now() > deadline) throw new Error('no delivery after the reconnect');
      await a.publish(event('after')).catch(() => undefined);
      await sleep(50);
    }
    // Dropped again and closed at once, while the resubscription may be in flight: nothing is left unhandled.
    await raw.redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await a.close();
    await sleep(200);
  });

  it('carries the whole event as JSON', async () => {
    const a = await open();
    const b = await open();
    const received: SessionChangedEvent[] = [];
    b.subscribe((e) => received.push(e));
    const sent = event('s1');
    await a.publish(sent);
    await until(received, 1);
    assert.deepEqual(received[0], sent);
  });

  it('keeps deployments with different prefixes apart', async () => {
    const a = await open();
    const other = await open(uniquePrefix('events-other'));
    const received: string[] = [];
    other.subscribe((e) => received.push(e.session.sessionId));
    const own: string[] = [];
    a.subscribe((e) => own.push(e.session.sessionId));
    await a.publish(event('s1'));
    await until(own, 1);
    await sleep(50);
    assert.deepEqual(received, []);
  });

  it('stops delivering after unsubscribe; a throwing listener or a malformed message harms no one', async () => {
    const a = await open();
    const kept: string[] = [];
    const dropped: string[] = [];
    a.subscribe(() => {
      throw new Error('listener bug');
    });
    const off = a.subscribe((e) => dropped.push(e.session.sessionId));
    a.subscribe((e) => kept.push(e.session.sessionId));
    await a.publish(event('one'));
    await until(kept, 1);
    off();
    await raw.redis.publish(a.channel, 'not json');
    await raw.redis.publish(a.channel, JSON.stringify({ type: 'something.else' }));
    await a.publish(event('two'));
    await until(kept, 2);
    assert.deepEqual(kept, ['one', 'two']);
    assert.deepEqual(dropped, ['one']);
  });

  it('answers ping, refuses to publish once closed, and fails clearly when Redis is unreachable', async () => {
    const a = await open();
    assert.equal(await a.ping(), true);
    await a.close();
    await assert.rejects(a.publish(event('late')), /closed/);
    await assert.rejects(
      RedisSessionEventBus.connect('redis://127.0.0.1:1', { prefix }),
      /Redis is not reachable at redis:\/\/127\.0\.0\.1:1/,
    );
  });
});

describe('Redis workspace event bus', () => {
  it('delivers a workspace change to every instance once and ignores foreign messages on its channel', async () => {
    const prefix = uniquePrefix('ws-events');
    const raw = await redisForTest(prefix);
    const a = await RedisWorkspaceEventBus.connect(REDIS_TEST_URL, { prefix });
    const b = await RedisWorkspaceEventBus.connect(REDIS_TEST_URL, { prefix });
    try {
      const seenA: WorkspaceChangedEvent[] = [];
      const seenB: WorkspaceChangedEvent[] = [];
      a.subscribe((e) => seenA.push(e));
      b.subscribe((e) => seenB.push(e));
      await raw.redis.publish(b.channel, '{"type":"workspace.changed"}'); // malformed: dropped
      await raw.redis.publish(b.channel, 'not json');
      const change = {
        type: 'workspace.changed',
        workspace: {
          workspaceId: 'w1',
          tenantId: 't1',
          state: 'open',
          members: [],
          sessionIds: ['s1'],
          controllerId: null,
        },
      } as unknown as WorkspaceChangedEvent;
      await a.publish(change);
      await until(seenA, 1);
      await until(seenB, 1);
      await sleep(50);
      assert.deepEqual([seenA.length, seenB.length], [1, 1]);
      assert.equal(seenB[0]?.workspace.workspaceId, 'w1');
      assert.equal(await a.ping(), true);
    } finally {
      await a.close();
      await b.close();
      await raw.cleanup();
    }
  });
});
