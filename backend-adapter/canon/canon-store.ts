import type { AllocatedResources, Session, SessionState, TierId } from '../../protocol/session.ts';
import type { RuntimeHandle } from '../runtime/runtime-provider.ts';
import type { PoolConnections } from '../sql/pool-connections.ts';
import type { TransactionOptions } from '../sql/sql-db.ts';
import type { Acknowledge } from '../sql/sqlite-group-commit.ts';
import type { Workspace } from '../../protocol/workspaces.ts';
import type { ErasureRequest, ErasureResult } from './subjects.ts';
import type { WorkspaceChange } from './workspace-changes.ts';

/** A session as Canon Memory holds it: the public object plus where its desktop runs. */
export interface SessionRow {
  session: Session;
  runtime: RuntimeHandle | null;
  /** Last input from any viewer (or the launch); drives the idle timeout. Not a Canon record per input. */
  lastActivityAt: string;
}

/** One append-only Canon Memory record: who did what, when, under the handshake. */
export interface CanonRecord {
  seq: number;
  recordId: string;
  entity: 'session' | 'usage' | 'preferences' | 'privacy' | 'workspace';
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
  /**
   * A tier change, in the same transaction: the session's tier and resources become these and its allocation
   * is taken again (the old one released); with `limits`, refused with QuotaExceededError (nothing written)
   * when the new resources would pass one. The record's payload carries `tier`, `fromTier` and `resources`.
   */
  tierChange?: { tier: TierId; resources: AllocatedResources; limits?: GenesisLimits };
  /** When the write is answered (TransactionOptions): durable by default. */
  acknowledge?: Acknowledge;
}

/**
 * Limits checked atomically when a session is created: no two concurrent launches may both pass a limit.
 * Live sessions are those not terminated or failed; their tier resources count against the sums.
 */
export interface GenesisLimits {
  maxLiveSessionsPerUser: number;
  /** The tier CPU of one user's live sessions together. */
  maxCpuMillicoresPerUser: number;
  /** The tier memory of one user's live sessions together. */
  maxMemoryMiBPerUser: number;
  maxLiveSessionsPerTenant: number;
  maxCpuMillicoresPerTenant: number;
  maxMemoryMiBPerTenant: number;
  /** The cluster-wide ceiling (the spec's ResourceQuota): all tenants together. */
  cluster: ClusterLimits;
}

export interface ClusterLimits {
  maxCpuMillicores: number;
  maxMemoryMiB: number;
  maxStorageGiB: number;
  /** Live sessions: each holds (or, hibernated, keeps reserved) one pod. */
  maxSessions: number;
  /**
   * Persistent volumes (PVCs). Set where every live session holds one, hibernated ones included (the
   * Kubernetes runtime); absent where sessions hold none (the local runtime).
   */
  maxVolumes?: number;
}

export type QuotaScope =
  | 'user-sessions'
  | 'user-cpu'
  | 'user-memory'
  | 'tenant-sessions'
  | 'tenant-cpu'
  | 'tenant-memory'
  | 'cluster-cpu'
  | 'cluster-memory'
  | 'cluster-storage'
  | 'cluster-sessions'
  | 'cluster-volumes';

/** Thrown by createSession when a limit would be exceeded; nothing was written. */
export class QuotaExceededError extends Error {
  readonly code = 'QUOTA_EXCEEDED';
  constructor(
    readonly scope: QuotaScope,
    readonly limit: number,
    readonly current: number,
  ) {
    super(`quota ${scope} reached (${current} of ${limit})`);
  }
}

/** A user's settings, kept in Canon Memory; the server's timestamp decides between concurrent writers. */
export interface PreferencesRow {
  userId: string;
  tenantId: string;
  preferences: Record<string, unknown>;
  updatedAt: string;
}

/** One allocation of resources to a session, from Canon Memory (the spec's "resource allocation history"). */
export interface AllocationRecord {
  sessionId: string;
  tier: Session['tier'];
  resources: Session['resources'];
  allocatedAt: string;
  releasedAt: string | null;
}

