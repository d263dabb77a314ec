import type { Redis } from 'ioredis';
import { connectRedis } from './redis-connection.ts';

/** A publisher and a subscriber connection (a connection in subscriber mode can do nothing else). */
export async function openPubSub(
  url: string,
  name: string,
): Promise<{ publisher: Redis; subscriber: Redis }> {
  const publisher = await connectRedis(url, `${name}-pub`);
  try {
    // RedisChannel resubscribes itself: ioredis's own resubscription after a reconnect leaves its promise
    // unhandled, and a close during it (Redis flapping at shutdown) crashed the process with "Connection is closed".
    return { publisher, subscriber: await connectRedis(url, `${name}-sub`, { autoResubscribe: false }) };
  } catch (error) {
    publisher.disconnect();
    throw error;
  }
}

/**
 * Typed events over one Redis pub/sub channel. Every event, this instance's own included, comes back through
 * Redis: each subscriber of each instance receives it exactly once. Pub/sub is at-most-once (a replica that
 * is disconnected at that moment misses it), so readers recover by re-reading Canon Memory on reconnect.
 * Messages that are not JSON or fail `accept` are ignored.
 */
export class RedisChannel<T> {
  private readonly listeners = new Set<(event: T) => void>();
  private closed = false;

  protected constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    readonly channel: string,
    private readonly accept: (value: unknown) => value is T,
  ) {
    subscriber.on('message', (from: string, message: string) => {
      if (from !== this.channel) return;
      let event: unknown;
      try {
        event = JSON.parse(message);
      } catch {
        return;
      }
      if (!this.accept(event)) return;
      for (const listener of [...this.listeners]) {
        try {
          listener(event);
        } catch {
          // One failing listener (a closed SSE stream) must not keep the event from the others.
        }
      }
    });
  }

  /** Subscribes to the channel, and again after every reconnect; closes both connections when the first fails. */
  protected async start(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
    } catch (error) {
      await this.close();
      throw error;
    }
    this.subscriber.on('ready', () => {
      // A failure here is a connection lost again: the next 'ready' tries again.
      if (!this.closed) this.subscriber.subscribe(this.channel).catch(() => undefined);
    });
  }

  async publish(event: T): Promise<void> {
    if (this.closed) throw new Error('the event bus is closed');
    await this.publisher.publish(this.channel, JSON.stringify(event));
  }

  subscribe(listener: (event: T) => void): () => void {
    // A wrapper per call, so the same function subscribed twice is called twice and unsubscribed separately.
    const wrapped = (event: T) => listener(event);
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  /** Whether both connections are up (for the readiness checks). */
  async ping(): Promise<boolean> {
    try {
      return (await this.publisher.ping()) === 'PONG' && this.subscriber.status === 'ready';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await Promise.allSettled([this.subscriber.quit(), this.publisher.quit()]);
  }
}
