import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import type { Analytics } from './analytics/analytics.ts';
import { tapPublishes, trackLifecycle } from './analytics/session-analytics.ts';
import { buildApp } from './app.ts';
import type { LocalIssuer } from './auth/local-issuer.ts';
import { openBilling, type Billing } from './billing/start-billing.ts';
import type { CanonStore } from './canon/canon-store.ts';
import type { AdapterConfig } from './config.ts';
import { WorkspaceService } from './workspaces/workspace-service.ts';
import { WorkspaceViewers } from './workspaces/workspace-viewers.ts';
import { SessionLifecycle } from './lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from './locks/in-process-session-locks.ts';
import { RedisSessionLocks } from './locks/redis-session-locks.ts';
import type { SessionLocks } from './locks/session-locks.ts';
import { createLogger } from './logging/logger.ts';
import { AdapterMetrics } from './observability/prometheus-metrics.ts';
import { SessionSampler } from './observability/session-sampler.ts';
import { canonPool } from './observability/postgres-pool-metrics.ts';
import { observeStreams } from './observability/observe-streams.ts';
import { KubernetesRuntime } from './runtime/kubernetes/kubernetes-runtime.ts';
import { LocalDesktopRuntime } from './runtime/local/local-desktop-runtime.ts';
import type { RuntimeProvider } from './runtime/runtime-provider.ts';
import { TimeoutEnforcer } from './timeouts/timeout-enforcer.ts';
import { openAnalytics } from './analytics/open-analytics.ts';
import { startIntegrations, type Integrations } from './integrations.ts';
import { openAuth, openCanon, openEventBuses } from './open-shared-state.ts';
import { PostgresCanonStore } from './canon/postgres-canon-store.ts';
import { closeAll, listen } from './serving.ts';

export interface RunningAdapter {
  url: string;
  port: number;
  canon: CanonStore;
  lifecycle: SessionLifecycle;
  /** The embedded issuer; absent when tokens are verified against v-auth's JWKS. */
  issuer: LocalIssuer | undefined;
  sampler: SessionSampler;
  analytics: Analytics;
  /** N.E.X.U.S AI, v-content, privacy. */
  integrations: Integrations;
  /** NexCoin billing, tenant and phase governance. */
  billing: Billing;
  /** The idle and maximum-length timeout pass (its last run is the 45 "Session timeout enforcement" check). */
  timeouts: TimeoutEnforcer;
  /** Stops serving. Desktops keep running: sessions survive a restart and are reconciled at the next start. */
  close(): Promise<void>;
}

/**
 * Wires the adapters the configuration asks for — embedded defaults (SQLite Canon Memory, local issuer,
 * in-process events and locks) or shared ones (PostgreSQL, Redis, v-auth JWKS) — and starts listening.
 */
