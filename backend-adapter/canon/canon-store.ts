import type { Session, SessionState } from '../../protocol/session.ts';
import type { RuntimeHandle } from '../runtime/runtime-provider.ts';

/** A session as Canon Memory holds it: the public object plus where its desktop runs. */
export interface SessionRow {
  session: Session;
  runtime: RuntimeHandle | null;
}

/** One append-only Canon Memory record: who did what, when, under the handshake. */
export interface CanonRecord {
  seq: number;
  recordId: string;
  entity: 'session' | 'usage';
  entityId: string;
  action: string;
  fromState: SessionState | null;
  toState: SessionState | null;
  actor: string;
  tenantId: string;
  payload: Record<string, unknown>;
  canonTimestamp: string;
  handshake: '55-45-17';
}

/** The spec's SuperCoreUsage; `cost` is integer micro-NexCoin. */
export interface UsageRecord {
  userId: string;
  tenantId: string;
  sessionId: string;
  startTime: string;
  endTime: string;
  resourceConsumption: {
    activeSeconds: number;
    pausedSeconds: number;
    cpuMillicoreSeconds: number;
    memoryMiBSeconds: number;
  };
  cost: number;
  canonRecord: true;
}

export interface TransitionRequest {
  sessionId: string;
  /** The transition applies only if the session is in one of these states (compare-and-set). */
  from: readonly SessionState[];
  to: SessionState;
  action: string;
  actor: string;
  at: Date;
  /** Replaces the stored runtime handle when given (null clears it). */
  runtime?: RuntimeHandle | null;
  failureReason?: string;
  /** Written in the same transaction as the transition. */
  usage?: UsageRecord;
}

/** Port: Canon Memory. Every change is an appended record plus the current-state row, in one transaction. */
export interface CanonStore {
  createSession(row: SessionRow, actor: string): Promise<void>;
  getSession(sessionId: string): Promise<SessionRow | undefined>;
  listSessions(owner: { userId: string; tenantId: string }): Promise<SessionRow[]>;
  /** Sessions not yet terminated or failed, for reconciling with the runtime at start-up. */
  listUnfinished(): Promise<SessionRow[]>;
  /** Returns the updated row, or undefined when the session was not in an allowed `from` state. */
  transition(request: TransitionRequest): Promise<SessionRow | undefined>;
  listRecords(entityId: string): Promise<CanonRecord[]>;
  getUsage(sessionId: string): Promise<UsageRecord | undefined>;
  /** Proves the database answers (for the 55 checks). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
