import { openPubSub, RedisChannel } from './redis-channel.ts';
import {
  isWorkspaceChangedEvent,
  type WorkspaceChangedEvent,
  type WorkspaceEventBus,
} from './workspace-event-bus.ts';

/**
 * Workspace changes through Redis pub/sub (channel `${prefix}workspace-events`). At-most-once, so the stream
 * route also re-reads the workspace from Canon Memory when a viewer connects.
 */
export class RedisWorkspaceEventBus extends RedisChannel<WorkspaceChangedEvent> implements WorkspaceEventBus {
  static async connect(url: string, options: { prefix: string }): Promise<RedisWorkspaceEventBus> {
    const { publisher, subscriber } = await openPubSub(url, 'vsc-workspace-events');
    const bus = new RedisWorkspaceEventBus(
      publisher,
      subscriber,
      `${options.prefix}workspace-events`,
      isWorkspaceChangedEvent,
    );
    await bus.start();
    return bus;
  }
}
