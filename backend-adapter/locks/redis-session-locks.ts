import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connectRedis } from '../events/redis-connection.ts';
import { LockHeldError, type SessionLocks } from './session-locks.ts';

/** Deletes the key only while it still holds our token: never releases a lock someone else took after expiry. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Extends the expiry only while the key still holds our token. */
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface RedisSessionLocksOptions {
  /** Namespaces the keys (`${prefix}lock:session:<id>`). */
  prefix: string;
  /** How long a lock outlives a holder that died without releasing it. */
  ttlMs: number;
  /** Called if a lock could not be kept (Redis unreachable for longer than the ttl, or the key was taken over). */
  onLockLost?: (sessionId: string) => void;
}

/**
 * Per-session locks shared by every replica: `SET key token NX PX ttl`. While `fn` runs the expiry is pushed
 * forward every ttl/3, so a long transition keeps its lock; a holder that dies stops extending and its lock
 * frees itself after at most `ttlMs`. Release is compare-and-delete on the token.
 *
 * The lock keeps two replicas from both *starting* a change (the second gets LockHeldError → 409). It is not
 * the last line: Canon Memory's transitions are compare-and-set in the database, which fences a holder that
 * lost its lock (a paused process, a partition) — its stale transition is refused there.
 */
export class RedisSessionLocks implements SessionLocks {
  private closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly options: RedisSessionLocksOptions,
  ) {}

  static async connect(url: string, options: RedisSessionLocksOptions): Promise<RedisSessionLocks> {
    if (!Number.isInteger(options.ttlMs) || options.ttlMs < 30) {
      throw new RangeError(`ttlMs must be an integer of at least 30 ms, got ${options.ttlMs}`);
    }
    return new RedisSessionLocks(await connectRedis(url, 'vsc-locks'), options);
  }

  keyFor(sessionId: string): string {
    return `${this.options.prefix}lock:session:${sessionId}`;
  }

  async withLock<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the session locks are closed');
    const key = this.keyFor(sessionId);
    const token = randomUUID();
    const { ttlMs } = this.options;
    if ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') throw new LockHeldError(sessionId);

    let lost = false;
    let extending: Promise<void> = Promise.resolve();
    const timer = setInterval(
      () => {
        extending = this.redis
          .eval(EXTEND, 1, key, token, String(ttlMs))
          .then((kept) => {
            if (kept !== 1 && !lost) {
              lost = true;
              this.options.onLockLost?.(sessionId);
            }
          })
          .catch(() => {
            // Redis briefly away: the next tick tries again; if the ttl passes meanwhile the key is gone.
          });
      },
      Math.max(10, Math.floor(ttlMs / 3)),
    );
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      await extending;
      await this.redis.eval(RELEASE, 1, key, token).catch(() => {
        // Unreachable: the key expires by itself after the ttl.
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.redis.quit().catch(() => undefined);
  }
}