export async function startAdapter(
  config: AdapterConfig,
  options: {
    logDestination?: DestinationStream;
    /** Replaces the local desktop runtime (benchmarks of the orchestrator alone use one that starts nothing). */
    runtime?: RuntimeProvider;
  } = {},
): Promise<RunningAdapter> {
  const logger = createLogger({
    service: 'orchestrator',
    level: config.logLevel,
    destination: options.logDestination,
  });
  const closers: Array<() => Promise<void>> = [];
  try {
    const canon = await openCanon(config);
    closers.push(() => canon.close());
    if (canon instanceof PostgresCanonStore) {
      for (const warning of await canon.maintenanceWarnings()) logger.warn(warning);
    }
    const billing = await openBilling({
      config: config.billing,
      canon,
      canonDatabaseUrl: config.canonDatabaseUrl,
      dataDir: config.dataDir,
      logger,
    });
    closers.push(() => billing.close());

    const buses = await openEventBuses(config);
    closers.push(() => buses.close());
    const { events, workspaceEvents, redisPing } = buses;
    let locks: SessionLocks = new InProcessSessionLocks();
    // How long a crashed replica's Redis lock outlives it (in-process locks die with their process).
    let lockTtlMs = 0;
    if (config.redis) {
      lockTtlMs = config.policy.transitionTimeoutMs * 2;
      locks = await RedisSessionLocks.connect(config.redis.url, {
        prefix: config.redis.prefix,
        ttlMs: lockTtlMs,
        // The transition goes on: Canon Memory's compare-and-set refuses it if another replica moved first.
        onLockLost: (sessionId) =>
          logger.warn(
            { sessionId },
            'lost the session lock during a transition (Redis away or the lock expired)',
          ),
      });
    }
    closers.push(() => locks.close());

    const { auth, issuer } = await openAuth(config);
    const metrics = new AdapterMetrics(canon);
    closers.push(async () => metrics.registry.clear());
    billing.useMetrics(metrics.billing);
    metrics.countPools(() => [...canonPool(canon), ...billing.connectionPools()]);
    // v-analytics before the lifecycle, which reports each state change it makes (exactly once per change).
    const analytics = openAnalytics(config, metrics);
    closers.push(() => analytics.flush());

    let runtime = options.runtime;
    if (!runtime && config.runtimeKind === 'kubernetes') {
      const kubernetes = await KubernetesRuntime.open(config.kubernetes, logger);
      closers.push(() => kubernetes.close());
      runtime = kubernetes;
    }
    runtime ??= new LocalDesktopRuntime(config.runtime, join(config.dataDir, 'sessions'));
    const lifecycle = new SessionLifecycle({
      canon,
      runtime,
      events: tapPublishes(events, (e) => trackLifecycle(analytics, e)),
      locks,
      policy: config.policy,
      logger,
      gate: billing.gate,
      lockTtlMs,
    });
    await lifecycle.reconcile();

    events.subscribe((e) => metrics.sessionTransitions.inc({ to: e.session.state }));
    // With Redis the viewers may be on other replicas (or the gateways): samples read every replica's streams.
    const observed = observeStreams({
      metrics,
      servesStreams: config.role !== 'orchestrator',
      channel: buses.streamTotals,
    });
    closers.push(async () => observed.stop());
    const { streams } = observed;
    const sampler = new SessionSampler({ canon, runtime, streams: observed.totals, logger });
    sampler.start();
    closers.push(async () => sampler.stop());
    const integrations = startIntegrations({
      config,
      canon,
      lifecycle,
      sampler,
      analytics,
      logger,
      personalDataHolders: [billing.privacy],
      runtime,
      // The stream actions are the gateways' (StreamHealthMonitor): here they stay recommendations.
      streams: config.role === 'orchestrator' ? undefined : streams,
      metrics,
    });
    closers.push(() => integrations.close());
    billing.start(lifecycle, events, analytics);

    // Idle timeout and maximum length per tier (configured), the user's idle preference within the tier's bound.
    // The same pass settles sessions stuck in a transition (e.g. left by a replica that crashed holding its lock).
    const timeouts = new TimeoutEnforcer({
      lifecycle,
      canon,
      tierTimeouts: config.policy.tierTimeouts,
      intervalMs: config.timeoutCheckIntervalMs,
      logger,
    });
    timeouts.start();
    closers.push(async () => timeouts.stop());

    // Collaborative workspaces: every replica re-gates or closes its own viewers on every change.
    const workspaceViewers = new WorkspaceViewers();
    const workspaces = {
      service: new WorkspaceService({ canon, access: lifecycle, events: workspaceEvents, logger }),
      viewers: workspaceViewers,
    };
    workspaceEvents.subscribe((e) => workspaceViewers.apply(e.workspace));

    const app = await buildApp({
      config,
      logger,
      canon,
      runtime,
      lifecycle,
      auth,
      issuer,
      events,
      sampler,
      streams,
      metrics,
      analytics,
      integrations,
      redisPing,
      billing,
      workspaces,
      timeouts,
    });
    closers.push(() => app.close());
    const { url, port } = await listen(app, config);
    return {
      url,
      port,
      canon,
      lifecycle,
      issuer,
      sampler,
      analytics,
      integrations,
      billing,
      timeouts,
      close: () => closeAll(closers),
    };
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
}