/** One past launch: who, which tier, when (the warm pool's launch predictions learn from these). */
export interface LaunchRecord {
  userId: string;
  tenantId: string;
  tier: Session['tier'];
  createdAt: string;
}

/**
 * Sessions, CPU and memory that count against the limits now (storage too, for the cluster): what Genesis
 * reads inside the write transaction that creates the next session.
 */
export interface LiveUsage {
  user: { sessions: number; cpuMillicores: number; memoryMiB: number };
  tenant: { sessions: number; cpuMillicores: number; memoryMiB: number };
  cluster: { sessions: number; cpuMillicores: number; memoryMiB: number; storageGiB: number };
}

/** Live sessions of one state and tier, with the resources their tier gives them (for the metrics). */
export interface LiveTotals {
  state: SessionState;
  tier: TierId;
  sessions: number;
  cpuMillicores: number;
  memoryMiB: number;
  gpus: number;
}

/** Port: Canon Memory. Every change is an appended record plus the current-state row, in one transaction. */
export interface CanonStore {
  /**
   * Writes the session and its Genesis records (canon-shared's genesisRecords: a session created in
   * provisioning is recorded as requested, then provisioning); with `limits`, atomically refuses
   * (QuotaExceededError) past any of them.
   */
  createSession(
    row: SessionRow,
    actor: string,
    limits?: GenesisLimits,
    options?: TransactionOptions,
  ): Promise<void>;
  getSession(sessionId: string): Promise<SessionRow | undefined>;
  /** The rows of these sessions that exist, in one read (a batch job's page). */
  getSessions(sessionIds: readonly string[]): Promise<Map<string, SessionRow>>;
  /**
   * Newest first. Without `userId`: every session of the tenant (for the tenant's admins). With `liveOnly`:
   * only those not terminated or failed (the billing check, which must not read a user's whole history).
   */
  listSessions(scope: { tenantId: string; userId?: string; liveOnly?: boolean }): Promise<SessionRow[]>;
  /** Sessions not yet terminated or failed, for reconciling with the runtime at start-up. */
  listUnfinished(): Promise<SessionRow[]>;
  /** Every session created at or after `since` (any tenant), oldest first: the launch history for predictions. */
  listLaunchesSince(since: Date): Promise<LaunchRecord[]>;
  /** Returns the updated row, or undefined when the session was not in an allowed `from` state. */
  transition(request: TransitionRequest): Promise<SessionRow | undefined>;
  listRecords(entityId: string): Promise<CanonRecord[]>;
  /** The records of each of these sessions, as listRecords reads them, in one read (ids without any: none). */
  listSessionRecords(sessionIds: readonly string[]): Promise<Map<string, CanonRecord[]>>;
  getUsage(sessionId: string): Promise<UsageRecord | undefined>;
  /** The usage records of these sessions that have one, in one read. */
  getUsages(sessionIds: readonly string[]): Promise<Map<string, UsageRecord>>;
  /** Records viewer input; cheap and idempotent (callers throttle it). */
  touchActivity(sessionId: string, at: Date): Promise<void>;
  getPreferences(owner: { userId: string; tenantId: string }): Promise<PreferencesRow | undefined>;
  /** Replaces the user's preferences, appending a Canon record; returns the stored row with the server's timestamp. */
  putPreferences(
    owner: { userId: string; tenantId: string },
    preferences: Record<string, unknown>,
    at: Date,
  ): Promise<PreferencesRow>;
  listAllocations(owner: { userId: string; tenantId: string }): Promise<AllocationRecord[]>;
  /**
   * What counts against the limits now (open allocations: sessions not terminated or failed), for the user,
   * their tenant and the cluster: the figures Genesis checks, from sums rather than a scan of every session.
   */
  liveUsageOf(owner: { userId: string; tenantId: string }): Promise<LiveUsage>;
  /** Sessions not terminated or failed, counted and summed per state and tier by the database. */
  liveTotals(): Promise<LiveTotals[]>;
  /**
   * The user's subject reference: the pseudonym under which Canon records refer to them (created on first
   * use; see subjects.ts). After erasure a returning user gets a new one.
   */
  pseudonymOf(owner: { userId: string; tenantId: string }): Promise<string>;
  /** Appends a privacy audit record (e.g. `privacy.exported`) under `privacyEntityId(subject)`. */
  recordPrivacyEvent(event: {
    subject: { userId: string; tenantId: string };
    action: string;
    actor: string;
    at: Date;
    payload: Record<string, unknown>;
  }): Promise<CanonRecord>;
  /**
   * GDPR erasure, in one transaction: the audit record `privacy.erased` is appended, the user's preferences
   * deleted, their id replaced by their pseudonym in sessions, usage and allocations (money and usage kept),
   * and the pseudonym's link to the user id cut. Live sessions must have been ended first.
   */
  eraseSubject(request: ErasureRequest): Promise<ErasureResult>;
  /**
   * Collaborative workspaces (IMCU composition). Writes the workspace (its owner joined) and its
   * `workspace.created` record, then `changes` (its first invitations) with theirs, at its creation time, in
   * the same transaction: nobody reads it half made. Answers the workspace as they left it; throws
   * WorkspaceChangeError (nothing written) when one is refused. The entity id of its records is the
   * workspace id.
   */
  createWorkspace(workspace: Workspace, changes?: readonly WorkspaceChange[]): Promise<Workspace>;
  getWorkspace(workspaceId: string): Promise<Workspace | undefined>;
  /** Open and closed workspaces of the tenant the user owns, has joined or is invited to; newest first. */
  listWorkspaces(scope: { tenantId: string; userId: string }): Promise<Workspace[]>;
  /** Open workspaces that contain the session (who else may stream it). */
  listWorkspacesOfSession(sessionId: string): Promise<Workspace[]>;
  /**
   * One change (invite, accept/decline, leave, remove, role, control, close), decided by
   * applyWorkspaceChange on the state read inside the write transaction, written with its Canon record.
   * Throws WorkspaceChangeError (nothing written) when refused.
   */
  changeWorkspace(workspaceId: string, change: WorkspaceChange, at: Date): Promise<Workspace>;
  /** Proves the database answers (for the 55 checks). */
  ping(): Promise<boolean>;
  /** How an embedded file keeps its writes (SQLite); absent where the database server reports that itself. */
  storageHealth?(): CanonStorageHealth;
  /** The connection pool's state (PostgreSQL); absent for the embedded file's single connection. */
  connections?(): PoolConnections;
  close(): Promise<void>;
}

/** The write path of an embedded SQLite file since it was opened (sqlite-connection.ts), for /metrics. */
export interface CanonStorageHealth {
  /** A flush failed: every write since is refused (SQLITE_DURABILITY_LOST) and /readyz answers 503. */
  durabilityLost: boolean;
  /** The checkpoint worker failed: SQLite checkpoints on the writer again, inside COMMITs. */
  checkpointFallback: boolean;
  /** Checkpoint cycles the worker completed. */
  checkpoints: number;
  /** Frames in the WAL at the last checkpoint (SQLite starts it again from 0 after a complete one). */
  walFrames: number;
  /** Group commits, the write transactions in them, and the WAL flushes that made them durable. */
  writeBatches: number;
  writes: number;
  flushes: number;
}

/** Thrown by eraseSubject while the user still has sessions that are not terminated or failed. */
export class SubjectHasLiveSessionsError extends Error {
  readonly code = 'SUBJECT_HAS_LIVE_SESSIONS';
  constructor(readonly liveSessions: number) {
    super(`the user still has ${liveSessions} live session(s); end them before erasure`);
  }
}
