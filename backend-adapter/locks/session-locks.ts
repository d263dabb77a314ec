/**
 * Port: at most one change per session in flight, across every replica. Embedded default: in-process;
 * with several replicas: a Redis lock with an expiry (so a crashed holder does not block forever).
 */
export interface SessionLocks {
  /** Runs `fn` holding the session's lock; throws LockHeldError at once when someone else holds it. */
  withLock<T>(sessionId: string, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export class LockHeldError extends Error {
  readonly code = 'TRANSITION_IN_PROGRESS';
  constructor(readonly sessionId: string) {
    super(`another change to session ${sessionId} is in progress`);
  }
}
