// A process that takes a session lock and never lets go (the test kills it with SIGKILL).
// Argv: <redis url> <prefix> <ttl ms> <session id>. Prints "locked" once it holds the lock.
import { RedisSessionLocks } from '../../../backend-adapter/locks/redis-session-locks.ts';

const [url, prefix, ttl, sessionId] = process.argv.slice(2);
if (!url || !prefix || !ttl || !sessionId)
  throw new Error('usage: lock-holder.ts <url> <prefix> <ttlMs> <id>');
const locks = await RedisSessionLocks.connect(url, { prefix, ttlMs: Number(ttl) });
await locks.withLock(sessionId, async () => {
  process.stdout.write('locked\n');
  await new Promise(() => undefined);
});
