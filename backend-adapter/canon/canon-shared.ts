import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { Session, SessionState } from '../../protocol/session.ts';
import type { Workspace } from '../../protocol/workspaces.ts';
import { applyWorkspaceChange, type WorkspaceChange } from './workspace-changes.ts';
import {
  QuotaExceededError,
  type CanonRecord,
  type GenesisLimits,
  type LiveUsage,
  type SessionRow,
} from './canon-store.ts';

/** States in which a session holds its resources; the others (terminated, failed) have released them. */
export const FINISHED_STATES: readonly SessionState[] = ['terminated', 'failed'];

export function isFinished(state: SessionState): boolean {
  return FINISHED_STATES.includes(state);
}

/** The Canon entity id under which a user's preference writes are recorded (`listRecords` reads them). */
export function preferencesEntityId(owner: { userId: string; tenantId: string }): string {
  return `preferences:${owner.tenantId}:${owner.userId}`;
}

/** The live figures the quotas bound, each named as the PostgreSQL Genesis statement names its column. */
const LIVE_FIGURES = {
  user_sessions: (l: LiveUsage) => l.user.sessions,
  user_cpu: (l: LiveUsage) => l.user.cpuMillicores,
  user_memory: (l: LiveUsage) => l.user.memoryMiB,
  tenant_sessions: (l: LiveUsage) => l.tenant.sessions,
  tenant_cpu: (l: LiveUsage) => l.tenant.cpuMillicores,
  tenant_memory: (l: LiveUsage) => l.tenant.memoryMiB,
  cluster_sessions: (l: LiveUsage) => l.cluster.sessions,
  cluster_cpu: (l: LiveUsage) => l.cluster.cpuMillicores,
  cluster_memory: (l: LiveUsage) => l.cluster.memoryMiB,
  cluster_storage: (l: LiveUsage) => l.cluster.storageGiB,
} as const;
export type LiveFigure = keyof typeof LIVE_FIGURES;

/** One quota: a new session fits while `figure + adding <= limit`. */
export interface QuotaCheck {
  scope: QuotaExceededError['scope'];
  limit: number;
  figure: LiveFigure;
  adding: number;
}

/**
 * Every quota a new session with `wanted` resources must fit, in a fixed order (user, tenant, cluster) so the
 * same state always reports the same scope. One list for the check here and the one PostgreSQL's Genesis
 * statement makes in SQL (postgres-genesis-statement.ts).
 */
export function quotaChecks(
  limits: GenesisLimits,
  wanted: { cpuMillicores: number; memoryMiB: number; storageGiB: number },
): QuotaCheck[] {
  const check = (scope: QuotaCheck['scope'], limit: number, figure: LiveFigure, adding: number) => ({
    scope,
    limit,
    figure,
    adding,
  });
  const checks = [
    check('user-sessions', limits.maxLiveSessionsPerUser, 'user_sessions', 1),
    check('user-cpu', limits.maxCpuMillicoresPerUser, 'user_cpu', wanted.cpuMillicores),
    check('user-memory', limits.maxMemoryMiBPerUser, 'user_memory', wanted.memoryMiB),
    check('tenant-sessions', limits.maxLiveSessionsPerTenant, 'tenant_sessions', 1),
    check('tenant-cpu', limits.maxCpuMillicoresPerTenant, 'tenant_cpu', wanted.cpuMillicores),
    check('tenant-memory', limits.maxMemoryMiBPerTenant, 'tenant_memory', wanted.memoryMiB),
    check('cluster-sessions', limits.cluster.maxSessions, 'cluster_sessions', 1),
    check('cluster-cpu', limits.cluster.maxCpuMillicores, 'cluster_cpu', wanted.cpuMillicores),
    check('cluster-memory', limits.cluster.maxMemoryMiB, 'cluster_memory', wanted.memoryMiB),
    check('cluster-storage', limits.cluster.maxStorageGiB, 'cluster_storage', wanted.storageGiB),
  ];
  // Every live session keeps its home volume, hibernated ones included, until it is terminated or fails.
  if (limits.cluster.maxVolumes !== undefined)
    checks.push(check('cluster-volumes', limits.cluster.maxVolumes, 'cluster_sessions', 1));
  return checks;
}

