import { openPubSub, RedisChannel } from './redis-channel.ts';
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
 * Session changes fanned out through Redis pub/sub (channel `${prefix}session-events`, so several deployments
 * can share a Redis): a dashboard connected to any replica sees changes made by every replica. Clients
 * recover missed events by re-listing sessions on reconnect.
 */
export class RedisSessionEventBus extends RedisChannel<SessionChangedEvent> implements SessionEventBus {
  static async connect(url: string, options: { prefix: string }): Promise<RedisSessionEventBus> {
    const { publisher, subscriber } = await openPubSub(url, 'vsc-events');
    const bus = new RedisSessionEventBus(
      publisher,
      subscriber,
      `${options.prefix}session-events`,
      isSessionChangedEvent,
    );
    await bus.start();
    return bus;
  }
}
