import { Redis } from 'ioredis';

/**
 * Opens an ioredis connection and waits until it is ready; rejects with a clear message (and leaves nothing
 * running) when Redis cannot be reached. After that, ioredis reconnects on its own.
 */
export async function connectRedis(
  url: string,
  name: string,
  options: { autoResubscribe?: boolean } = {},
): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectionName: name,
    maxRetriesPerRequest: 3,
    autoResubscribe: options.autoResubscribe ?? true,
  });
  let lastError: Error | undefined;
  // Without a listener an unreachable server would be an unhandled 'error' event; reconnects are ioredis's job.
  redis.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const cause = lastError ?? error;
    throw new Error(
      `Redis is not reachable at ${redactUrl(url)}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  return redis;
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}
