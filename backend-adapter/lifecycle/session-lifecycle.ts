import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { Session, SessionState } from '../../protocol/session.ts';
import { ApiError } from '../api-error.ts';
import type { Principal } from '../auth/principal.ts';
import type { CanonStore, SessionRow, UsageRecord } from '../canon/canon-store.ts';
import type { RuntimeHandle, RuntimeProvider } from '../runtime/runtime-provider.ts';
import { findTier } from '../tiers/tier-catalogue.ts';
import { ACTIONS, type SessionAction } from './transitions.ts';
import { meterSession, priceActiveTime } from './usage-meter.ts';

export interface LifecycleDeps {
  canon: CanonStore;
  runtime: RuntimeProvider;
  logger: Logger;
  clock?: () => Date;
}

export interface StreamTarget {
  host: string;
  port: number;
  password: string;
}

const SYSTEM_ACTOR = 'system:lifecycle';

/**
 * The IMVU lifecycle: Genesis (requested → provisioning) → Active ⇄ Paused → Termination, or failed with a
 * reason. Every transition is written to Canon Memory before it is acknowledged, and at most one change
 * per session is in flight at a time.
 */
export class SessionLifecycle {
  private readonly inFlight = new Set<string>();
  private readonly clock: () => Date;

  constructor(private readonly deps: LifecycleDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async create(principal: Principal, tierId: string): Promise<Session> {
    const tier = findTier(tierId);
    if (!tier) throw new ApiError('UNKNOWN_TIER', `There is no resource tier called "${tierId}".`);
    const now = this.clock().toISOString();
    const sessionId = randomUUID();
    const session: Session = {
      sessionId,
      userId: principal.userId,
      tenantId: principal.tenantId,
      tier: tier.id,
      resources: tier.resources,
      state: 'requested',
      createdAt: now,
      canonTimestamp: now,
      handshake: HANDSHAKE,
    };
    this.inFlight.add(sessionId);
    try {
      await this.deps.canon.createSession({ session, runtime: null }, principal.userId);
      await this.move(sessionId, ['requested'], 'provisioning', 'genesis.provisioning', principal.userId);
      let handle: RuntimeHandle;
      try {
        handle = await this.deps.runtime.start(sessionId, tier.resources);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        await this.move(sessionId, ['provisioning'], 'failed', 'genesis.failed', SYSTEM_ACTOR, {
          failureReason: reason,
        });
        this.deps.logger.warn({ sessionId, reason }, 'session failed to start');
        throw new ApiError('RUNTIME_FAILED', `The desktop could not be started: ${reason}`, { sessionId });
      }
      const row = await this.move(sessionId, ['provisioning'], 'active', 'genesis.active', SYSTEM_ACTOR, {
        runtime: handle,
      });
      this.deps.logger.info({ sessionId, userId: principal.userId, tier: tier.id }, 'Session created');
      return row.session;
    } finally {
      this.inFlight.delete(sessionId);
    }
  }

  async list(principal: Principal): Promise<Session[]> {
    return (await this.deps.canon.listSessions(principal)).map((r) => r.session);
  }

  async get(principal: Principal, sessionId: string): Promise<Session> {
    return (await this.owned(principal, sessionId)).session;
  }

  /** Another user's session is reported as missing, never as forbidden: its existence is not disclosed. */
  private async owned(principal: Principal, sessionId: string): Promise<SessionRow> {
    const row = await this.deps.canon.getSession(sessionId);
    if (!row || row.session.userId !== principal.userId || row.session.tenantId !== principal.tenantId) {
      throw new ApiError('SESSION_NOT_FOUND');
    }
    return row;
  }

  pause(principal: Principal, sessionId: string): Promise<Session> {
    return this.perform(principal, sessionId, 'pause');
  }

  resume(principal: Principal, sessionId: string): Promise<Session> {
    return this.perform(principal, sessionId, 'resume');
  }

  terminate(principal: Principal, sessionId: string): Promise<Session> {
    return this.perform(principal, sessionId, 'terminate');
  }

  private async perform(principal: Principal, sessionId: string, action: SessionAction): Promise<Session> {
    const row = await this.owned(principal, sessionId);
    if (this.inFlight.has(sessionId)) throw new ApiError('TRANSITION_IN_PROGRESS');
    const rule = ACTIONS[action];
    if (!(rule.from as readonly SessionState[]).includes(row.session.state)) {
      throw new ApiError('ILLEGAL_TRANSITION', `A ${row.session.state} session cannot ${action}.`, {
        state: row.session.state,
      });
    }
    this.inFlight.add(sessionId);
    try {
      await this.move(sessionId, rule.from, rule.via, `${action}.started`, principal.userId);
      const result = await this.runAction(action, row.runtime, sessionId, principal.userId);
      this.deps.logger.info({ sessionId, userId: principal.userId, action }, `Session ${rule.to}`);
      return result.session;
    } finally {
      this.inFlight.delete(sessionId);
    }
  }

  private async runAction(
    action: SessionAction,
    handle: RuntimeHandle | null,
    sessionId: string,
    actor: string,
  ): Promise<SessionRow> {
    const rule = ACTIONS[action];
    try {
      if (action === 'terminate') return await this.finishTermination(sessionId, handle, actor);
      if (!handle) throw new Error('the session has no desktop');
      if (action === 'pause') await this.deps.runtime.pause(handle);
      else await this.deps.runtime.resume(handle);
      return await this.move(sessionId, [rule.via], rule.to, `${action}.completed`, actor);
    } catch (error) {
      // The desktop is not in the state we asked for: end the session rather than leave it half-changed.
      const reason = error instanceof Error ? error.message : String(error);
      if (handle) await this.deps.runtime.stop(handle).catch(() => undefined);
      await this.move(sessionId, [rule.via], 'failed', `${action}.failed`, SYSTEM_ACTOR, {
        failureReason: reason,
        runtime: null,
      });
      throw new ApiError('RUNTIME_FAILED', `The session could not ${action}: ${reason}`, { sessionId });
    }
  }

  private async finishTermination(
    sessionId: string,
    handle: RuntimeHandle | null,
    actor: string,
  ): Promise<SessionRow> {
    if (handle) await this.deps.runtime.stop(handle);
    const row = await this.deps.canon.getSession(sessionId);
    if (!row) throw new ApiError('SESSION_NOT_FOUND');
    const end = this.clock();
    const usage = await this.usageFor(row, end);
    return this.move(sessionId, ['terminating'], 'terminated', 'termination.completed', actor, {
      runtime: null,
      usage,
    });
  }

  private async usageFor(row: SessionRow, end: Date): Promise<UsageRecord> {
    const metered = meterSession(await this.deps.canon.listRecords(row.session.sessionId), end);
    const tier = findTier(row.session.tier);
    const res = row.session.resources;
    const activeSeconds = Math.round(metered.activeMs / 1000);
    return {
      userId: row.session.userId,
      tenantId: row.session.tenantId,
      sessionId: row.session.sessionId,
      startTime: (metered.startTime ?? new Date(row.session.createdAt)).toISOString(),
      endTime: end.toISOString(),
      resourceConsumption: {
        activeSeconds,
        pausedSeconds: Math.round(metered.pausedMs / 1000),
        cpuMillicoreSeconds: activeSeconds * res.cpuMillicores,
        memoryMiBSeconds: activeSeconds * res.memoryMiB,
      },
      cost: tier ? priceActiveTime(metered.activeMs, tier.microNexCoinPerHour) : 0,
      canonRecord: true,
    };
  }

  /** Where the gateway connects for this session's stream; only while the desktop exists. */
  async streamTarget(principal: Principal, sessionId: string): Promise<StreamTarget> {
    const row = await this.owned(principal, sessionId);
    if (!row.runtime || !['active', 'paused', 'pausing', 'resuming'].includes(row.session.state)) {
      throw new ApiError(
        'SESSION_NOT_STREAMABLE',
        `A ${row.session.state} session has no desktop to stream.`,
      );
    }
    return { host: row.runtime.host, port: row.runtime.port, password: row.runtime.password };
  }

  private async move(
    sessionId: string,
    from: readonly SessionState[],
    to: SessionState,
    action: string,
    actor: string,
    extra: { runtime?: RuntimeHandle | null; failureReason?: string; usage?: UsageRecord } = {},
  ): Promise<SessionRow> {
    const row = await this.deps.canon.transition({
      sessionId,
      from,
      to,
      action,
      actor,
      at: this.clock(),
      ...extra,
    });
    if (!row) throw new ApiError('ILLEGAL_TRANSITION', `The session could not move to ${to}.`);
    return row;
  }

  /**
   * After a restart or crash: bring every unfinished session in line with what the runtime really has,
   * so no desktop is orphaned and no session stays in a transitional state.
   */
  async reconcile(): Promise<void> {
    for (const row of await this.deps.canon.listUnfinished()) {
      const { sessionId, state } = row.session;
      const status = row.runtime ? await this.deps.runtime.status(row.runtime) : 'gone';
      try {
        if (state === 'terminating') {
          await this.finishTermination(sessionId, row.runtime, SYSTEM_ACTOR);
        } else if (status === 'gone' || state === 'requested' || state === 'provisioning') {
          if (row.runtime) await this.deps.runtime.stop(row.runtime);
          const reason =
            status === 'gone'
              ? 'the desktop ended while the adapter was down'
              : 'the adapter stopped during provisioning';
          await this.move(sessionId, [state], 'failed', 'reconcile.failed', SYSTEM_ACTOR, {
            failureReason: reason,
            runtime: null,
          });
        } else if (state === 'pausing' || state === 'paused') {
          if (status === 'running' && row.runtime) await this.deps.runtime.pause(row.runtime);
          if (state === 'pausing')
            await this.move(sessionId, [state], 'paused', 'reconcile.paused', SYSTEM_ACTOR);
        } else if (state === 'resuming' || state === 'active') {
          if (status === 'stopped' && row.runtime) await this.deps.runtime.resume(row.runtime);
          if (state === 'resuming')
            await this.move(sessionId, [state], 'active', 'reconcile.active', SYSTEM_ACTOR);
        }
      } catch (error) {
        this.deps.logger.error({ sessionId, err: error }, 'reconcile failed for session');
      }
    }
  }
}