/** The first limit a new session with `wanted` resources would pass, or undefined when it fits. */
export function exceededLimit(
  limits: GenesisLimits,
  live: LiveUsage,
  wanted: { cpuMillicores: number; memoryMiB: number; storageGiB: number },
): QuotaExceededError | undefined {
  for (const { scope, limit, figure, adding } of quotaChecks(limits, wanted)) {
    const current = LIVE_FIGURES[figure](live);
    if (current + adding > limit) return new QuotaExceededError(scope, limit, current);
  }
  return undefined;
}

/** The columns a new session row sets, in the order of sessionValues (both stores' INSERT). */
export const SESSION_INSERT_COLUMNS =
  'session_id, user_id, tenant_id, tier, resources, state, failure_reason, runtime, created_at, canon_timestamp, last_activity_at, handshake';

export function sessionValues(row: SessionRow): unknown[] {
  const s = row.session;
  return [
    s.sessionId,
    s.userId,
    s.tenantId,
    s.tier,
    JSON.stringify(s.resources),
    s.state,
    s.failureReason ?? null,
    row.runtime === null ? null : JSON.stringify(row.runtime),
    s.createdAt,
    s.canonTimestamp,
    row.lastActivityAt,
    HANDSHAKE,
  ];
}

/** The columns a new allocation sets, in the order of allocationValues (both stores' INSERT). */
export const ALLOCATION_INSERT_COLUMNS =
  'session_id, user_id, tenant_id, tier, resources, cpu_millicores, memory_mib, storage_gib, gpus, allocated_at';

export function allocationValues(s: Session, at: string): unknown[] {
  return [
    s.sessionId,
    s.userId,
    s.tenantId,
    s.tier,
    JSON.stringify(s.resources),
    s.resources.cpuMillicores,
    s.resources.memoryMiB,
    s.resources.storageGiB,
    s.resources.gpus,
    at,
  ];
}

/** A record as a store is asked to append it (it assigns seq and recordId and adds the handshake). */
export type NewCanonRecord = Omit<CanonRecord, 'seq' | 'recordId' | 'handshake'>;

/** A workspace change decided on `current` at `at`: the workspace it leaves, and the record that says so. */
export function decideWorkspaceChange(
  current: Workspace,
  change: WorkspaceChange,
  at: string,
): { workspace: Workspace; record: NewCanonRecord } {
  const outcome = applyWorkspaceChange(current, change, at);
  const payload: Record<string, unknown> = { ...outcome.payload };
  if (outcome.subjectUserId !== undefined) payload.userId = outcome.subjectUserId;
  return {
    workspace: outcome.workspace,
    record: {
      entity: 'workspace',
      entityId: current.workspaceId,
      action: outcome.action,
      fromState: null,
      toState: null,
      actor: change.actor,
      tenantId: current.tenantId,
      payload,
      canonTimestamp: outcome.workspace.updatedAt,
    },
  };
}

/**
 * The Genesis records of a new session, in order: `genesis.requested`, and for a session created already in
 * provisioning (the lifecycle's launch, which moves on at once under the session's lock) `genesis.provisioning`
 * as well, so the history reads requested → provisioning exactly as if it had taken two transactions.
 */
export function genesisRecords(s: Session, actor: string): NewCanonRecord[] {
  const record = (action: string, fromState: SessionState | null, toState: SessionState, payload = {}) => ({
    entity: 'session' as const,
    entityId: s.sessionId,
    action,
    fromState,
    toState,
    actor,
    tenantId: s.tenantId,
    payload,
    canonTimestamp: s.canonTimestamp,
  });
  const requested = { tier: s.tier, resources: s.resources };
  if (s.state !== 'provisioning') return [record('genesis.requested', null, s.state, requested)];
  return [
    record('genesis.requested', null, 'requested', requested),
    record('genesis.provisioning', 'requested', 'provisioning'),
  ];
}
