import { EventEmitter } from 'node:events';
import type { SessionChangedEvent, SessionEventBus } from './session-event-bus.ts';

/** The single-process default: listeners in this process only. */
export class InProcessSessionEventBus implements SessionEventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(event: SessionChangedEvent): Promise<void> {
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: SessionChangedEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
