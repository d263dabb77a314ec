import type { Redis } from 'ioredis';
import { connectRedis } from './redis-connection.ts';
import type { SessionChangedEvent, SessionEventBus } from './session-event-bus.ts';

function isSessionChangedEvent(value: unknown): value is SessionChangedEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<SessionChangedEvent>;
  return (
    v.type === 'session.changed' &&
    typeof v.session === 'object' &&
    v.session !== null &&
    typeof v.session.sessionId === 'string' &&
    typeof v.session.userId === 'string' &&
    typeof v.session.tenantId === 'string' &&
    (v.previousState === null || typeof v.previousState === 'string')
  );
}

/**
 * Session changes fanned out through Redis pub/sub, so a dashboard connected to any replica sees changes
 * made by every replica. Every event, including this instance's own, comes back through Redis: each
 * subscriber of each instance receives it exactly once. Pub/sub is at-most-once (a replica that is
 * disconnected at that moment misses it); clients recover by re-listing sessions on reconnect.
 */
export class RedisSessionEventBus implements SessionEventBus {
  private readonly listeners = new Set<(event: SessionChangedEvent) => void>();
  private closed = false;

  private constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    readonly channel: string,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      let event: unknown;
      try {
        event = JSON.parse(message);
      } catch {
        return; // not ours; nothing a listener could use
      }
      if (!isSessionChangedEvent(event)) return;
      for (const listener of [...this.listeners]) {
        try {
          listener(event);
        } catch {
          // One failing listener (a closed SSE stream) must not keep the event from the others.
        }
      }
    });
  }

  /** `prefix` namespaces the channel (`${prefix}session-events`), so several deployments can share a Redis. */
  static async connect(url: string, options: { prefix: string }): Promise<RedisSessionEventBus> {
    const publisher = await connectRedis(url, 'vsc-events-pub');
    let subscriber: Redis;
    try {
      // A connection in subscriber mode can do nothing else: it gets its own.
      subscriber = await connectRedis(url, 'vsc-events-sub');
    } catch (error) {
      publisher.disconnect();
      throw error;
    }
    const channel = `${options.prefix}session-events`;
    const bus = new RedisSessionEventBus(publisher, subscriber, channel);
    try {
      await subscriber.subscribe(channel);
    } catch (error) {
      await bus.close();
      throw error;
    }
    return bus;
  }

  async publish(event: SessionChangedEvent): Promise<void> {
    if (this.closed) throw new Error('the event bus is closed');
    await this.publisher.publish(this.channel, JSON.stringify(event));
  }

  subscribe(listener: (event: SessionChangedEvent) => void): () => void {
    // A wrapper per call, so the same function subscribed twice is called twice and unsubscribed separately.
    const wrapped = (event: SessionChangedEvent) => listener(event);
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
