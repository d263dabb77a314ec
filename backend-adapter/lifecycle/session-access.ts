import type { Logger } from 'pino';
import type { Session, SessionState } from '../../protocol/session.ts';
import { ApiError } from '../api-error.ts';
import { isTenantAdmin, type Principal } from '../auth/principal.ts';
import type { CanonStore, SessionRow } from '../canon/canon-store.ts';

/** A live desktop's RFB endpoint, as Canon Memory recorded it when the runtime started it. */
export interface StreamTarget {
  host: string;
  port: number;
  password: string;
}

const STREAMABLE: readonly SessionState[] = ['active', 'paused', 'pausing', 'resuming'];

/** Past this many sessions remembered, those whose last write is older than the interval are forgotten. */
const ACTIVITY_MEMORY = 10_000;

/**
 * Who may see and stream a session, where its desktop listens, and its viewers' activity: what the stream
 * gateway needs of a session, read from Canon Memory alone (no runtime, no lock), so the gateway role runs it
 * without the orchestrator's powers. The lifecycle answers the same questions through it.
 */
export class SessionAccess {
  private readonly clock: () => Date;
  private readonly lastActivityWrite = new Map<string, number>();

  constructor(
    private readonly deps: {
      canon: CanonStore;
      /** How often at most a session's viewer activity is written to Canon Memory. */
      activityWriteIntervalMs: number;
      logger: Logger;
      clock?: () => Date;
    },
  ) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async get(principal: Principal, sessionId: string): Promise<Session> {
    return (await this.owned(principal, sessionId)).session;
  }

  /**
   * The session if the caller owns it or is an admin of its tenant. Another user's session is reported as
   * missing, never as forbidden: its existence is not disclosed.
   */
  async owned(principal: Principal, sessionId: string): Promise<SessionRow> {
    const row = await this.deps.canon.getSession(sessionId);
    if (!row || !visibleTo(principal, row.session)) throw new ApiError('SESSION_NOT_FOUND');
    return row;
  }

  /** Where the gateway connects for this session's stream; only while the desktop exists. */
  async streamTarget(principal: Principal, sessionId: string): Promise<StreamTarget> {
    return targetOf(await this.owned(principal, sessionId));
  }

  /**
   * Where the gateway connects for a session of `tenantId` that someone watches through a collaborative
   * workspace (the caller has checked that the workspace lets them); the same states as streamTarget.
   */
  async sharedStreamTarget(tenantId: string, sessionId: string): Promise<StreamTarget> {
    const row = await this.deps.canon.getSession(sessionId);
    if (!row || row.session.tenantId !== tenantId) throw new ApiError('SESSION_NOT_FOUND');
    return targetOf(row);
  }

  /** Viewer input keeps a session from idling out; written at most once per interval per session. */
  recordActivity(sessionId: string): void {
    const now = this.clock().getTime();
    const last = this.lastActivityWrite.get(sessionId) ?? 0;
    if (now - last < this.deps.activityWriteIntervalMs) return;
    if (this.lastActivityWrite.size >= ACTIVITY_MEMORY) this.forgetQuietSessions(now);
    this.lastActivityWrite.set(sessionId, now);
    void this.deps.canon.touchActivity(sessionId, new Date(now)).catch((err: unknown) => {
      this.deps.logger.warn({ sessionId, err }, 'could not record activity');
    });
  }

  /** A session not written for an interval would be written at its next input anyway: forgetting it is free. */
  private forgetQuietSessions(now: number): void {
    for (const [sessionId, at] of this.lastActivityWrite) {
      if (now - at >= this.deps.activityWriteIntervalMs) this.lastActivityWrite.delete(sessionId);
    }
  }
}

/** The caller owns the session, or administers its tenant. */
export function visibleTo(principal: Principal, session: { tenantId: string; userId: string }): boolean {
  return (
    session.tenantId === principal.tenantId &&
    (session.userId === principal.userId || isTenantAdmin(principal))
  );
}

function targetOf(row: SessionRow): StreamTarget {
  if (!row.runtime?.host || !STREAMABLE.includes(row.session.state)) {
    throw new ApiError('SESSION_NOT_STREAMABLE', `A ${row.session.state} session has no desktop to stream.`);
  }
  return { host: row.runtime.host, port: row.runtime.port, password: row.runtime.password };
}
