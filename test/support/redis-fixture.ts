// Redis for tests: a unique key prefix per test file, every key under it deleted afterwards. Redis must be
// reachable (CI starts it); if it is not, connecting fails with a message saying so.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../backend-adapter/events/redis-connection.ts';

export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label: string): string {
  return `vsc-test:${label}:${randomBytes(6).toString('hex')}:`;
}

/** A plain client for assertions and clean-up; `cleanup()` deletes every key under `prefix` and disconnects. */
export async function redisForTest(prefix: string): Promise<{ redis: Redis; cleanup(): Promise<void> }> {
  const redis = await connectRedis(REDIS_TEST_URL, 'vsc-test').catch((error: unknown) => {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)} — start Redis (CI does) or set REDIS_TEST_URL`,
    );
  });
  return {
    redis,
    async cleanup() {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      await redis.quit();
    },
  };
}
