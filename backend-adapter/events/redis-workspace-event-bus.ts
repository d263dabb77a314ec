import type { Redis } from 'ioredis';
import { connectRedis } from './redis-connection.ts';
import {
  isWorkspaceChangedEvent,
  type WorkspaceChangedEvent,
  type WorkspaceEventBus,
} from './workspace-event-bus.ts';

/**
 * Workspace changes through Redis pub/sub (channel `${prefix}workspace-events`), as RedisSessionEventBus does
 * for sessions: every event, this instance's own included, comes back through Redis once per subscriber.
 * At-most-once: a replica disconnected at that moment misses it, so the stream route also re-reads the
 * workspace from Canon Memory when a viewer connects.
 */
export class RedisWorkspaceEventBus implements WorkspaceEventBus {
  private readonly listeners = new Set<(event: WorkspaceChangedEvent) => void>();
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
        return;
      }
      if (!isWorkspaceChangedEvent(event)) return;
      for (const listener of [...this.listeners]) {
        try {
          listener(event);
        } catch {
          // One failing listener must not keep the event from the others.
        }
      }
    });
  }

  static async connect(url: string, options: { prefix: string }): Promise<RedisWorkspaceEventBus> {
    const publisher = await connectRedis(url, 'vsc-workspace-events-pub');
    let subscriber: Redis;
    try {
      subscriber = await connectRedis(url, 'vsc-workspace-events-sub');
    } catch (error) {
      publisher.disconnect();
      throw error;
    }
    const bus = new RedisWorkspaceEventBus(publisher, subscriber, `${options.prefix}workspace-events`);
    try {
      await subscriber.subscribe(bus.channel);
    } catch (error) {
      await bus.close();
      throw error;
    }
    return bus;
  }

  async publish(event: WorkspaceChangedEvent): Promise<void> {
    if (this.closed) throw new Error('the event bus is closed');
    await this.publisher.publish(this.channel, JSON.stringify(event));
  }

  subscribe(listener: (event: WorkspaceChangedEvent) => void): () => void {
    const wrapped = (event: WorkspaceChangedEvent) => listener(event);
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await Promise.allSettled([this.subscriber.quit(), this.publisher.quit()]);
  }
}
