import type { Logger } from 'pino';
import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { Session, SessionState, Tier } from '../../protocol/session.ts';
import { ApiError } from '../api-error.ts';
import { isTenantAdmin, type Principal } from '../auth/principal.ts';
import {
  QuotaExceededError,
  type CanonRecord,
  type CanonStore,
  type GenesisLimits,
  type SessionRow,
  type TransitionRequest,
  type UsageRecord,
} from '../canon/canon-store.ts';
import { isFinished } from '../canon/canon-shared.ts';
import type { SessionEventBus } from '../events/session-event-bus.ts';
import { LockHeldError, type SessionLocks } from '../locks/session-locks.ts';
import type { DesktopStatus, RuntimeHandle, RuntimeProvider } from '../runtime/runtime-provider.ts';
import { findTier, subscriptionAllows } from '../tiers/tier-catalogue.ts';
import type { LifecyclePolicy } from './lifecycle-policy.ts';
import type { SessionGate } from './session-gate.ts';
import {
  ACTIONS,
  RESTART,
  SYSTEM_TRANSITIONS,
  TIER_CHANGE_FROM,
  TRANSITIONAL_STATES,
  type SessionAction,
} from './transitions.ts';
import { meterSession, priceAtListRates } from './usage-meter.ts';
import { KnownSessions } from './known-sessions.ts';
import { SessionAccess, visibleTo, type StreamTarget } from './session-access.ts';
import { timeOrderedId } from '../time-ordered-id.ts';

export interface LifecycleDeps {
  canon: CanonStore;
  runtime: RuntimeProvider;
  events: SessionEventBus;
  locks: SessionLocks;
  policy: LifecyclePolicy;
  logger: Logger;
  clock?: () => Date;
  /** Billing and governance (tenant registry, phase, NexCoin balance); absent: no such checks. */
  gate?: SessionGate;
  /**
   * How long the lock of a holder that died outlives it (the Redis lock's ttl; 0 or absent: in-process locks,
   * which die with their process). A transitional session is reconciled only once it is older than a
   * transition plus this, so a dead replica's lock has expired by then.
   */
  lockTtlMs?: number;
}

const SYSTEM_ACTOR = 'system:lifecycle';
const RECONCILE_ACTOR = 'system:reconcile';
/**
 * A launch's Genesis and an action's first move (→ pausing, resuming, terminating) are answered once committed,
 * not once flushed (SQLite: TransactionOptions): the move that ends the action is durable before anyone is
 * answered, and the WAL is flushed in order, so it makes them durable too. Each had waited for a flush of its
 * own, in sequence with the last one's. Only a power loss between the two can lose such a move, with the
 * request unanswered; recovery then settles the session from what the runtime has (reconcile: a desktop no
 * session accounts for is reclaimed, a stopped one of an active session resumed, a gone one failed), as it
 * does after an adapter that died mid-action.
 */
const FIRST_MOVE = { acknowledge: 'on-commit' } as const;

