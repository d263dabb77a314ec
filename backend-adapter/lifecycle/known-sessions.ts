import type { Session, SessionState } from '../../protocol/session.ts';
import { isFinished } from '../canon/canon-shared.ts';

/** What a user action needs to know of a session before its compare-and-set: whose it is, and its state. */
export interface KnownSession {
  tenantId: string;
  userId: string;
  state: SessionState;
}

/** Live sessions remembered at most; past it the oldest are forgotten (they are read again when acted on). */
const KNOWN_MAX = 20_000;

/**
 * The owner and last state this replica wrote of each live session. A session's owner never changes, so a
 * pause or termination is refused to anyone else without reading the row; the state is only a guess, tried
 * by the action's compare-and-set, which reads the row again if it moved (another replica, a timeout). A
 * finished session is forgotten: nothing acts on it but to be refused, which a read answers.
 */
export class KnownSessions {
  private readonly sessions = new Map<string, KnownSession>();

  get(sessionId: string): KnownSession | undefined {
    return this.sessions.get(sessionId);
  }

  remember(session: Session): void {
    const { sessionId } = session;
    this.sessions.delete(sessionId);
    if (isFinished(session.state)) return;
    if (this.sessions.size >= KNOWN_MAX) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    this.sessions.set(sessionId, {
      tenantId: session.tenantId,
      userId: session.userId,
      state: session.state,
    });
  }
}
