import { LockHeldError, type SessionLocks } from './session-locks.ts';

/** The single-process default. */
export class InProcessSessionLocks implements SessionLocks {
  private readonly held = new Set<string>();

  async withLock<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    if (this.held.has(sessionId)) throw new LockHeldError(sessionId);
    this.held.add(sessionId);
    try {
      return await fn();
    } finally {
      this.held.delete(sessionId);
    }
  }

  async close(): Promise<void> {
    this.held.clear();
  }
}