class TransitionTimeout extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransitionTimeout(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const reasonOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A quota refusal from Canon Memory as the API's QUOTA_EXCEEDED; anything else as it is. */
function quotaError(error: unknown): unknown {
  if (!(error instanceof QuotaExceededError)) return error;
  return new ApiError(
    'QUOTA_EXCEEDED',
    `Quota reached: ${error.scope} (${error.current} of ${error.limit}).`,
    {
      scope: error.scope,
      limit: error.limit,
      current: error.current,
    },
  );
}

/**
 * The IMVU lifecycle: Genesis (requested → provisioning) → Active ⇄ Paused → Termination, or failed with a
 * reason. Every transition is written to Canon Memory (compare-and-set) before it is acknowledged and then
 * published to every replica; at most one change per session is in flight, and every runtime step has a
 * deadline after which the session fails with its resources released.
 */
export class SessionLifecycle {
  private readonly clock: () => Date;
  /** Reads and viewer activity, shared with the stream gateway role (which has no lifecycle). */
  private readonly access: SessionAccess;
  private readonly known = new KnownSessions();

  constructor(private readonly deps: LifecycleDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.access = new SessionAccess({
      canon: deps.canon,
      activityWriteIntervalMs: deps.policy.activityWriteIntervalMs,
      logger: deps.logger,
      clock: this.clock,
    });
  }

  /** The tiers with `allowed` filled in for this caller's subscription. */
  tiersFor(principal: Principal, catalogue: readonly Tier[]): Tier[] {
    return catalogue.map((t) => {
      const allowed = subscriptionAllows(principal.subscription, t);
      const yourPrice = this.deps.gate?.tierPrice?.(principal, t);
      return {
        ...t,
        ...(this.deps.gate?.tierAvailability(principal, t, allowed) ?? { allowed }),
        ...(yourPrice ? { yourPrice } : {}),
      };
    });
  }

  async create(principal: Principal, tierId: string): Promise<Session> {
    const tier = findTier(tierId);
    if (!tier) throw new ApiError('UNKNOWN_TIER', `There is no resource tier called "${tierId}".`);
    if (!subscriptionAllows(principal.subscription, tier)) {
      throw new ApiError(
        'TIER_NOT_ALLOWED',
        `The ${tier.label} tier needs the ${tier.minimumSubscription} subscription or higher.`,
        { tier: tier.id, minimumSubscription: tier.minimumSubscription },
      );
    }
    await this.requireComponentReady();

    const now = this.clock().toISOString();
    const sessionId = timeOrderedId();
    // Billing and governance refuse here, before anything is written or provisioned.
    const limits =
      (await this.deps.gate?.admitGenesis(principal, tier, sessionId, this.deps.policy.limits)) ??
      this.deps.policy.limits;
    const session: Session = {
      sessionId,
      userId: principal.userId,
      tenantId: principal.tenantId,
      tier: tier.id,
      resources: tier.resources,
      state: 'provisioning',
      createdAt: now,
      canonTimestamp: now,
      handshake: HANDSHAKE,
    };
    // Requested and provisioning in one transaction (both recorded), under the session's lock from the start:
    // nothing could act on the session between the two, so a second transaction would only cost a commit.
    let created = false;
    try {
      return await this.locked(sessionId, async () => {
        await this.deps.canon
          .createSession(
            { session, runtime: null, lastActivityAt: now },
            principal.userId,
            limits,
            FIRST_MOVE,
          )
          .catch((error: unknown) => {
            throw quotaError(error);
          });
        created = true;
        return this.provision(session);
      });
    } catch (error) {
      // Nothing was created (a quota, Canon Memory or the lock refused): what billing held is given back.
      if (!created) await this.deps.gate?.genesisAbandoned(sessionId).catch(() => undefined);
      throw error;
    }
  }

  /** The rest of a launch, under the session's lock: announce it, start its desktop, make it active. */
  private async provision(session: Session): Promise<Session> {
    const { sessionId } = session;
    await this.announce({ ...session, state: 'requested' }, null);
    await this.announce(session, 'requested');
    let handle: RuntimeHandle;
    const starting = this.deps.runtime.start(sessionId, session.resources, {
      tier: session.tier,
      tenantId: session.tenantId,
      userId: session.userId,
    });
    try {
      handle = await withTimeout(starting, this.deps.policy.transitionTimeoutMs, 'provisioning');
    } catch (error) {
      if (error instanceof TransitionTimeout) this.releaseLateStart(sessionId, starting);
      const reason = reasonOf(error);
      await this.move(sessionId, ['provisioning'], 'failed', 'genesis.failed', SYSTEM_ACTOR, {
        failureReason: reason,
      });
      await this.deps.gate?.genesisAbandoned(sessionId).catch(() => undefined);
      this.deps.logger.warn({ sessionId, reason }, 'session failed to start');
      throw new ApiError('RUNTIME_FAILED', `The desktop could not be started: ${reason}`, { sessionId });
    }
    const row = await this.move(sessionId, ['provisioning'], 'active', 'genesis.active', SYSTEM_ACTOR, {
      runtime: handle,
    });
    this.deps.logger.info({ sessionId, userId: session.userId, tier: session.tier }, 'Session created');
    return row.session;
  }

  /**
   * A start that outlived its deadline may still bring a desktop up: whatever it returns is stopped, so a
   * failed launch holds nothing. (Should the adapter die first, reconcile reclaims it as an orphan.)
   */
  private releaseLateStart(sessionId: string, starting: Promise<RuntimeHandle>): void {
    void starting.then(
      async (late) => {
        try {
          // Not bounded by the transition deadline: nobody waits on it, and a stop may take longer.
          await this.deps.runtime.stop(late);
          this.deps.logger.warn({ sessionId }, 'stopped a desktop that came up after its launch had failed');
        } catch (err) {
          this.deps.logger.error({ sessionId, err }, 'could not stop a desktop that came up too late');
        }
      },
      () => undefined, // the start failed by itself: the runtime released what it had started
    );
  }

  /** The caller's own sessions; a tenant admin's: every session of the tenant. */
  /** The limits Genesis checks for this caller (billing's gate applies the tenant's overrides). */
  limitsFor(principal: Principal): GenesisLimits {
    return this.deps.gate?.limitsFor?.(principal, this.deps.policy.limits) ?? this.deps.policy.limits;
  }

  async list(principal: Principal): Promise<Session[]> {
    const scope = isTenantAdmin(principal) ? { tenantId: principal.tenantId } : principal;
    return (await this.deps.canon.listSessions(scope)).map((r) => r.session);
  }

  get(principal: Principal, sessionId: string): Promise<Session> {
    return this.access.get(principal, sessionId);
  }

  private owned(principal: Principal, sessionId: string): Promise<SessionRow> {
    return this.access.owned(principal, sessionId);
  }

  /** A pause the system decides (e.g. `system:billing` on a low balance), recorded with that actor. */
  pauseAsSystem(sessionId: string, actor: string): Promise<Session> {
    return this.act(sessionId, 'pause', actor);
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

  /**
   * Changes an Active or Paused session's tier, under its lock (409 TRANSITION_IN_PROGRESS while another
   * change is in flight). The subscription, tenant and phase must allow the new tier and the balance cover its
   * first periods (the gate); the change is written to Canon Memory (`tier.changed`, with the quota check of
   * the new resources in the same transaction) before the runtime applies it, so billing prices every period
   * by the tier in force in it. A runtime that can resize recreates the desktop with the new resources
   * (`tier.applied` records where it now runs; a paused one is paused again); one that cannot changes only
   * what is billed and recorded. If the runtime fails, the session fails with its resources released.
   */
  async changeTier(principal: Principal, sessionId: string, tierId: string): Promise<Session> {
    const tier = findTier(tierId);
    if (!tier) throw new ApiError('UNKNOWN_TIER', `There is no resource tier called "${tierId}".`);
    if (!subscriptionAllows(principal.subscription, tier)) {
      throw new ApiError(
        'TIER_NOT_ALLOWED',
        `The ${tier.label} tier needs the ${tier.minimumSubscription} subscription or higher.`,
        { tier: tier.id, minimumSubscription: tier.minimumSubscription },
      );
    }
    await this.owned(principal, sessionId);
    return this.locked(sessionId, async () => {
      await this.requireComponentReady();
      const row = await this.deps.canon.getSession(sessionId);
      if (!row) throw new ApiError('SESSION_NOT_FOUND');
      const state = row.session.state;
      if (!TIER_CHANGE_FROM.includes(state)) {
        throw new ApiError('ILLEGAL_TRANSITION', `A ${state} session cannot change its tier.`, { state });
      }
      if (row.session.tier === tier.id) return row.session;
      const limits =
        (await this.deps.gate?.admitTierChange(principal, row, tier, this.deps.policy.limits)) ??
        this.deps.policy.limits;
      let changed: SessionRow;
      try {
        changed = await this.move(sessionId, [state], state, 'tier.changed', principal.userId, {
          tierChange: { tier: tier.id, resources: tier.resources, limits },
        });
      } catch (error) {
        throw quotaError(error);
      }
      const { runtime } = this.deps;
      this.deps.logger.info({ sessionId, from: row.session.tier, to: tier.id }, 'Session tier changed');
      if (!runtime.resize || !row.runtime) return changed.session;
      const handle = row.runtime;
      const deadline = this.deps.policy.transitionTimeoutMs;
      try {
        const moved = await withTimeout(
          (async () => {
            const resized = await (runtime.resize as NonNullable<RuntimeProvider['resize']>).call(
              runtime,
              handle,
              tier.id,
              tier.resources,
            );
            if (state === 'paused') await runtime.pause(resized);
            return resized;
          })(),
          deadline,
          'tier change',
        );
        return (await this.move(sessionId, [state], state, 'tier.applied', SYSTEM_ACTOR, { runtime: moved }))
          .session;
      } catch (error) {
        const reason = reasonOf(error);
        // The desktop is not what the record says: end the session rather than leave it half-changed.
        await withTimeout(runtime.stop(handle), deadline, 'stop').catch(() => undefined);
        await this.move(sessionId, [state], 'failed', 'tier.failed', SYSTEM_ACTOR, {
          failureReason: reason,
          runtime: null,
        });
        throw new ApiError('RUNTIME_FAILED', `The session could not change its tier: ${reason}`, {
          sessionId,
        });
      }
    });
  }

  /**
   * The component's own half of the 55-45-17 handshake, verified by every transition (the request's header is
   * checked by the API): Canon Memory must answer before the runtime is touched, or nothing could be recorded.
   */
  private async requireComponentReady(): Promise<void> {
    if (!(await this.deps.canon.ping().catch(() => false))) throw new ApiError('NOT_READY');
  }

  /**
   * A user's action: on a session this replica knows (it launched it, or last moved it), the owner is checked
   * without a read and the action starts from the state it knows; otherwise the row is read first.
   */
  private async perform(principal: Principal, sessionId: string, action: SessionAction): Promise<Session> {
    const known = this.known.get(sessionId);
    if (known && !visibleTo(principal, known)) throw new ApiError('SESSION_NOT_FOUND');
    const seen = known?.state ?? (await this.owned(principal, sessionId)).session.state;
    return this.act(sessionId, action, principal.userId, seen, principal);
  }

  /**
   * Runs one user or system action under the session's lock, on the current state. `seen` is the state the
   * caller last knew: a pause or termination starts from it without reading the row, since its first move is
   * a compare-and-set on that state and everything after uses the row the move returns (the current desktop,
   * even if a tier change replaced it meanwhile). If the state moved, the row is read again (and, for a
   * `viewer`, its owner checked again) and the action decided on it. A resume always reads again: its
   * admission prices the tier, which a tier change moves without changing the state.
   */
  private act(
    sessionId: string,
    action: SessionAction,
    actor: string,
    seen?: SessionState,
    viewer?: Principal,
  ): Promise<Session> {
    return this.locked(sessionId, async () => {
      const rule = ACTIONS[action];
      let fromState = action === 'resume' ? undefined : seen;
      let started = fromState && (await this.start(sessionId, fromState, action, actor, false));
      if (!fromState || !started) {
        const row = await this.deps.canon.getSession(sessionId);
        if (!row || (viewer && !visibleTo(viewer, row.session))) throw new ApiError('SESSION_NOT_FOUND');
        this.known.remember(row.session);
        fromState = row.session.state;
        const admit = action === 'resume' ? () => this.deps.gate?.admitResume(row) : undefined;
        started = (await this.start(sessionId, fromState, action, actor, true, admit)) as SessionRow;
      }
      const result = await this.runAction(action, started, actor, fromState);
      // A resumed session starts a fresh idle period, or the idle timeout would pause it again at once.
      if (action === 'resume') await this.deps.canon.touchActivity(sessionId, this.clock());
      this.deps.logger.info({ sessionId, actor, action }, `Session ${rule.to}`);
      return result.session;
    });
  }

  /**
   * The action's first move (e.g. active → pausing) from `state`, after the component's checks and `admit`
   * (a resume's billing admission). With `strict`, a state the action cannot start from is an error; without,
   * undefined (the caller reads again).
   */
  private async start(
    sessionId: string,
    state: SessionState,
    action: SessionAction,
    actor: string,
    strict: boolean,
    admit?: () => Promise<void> | undefined,
  ): Promise<SessionRow | undefined> {
    const rule = ACTIONS[action];
    if (!(rule.from as readonly SessionState[]).includes(state)) {
      if (!strict) return undefined;
      throw new ApiError('ILLEGAL_TRANSITION', `A ${state} session cannot ${action}.`, { state });
    }
    await this.requireComponentReady();
    await admit?.();
    try {
      return await this.move(sessionId, [state], rule.via, `${action}.started`, actor, FIRST_MOVE);
    } catch (error) {
      if (!strict && error instanceof ApiError && error.code === 'ILLEGAL_TRANSITION') return undefined;
      throw error;
    }
  }

  private async locked<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.deps.locks.withLock(sessionId, fn);
    } catch (error) {
      if (error instanceof LockHeldError) throw new ApiError('TRANSITION_IN_PROGRESS');
      throw error;
    }
  }

  /** The rest of an action, from `started` (the row its first move returned). */
  private async runAction(
    action: SessionAction,
    started: SessionRow,
    actor: string,
    fromState: SessionState,
  ): Promise<SessionRow> {
    const rule = ACTIONS[action];
    const deadline = this.deps.policy.transitionTimeoutMs;
    const { sessionId } = started.session;
    const handle = started.runtime;
    try {
      if (action === 'terminate') return await this.finishTermination(started, actor, fromState);
      if (!handle) throw new Error('the session has no desktop');
      const moved = await withTimeout(this.runtimeStep(action, handle, fromState), deadline, action);
      // Resuming a hibernated desktop brings it back in a new place (e.g. a new pod): record where.
      return await this.move(sessionId, [rule.via], rule.to, `${action}.completed`, actor, {
        ...(moved ? { runtime: moved } : {}),
      });
    } catch (error) {
      const reason = reasonOf(error);
      if (action === 'resume' && fromState === 'hibernated' && handle) {
        // Nothing ran yet and the disk is still there: the session stays hibernated, nothing is lost.
        await this.move(sessionId, [rule.via], 'hibernated', 'resume.failed', SYSTEM_ACTOR);
        throw new ApiError('RUNTIME_FAILED', `The session could not resume: ${reason}`, { sessionId });
      }
      // The desktop is not in the state we asked for: end the session rather than leave it half-changed.
      if (handle) await withTimeout(this.deps.runtime.stop(handle), deadline, 'stop').catch(() => undefined);
      await this.move(sessionId, [rule.via], 'failed', `${action}.failed`, SYSTEM_ACTOR, {
        failureReason: reason,
        runtime: null,
      });
      throw new ApiError('RUNTIME_FAILED', `The session could not ${action}: ${reason}`, { sessionId });
    }
  }

  /**
   * The runtime's part of pause or resume. A hibernated desktop (or one whose processes vanished while its
   * disk stayed) is woken in a new place; the handle that says where is returned to be recorded.
   */
  private async runtimeStep(
    action: 'pause' | 'resume',
    handle: RuntimeHandle,
    fromState: SessionState,
  ): Promise<RuntimeHandle | undefined> {
    const { runtime } = this.deps;
    if (action === 'pause') {
      await runtime.pause(handle);
      return undefined;
    }
    if (runtime.wake && (fromState === 'hibernated' || (await runtime.status(handle)) === 'hibernated')) {
      return runtime.wake(handle);
    }
    await runtime.resume(handle);
    return undefined;
  }

  /**
   * Stops the desktop of a session now terminating (`row`) and ends it. `fromState` is the state the
   * termination started from, undefined where it is not known (reconciliation after a restart).
   */
  private async finishTermination(
    row: SessionRow,
    actor: string,
    fromState: SessionState | undefined,
  ): Promise<SessionRow> {
    const { sessionId } = row.session;
    if (row.runtime)
      await withTimeout(
        this.deps.runtime.stop(row.runtime),
        this.deps.policy.transitionTimeoutMs,
        'termination',
      );
    // A session that failed after it ran got its usage record then; ending it later writes no second one.
    // Only a failed session can have one: usage is written when a session fails or terminates.
    const recorded =
      (fromState === undefined || fromState === 'failed') && (await this.deps.canon.getUsage(sessionId));
    const usage = recorded ? undefined : await this.usageFor(row, this.clock());
    return this.move(sessionId, ['terminating'], 'terminated', 'termination.completed', actor, {
      runtime: null,
      ...(usage ? { usage } : {}),
    });
  }

  /**
   * The usage record of a session moving to `failed` at `end`: written with that transition when the session
   * had billed time (it was Active) and has no record yet — the same record Termination writes. A session that
   * never ran gets none. If it cannot be computed the session fails all the same (a session must not stay in
   * a transition for want of a record); billing's reconciliation then reports the missing record.
   */
  private async failureUsage(sessionId: string, end: Date): Promise<UsageRecord | undefined> {
    try {
      const row = await this.deps.canon.getSession(sessionId);
      if (!row || (await this.deps.canon.getUsage(sessionId))) return undefined;
      const records = await this.deps.canon.listRecords(sessionId);
      if (meterSession(records, end).startTime === undefined) return undefined;
      return await this.usageFor(row, end, records);
    } catch (err) {
      this.deps.logger.error({ sessionId, err }, 'could not compute the usage of a failed session');
      return undefined;
    }
  }

  private async usageFor(row: SessionRow, end: Date, known?: readonly CanonRecord[]): Promise<UsageRecord> {
    const reading = known ?? this.deps.canon.listRecords(row.session.sessionId);
    // Billing prices the records while they are read: one wait, not two, before a termination is written.
    const [records, cost] = await Promise.all([
      reading,
      this.deps.gate?.usageCost(row, reading, end) ??
        Promise.resolve(reading).then((r) => {
          const tier = findTier(row.session.tier);
          return tier ? priceAtListRates(r, tier, end) : 0;
        }),
    ]);
    // Resources are metered per interval at the tier in force; the current ones stand in for older records.
    const metered = meterSession(records, end, row.session.resources);
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
        cpuMillicoreSeconds: Math.round(metered.cpuMillicoreMs / 1000),
        memoryMiBSeconds: Math.round(metered.memoryMiBMs / 1000),
      },
      cost,
      canonRecord: true,
    };
  }

  streamTarget(principal: Principal, sessionId: string): Promise<StreamTarget> {
    return this.access.streamTarget(principal, sessionId);
  }

  sharedStreamTarget(tenantId: string, sessionId: string): Promise<StreamTarget> {
    return this.access.sharedStreamTarget(tenantId, sessionId);
  }

  recordActivity(sessionId: string): void {
    this.access.recordActivity(sessionId);
  }

  /**
   * Idle timeout (active without input → paused) and maximum length (→ terminated), from the tier's policy
   * and the user's preference; and sessions stuck in a transitional state (their holder died — e.g. a replica
   * whose lock was still valid when the others reconciled at start-up) are reconciled as at start-up. Reads
   * only Canon Memory, so it holds after a restart too.
   */
  async enforceTimeouts(idleMinutesFor: (row: SessionRow) => Promise<number>): Promise<void> {
    const now = this.clock().getTime();
    for (const row of await this.deps.canon.listUnfinished()) {
      const { sessionId, state } = row.session;
      const tier = findTier(row.session.tier);
      try {
        if (TRANSITIONAL_STATES.includes(state)) {
          if (this.isStale(row, now)) await this.settleStuck(sessionId);
          continue;
        }
        if (!tier) continue;
        const maxMinutes =
          this.deps.policy.tierTimeouts?.[tier.id]?.maxSessionMinutes ?? tier.maxSessionMinutes;
        if (
          now - Date.parse(row.session.createdAt) > maxMinutes * 60_000 &&
          (ACTIONS.terminate.from as readonly SessionState[]).includes(state)
        ) {
          await this.act(sessionId, 'terminate', 'system:max-session-length');
        } else if (state === 'active') {
          const idleMs = (await idleMinutesFor(row)) * 60_000;
          if (now - Date.parse(row.lastActivityAt) > idleMs)
            await this.act(sessionId, 'pause', 'system:idle-timeout');
        } else if (
          state === 'paused' &&
          this.deps.runtime.hibernateAfterMs !== undefined &&
          now - Date.parse(row.session.canonTimestamp) > this.deps.runtime.hibernateAfterMs
        ) {
          await this.hibernate(sessionId, 'system:hibernate-after');
        }
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'TRANSITION_IN_PROGRESS')) {
          this.deps.logger.warn({ sessionId, err: error }, 'timeout enforcement failed');
        }
      }
    }
  }

  /** Older than any live transition can be: a transition's deadline plus the time a dead holder's lock lasts. */
  private isStale(row: SessionRow, now: number): boolean {
    const staleAfterMs = this.deps.policy.transitionTimeoutMs + (this.deps.lockTtlMs ?? 0);
    return now - Date.parse(row.session.canonTimestamp) > staleAfterMs;
  }

  /**
   * Reconciles one session stuck in a transitional state, under its lock (a lock still held means a holder
   * is at work, or a dead one's lock has not expired yet: TRANSITION_IN_PROGRESS, tried again next pass).
   */
  private settleStuck(sessionId: string): Promise<void> {
    return this.locked(sessionId, async () => {
      const row = await this.deps.canon.getSession(sessionId);
      if (!row || !TRANSITIONAL_STATES.includes(row.session.state)) return;
      if (!this.isStale(row, this.clock().getTime())) return;
      this.deps.logger.warn(
        { sessionId, state: row.session.state, since: row.session.canonTimestamp },
        'reconciling a session stuck in a transitional state',
      );
      await this.reconcileOne(row);
    });
  }

  /**
   * Ends a paused desktop's processes and keeps its disk (runtimes that can, e.g. a pod deleted with its PVC
   * kept); the session becomes `hibernated` only once the runtime has done it.
   */
  private hibernate(sessionId: string, actor: string): Promise<void> {
    return this.locked(sessionId, async () => {
      const row = await this.deps.canon.getSession(sessionId);
      const from = SYSTEM_TRANSITIONS.hibernate.from as readonly SessionState[];
      if (!row?.runtime || !from.includes(row.session.state) || !this.deps.runtime.hibernate) return;
      const handle = await withTimeout(
        this.deps.runtime.hibernate(row.runtime),
        this.deps.policy.transitionTimeoutMs,
        'hibernation',
      );
      await this.move(sessionId, from, SYSTEM_TRANSITIONS.hibernate.to, 'hibernate.completed', actor, {
        runtime: handle,
      });
      this.deps.logger.info({ sessionId, actor }, 'Session hibernated');
    });
  }

  /**
   * A desktop that stopped answering while active (the watchdog's call): `restarting` while the runtime starts
   * it again on its kept disk, up to `attempts` tries with doubling backoff, then `active` on the new desktop —
   * or `failed` with the reason once every try failed. Holds the session's lock throughout.
   */
  restartStuck(
    sessionId: string,
    why: string,
    actor: string,
    retry: { attempts: number; backoffMs: number },
  ): Promise<Session> {
    return this.locked(sessionId, async () => {
      const row = await this.deps.canon.getSession(sessionId);
      if (!row) throw new ApiError('SESSION_NOT_FOUND');
      const restart = this.deps.runtime.restart?.bind(this.deps.runtime);
      if (
        !restart ||
        !row.runtime ||
        !(RESTART.from as readonly SessionState[]).includes(row.session.state)
      ) {
        throw new ApiError('ILLEGAL_TRANSITION', `A ${row.session.state} session cannot be restarted.`, {
          state: row.session.state,
        });
      }
      const handle = row.runtime;
      const { session } = row;
      await this.move(sessionId, RESTART.from, RESTART.via, 'restart.started', actor);
      this.deps.logger.warn({ sessionId, reason: why }, 'restarting a stuck desktop');
      let last = '';
      for (let attempt = 1; attempt <= retry.attempts; attempt++) {
        try {
          const moved = await withTimeout(
            restart(sessionId, handle, session.resources, {
              tier: session.tier,
              tenantId: session.tenantId,
              userId: session.userId,
            }),
            this.deps.policy.transitionTimeoutMs,
            'restart',
          );
          const done = await this.move(sessionId, [RESTART.via], RESTART.to, 'restart.completed', actor, {
            runtime: moved,
          });
          await this.deps.canon.touchActivity(sessionId, this.clock());
          this.deps.logger.info({ sessionId, attempt }, 'stuck desktop restarted');
          return done.session;
        } catch (error) {
          last = reasonOf(error);
          this.deps.logger.warn({ sessionId, attempt, reason: last }, 'desktop restart attempt failed');
          if (attempt < retry.attempts)
            await new Promise((r) => setTimeout(r, retry.backoffMs * 2 ** (attempt - 1)));
        }
      }
      await withTimeout(this.deps.runtime.stop(handle), this.deps.policy.transitionTimeoutMs, 'stop').catch(
        () => undefined,
      );
      const failureReason =
        retry.attempts > 0
          ? `the desktop stopped answering (${why}) and ${retry.attempts} restart attempts failed: ${last}`
          : `the desktop stopped answering (${why})`;
      await this.move(sessionId, [RESTART.via], 'failed', 'restart.failed', SYSTEM_ACTOR, {
        failureReason,
        runtime: null,
      });
      throw new ApiError('RUNTIME_FAILED', `The session could not be restarted: ${failureReason}`, {
        sessionId,
      });
    });
  }

  private async move(
    sessionId: string,
    from: readonly SessionState[],
    to: SessionState,
    action: string,
    actor: string,
    extra: {
      runtime?: RuntimeHandle | null;
      failureReason?: string;
      usage?: UsageRecord;
      tierChange?: TransitionRequest['tierChange'];
      acknowledge?: TransitionRequest['acknowledge'];
    } = {},
  ): Promise<SessionRow> {
    const at = this.clock();
    const usage = extra.usage ?? (to === 'failed' ? await this.failureUsage(sessionId, at) : undefined);
    const row = await this.deps.canon.transition({
      sessionId,
      from,
      to,
      action,
      actor,
      at,
      ...extra,
      ...(usage ? { usage } : {}),
    });
    if (!row) throw new ApiError('ILLEGAL_TRANSITION', `The session could not move to ${to}.`);
    this.known.remember(row.session);
    await this.announce(row.session, from.length === 1 ? (from[0] ?? null) : null);
    return row;
  }

  private async announce(session: Session, previousState: SessionState | null): Promise<void> {
    await this.deps.events
      .publish({ type: 'session.changed', session, previousState })
      .catch((err: unknown) => {
        // A lost notification must not undo a recorded transition; dashboards also re-read on reconnect.
        this.deps.logger.warn({ sessionId: session.sessionId, err }, 'could not publish session change');
      });
  }

  /**
   * After a restart or crash: bring every unfinished session in line with what the runtime really has,
   * so no desktop is orphaned and no session stays in a transitional state.
   */
  async reconcile(): Promise<void> {
    for (const row of await this.deps.canon.listUnfinished()) {
      const { sessionId, state } = row.session;
      try {
        await this.locked(sessionId, async () => {
          // Read again under the lock: another replica may have moved it since the list was read.
          const current = await this.deps.canon.getSession(sessionId);
          if (current && !isFinished(current.session.state)) await this.reconcileOne(current);
        });
      } catch (error) {
        if (error instanceof ApiError && error.code === 'TRANSITION_IN_PROGRESS') {
          // Another replica at work, or a dead one's lock not yet expired: enforceTimeouts settles it later.
          this.deps.logger.info(
            { sessionId, state },
            'session locked at reconcile; left to the periodic pass',
          );
        } else {
          this.deps.logger.error({ sessionId, state, err: error }, 'reconcile failed for session');
        }
      }
    }
    // Desktops no live session accounts for (started by an adapter that died before recording them).
    const keep = new Set(
      (await this.deps.canon.listUnfinished()).filter((r) => r.runtime).map((r) => r.session.sessionId),
    );
    const reclaimed = await this.deps.runtime.reclaimOrphans(keep);
    if (reclaimed.length > 0) this.deps.logger.warn({ sessions: reclaimed }, 'ended orphaned desktops');
  }

  /**
   * Brings one session in line with what the runtime has (running, stopped, gone); every runtime call has the
   * transition deadline. A transitional session that cannot be settled so ends `failed` with the reason, its
   * desktop stopped: it must not stay in a transition. A runtime that cannot say what it has (its API not
   * answering) is no reason to end a session: that error is thrown, and the next pass tries again.
   */
  private async reconcileOne(row: SessionRow): Promise<void> {
    const status = row.runtime ? await this.bounded(this.deps.runtime.status(row.runtime), 'status') : 'gone';
    try {
      await this.settle(row, status);
    } catch (error) {
      const { sessionId, state } = row.session;
      if (!TRANSITIONAL_STATES.includes(state)) throw error;
      // Moved by someone else after all (a holder that lost its lock): theirs stands, nothing is stopped.
      if ((await this.deps.canon.getSession(sessionId))?.session.state !== state) throw error;
      const reason = reasonOf(error);
      if (row.runtime) await this.bounded(this.deps.runtime.stop(row.runtime), 'stop').catch(() => undefined);
      await this.move(sessionId, [state], 'failed', 'reconcile.failed', RECONCILE_ACTOR, {
        failureReason: `the ${state} session could not be settled: ${reason}`,
        runtime: null,
      });
    }
  }

  private bounded<T>(work: Promise<T>, what: string): Promise<T> {
    return withTimeout(work, this.deps.policy.transitionTimeoutMs, what);
  }

  private async settle(row: SessionRow, status: DesktopStatus): Promise<void> {
    const { sessionId, state } = row.session;
    const handle = row.runtime;
    const actor = RECONCILE_ACTOR;
    if (state === 'terminating') {
      await this.finishTermination(row, actor, undefined);
    } else if (status === 'hibernated' && handle && this.deps.runtime.hibernate) {
      // The processes are gone but the disk is kept (hibernated, or the pod vanished): resumable from disk.
      if (state === 'hibernated') return;
      const hibernated = await this.bounded(this.deps.runtime.hibernate(handle), 'hibernation');
      await this.move(sessionId, [state], 'hibernated', 'reconcile.hibernated', actor, {
        runtime: hibernated,
      });
    } else if (status === 'gone' || state === 'requested' || state === 'provisioning') {
      if (handle) await this.bounded(this.deps.runtime.stop(handle), 'stop');
      const failureReason =
        state === 'requested' || state === 'provisioning'
          ? 'the adapter stopped during provisioning'
          : 'the desktop ended while the adapter was down';
      await this.move(sessionId, [state], 'failed', 'reconcile.failed', actor, {
        failureReason,
        runtime: null,
      });
    } else if (state === 'pausing' || state === 'paused') {
      if (status === 'running' && handle) await this.bounded(this.deps.runtime.pause(handle), 'pause');
      if (state === 'pausing') await this.move(sessionId, [state], 'paused', 'reconcile.paused', actor);
    } else if (state === 'resuming' || state === 'restarting' || state === 'active') {
      if (status === 'stopped' && handle) await this.bounded(this.deps.runtime.resume(handle), 'resume');
      if (state !== 'active') await this.move(sessionId, [state], 'active', 'reconcile.active', actor);
    }
  }
}
