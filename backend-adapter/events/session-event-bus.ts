import type { Session, SessionState } from '../../protocol/session.ts';

/** A session changed state; pushed to that user's dashboards on every replica. */
export interface SessionChangedEvent {
  type: 'session.changed';
  session: Session;
  previousState: SessionState | null;
}

/**
 * Port: fan-out of session changes. Embedded default: in-process; with several replicas: Redis pub/sub,
 * so a client connected to one replica sees changes made by another.
 */
export interface SessionEventBus {
  publish(event: SessionChangedEvent): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(listener: (event: SessionChangedEvent) => void): () => void;
  close(): Promise<void>;
}
