import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { LockHeldError } from '../../../backend-adapter/locks/session-locks.ts';
import { RedisSessionLocks } from '../../../backend-adapter/locks/redis-session-locks.ts';
import { REDIS_TEST_URL, redisForTest, uniquePrefix } from '../../support/redis-fixture.ts';

const HOLDER = join(import.meta.dirname, 'lock-holder.ts');

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const isHeld = (error: unknown) => {
  assert.ok(error instanceof LockHeldError, String(error));
  assert.equal(error.code, 'TRANSITION_IN_PROGRESS');
  return true;
};

describe('Redis session locks', () => {
  let prefix: string;
  let raw: { redis: Redis; cleanup(): Promise<void> };
  let all: RedisSessionLocks[];
  const open = async (ttlMs = 5000, onLockLost?: (id: string) => void) => {
    const locks = await RedisSessionLocks.connect(REDIS_TEST_URL, { prefix, ttlMs, onLockLost });
    all.push(locks);
    return locks;
  };

  beforeEach(async () => {
    prefix = uniquePrefix('locks');
    raw = await redisForTest(prefix);
    all = [];
  });
  afterEach(async () => {
    for (const locks of all) await locks.close();
    await raw.cleanup();
  });

  it('lets one of two instances hold a session; the other gets LockHeldError until it is released', async () => {
    const a = await open();
    const b = await open();
    const gate = deferred();
    const held = a.withLock('s1', async () => {
      await gate.promise;
      return 'a-done';
    });
    await sleep(20);
    await assert.rejects(
      b.withLock('s1', async () => 'b'),
      isHeld,
    );
    await assert.rejects(
      a.withLock('s1', async () => 'again'),
      isHeld,
    ); // not re-entrant, even for the holder
    assert.equal(await b.withLock('s2', async () => 'other session'), 'other session');
    gate.resolve();
    assert.equal(await held, 'a-done');
    assert.equal(await raw.redis.exists(a.keyFor('s1')), 0);
    assert.equal(await b.withLock('s1', async () => 'b-now'), 'b-now');
  });

  it('lets exactly one of many simultaneous attempts from two instances run', async () => {
    const a = await open();
    const b = await open();
    let running = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).withLock('s1', async () => {
          running++;
          await sleep(50);
          return i;
        }),
      ),
    );
    assert.equal(running, 1);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') isHeld(r.reason);
  });

  it('releases when fn throws, and passes the error on', async () => {
    const a = await open();
    await assert.rejects(
      a.withLock('s1', async () => {
        throw new Error('runtime refused');
      }),
      /runtime refused/,
    );
    assert.equal(await raw.redis.exists(a.keyFor('s1')), 0);
  });

  it('keeps extending the lock while fn runs longer than the ttl', async () => {
    const a = await open(150);
    const b = await open(150);
    const gate = deferred();
    const held = a.withLock('s1', () => gate.promise);
    for (let i = 0; i < 5; i++) {
      await sleep(100); // 500 ms in all: more than three ttls
      await assert.rejects(
        b.withLock('s1', async () => 'b'),
        isHeld,
      );
      const pttl = await raw.redis.pttl(a.keyFor('s1'));
      assert.ok(pttl > 0 && pttl <= 150, `pttl ${pttl}`);
    }
    gate.resolve();
    await held;
    assert.equal(await b.withLock('s1', async () => 'b'), 'b');
  });

  it('releases only its own token: a lock taken over after expiry is left to its new owner', async () => {
    const lost: string[] = [];
    const a = await open(150, (id) => lost.push(id));
    const gate = deferred();
    const held = a.withLock('s1', () => gate.promise);
    await sleep(20);
    await raw.redis.set(a.keyFor('s1'), 'someone-else', 'PX', 5000); // as if a's lock had expired and b took it
    await sleep(120); // at least one extension attempt
    gate.resolve();
    await held;
    assert.deepEqual(lost, ['s1']);
    assert.equal(await raw.redis.get(a.keyFor('s1')), 'someone-else');
  });

  it('frees the lock of a holder that died without releasing it, after the ttl', async () => {
    const ttl = 600;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', HOLDER, REDIS_TEST_URL, prefix, String(ttl), 's1'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    try {
      assert.equal((await lines.next()).value, 'locked');
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    child.kill('SIGKILL');
    await once(child, 'exit');
    const killedAt = Date.now();
    const b = await open(ttl);
    await assert.rejects(
      b.withLock('s1', async () => 'too early'),
      isHeld,
    );
    let acquired: number | undefined;
    while (acquired === undefined) {
      try {
        await b.withLock('s1', async () => undefined);
        acquired = Date.now() - killedAt;
      } catch (error) {
        isHeld(error);
        assert.ok(Date.now() - killedAt < ttl + 1000, 'the dead holder’s lock never expired');
        await sleep(25);
      }
    }
    assert.ok(acquired <= ttl + 100, `freed after ${acquired} ms`);
  });

  it('fails clearly when Redis is unreachable, and refuses a ttl too short to extend', async () => {
    await assert.rejects(
      RedisSessionLocks.connect('redis://127.0.0.1:1', { prefix, ttlMs: 1000 }),
      /Redis is not reachable/,
    );
    await assert.rejects(RedisSessionLocks.connect(REDIS_TEST_URL, { prefix, ttlMs: 5 }), /ttlMs/);
  });
});
