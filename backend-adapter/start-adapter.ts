import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import type { Analytics } from './analytics/analytics.ts';
import { tapPublishes, trackLifecycle } from './analytics/session-analytics.ts';
import { buildApp } from './app.ts';
import { CachedAuthenticator } from './auth/cached-authenticator.ts';
import { JwksAuthenticator } from './auth/jwks-authenticator.ts';
import { LocalIssuer } from './auth/local-issuer.ts';
import type { Authenticator } from './auth/principal.ts';
import { openBilling, type Billing } from './billing/start-billing.ts';
import type { CanonStore } from './canon/canon-store.ts';
import { PostgresCanonStore } from './canon/postgres-canon-store.ts';
import { SqliteCanonStore } from './canon/sqlite-canon-store.ts';
import type { AdapterConfig } from './config.ts';
import { InProcessSessionEventBus } from './events/in-process-session-event-bus.ts';
import { RedisSessionEventBus } from './events/redis-session-event-bus.ts';
import type { SessionEventBus } from './events/session-event-bus.ts';
import { RedisWorkspaceEventBus } from './events/redis-workspace-event-bus.ts';
import { InProcessWorkspaceEventBus, type WorkspaceEventBus } from './events/workspace-event-bus.ts';
import { WorkspaceService } from './workspaces/workspace-service.ts';
import { WorkspaceViewers } from './workspaces/workspace-viewers.ts';
import { SessionLifecycle } from './lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from './locks/in-process-session-locks.ts';
import { RedisSessionLocks } from './locks/redis-session-locks.ts';
import type { SessionLocks } from './locks/session-locks.ts';
import { createLogger } from './logging/logger.ts';
import { AdapterMetrics } from './observability/prometheus-metrics.ts';
import { SessionSampler } from './observability/session-sampler.ts';
import { StreamStats } from './observability/stream-stats.ts';
import { KubernetesRuntime } from './runtime/kubernetes/kubernetes-runtime.ts';
import { LocalDesktopRuntime } from './runtime/local/local-desktop-runtime.ts';
import type { RuntimeProvider } from './runtime/runtime-provider.ts';
import { TimeoutEnforcer } from './timeouts/timeout-enforcer.ts';
import { openAnalytics, startIntegrations, type Integrations } from './integrations.ts';

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
    const canon: CanonStore = config.canonDatabaseUrl
      ? await PostgresCanonStore.open(config.canonDatabaseUrl)
      : new SqliteCanonStore(join(config.dataDir, 'canon.sqlite'));
    closers.push(() => canon.close());
    const billing = await openBilling({
      config: config.billing,
      canon,
      canonDatabaseUrl: config.canonDatabaseUrl,
      dataDir: config.dataDir,
      logger,
    });
    closers.push(() => billing.close());

    let events: SessionEventBus = new InProcessSessionEventBus();
    let workspaceEvents: WorkspaceEventBus = new InProcessWorkspaceEventBus();
    let locks: SessionLocks = new InProcessSessionLocks();
    // How long a crashed replica's Redis lock outlives it (in-process locks die with their process).
    let lockTtlMs = 0;
    let redisPing: (() => Promise<boolean>) | undefined;
    if (config.redis) {
      lockTtlMs = config.policy.transitionTimeoutMs * 2;
      const redisEvents = await RedisSessionEventBus.connect(config.redis.url, {
        prefix: config.redis.prefix,
      });
      const redisLocks = await RedisSessionLocks.connect(config.redis.url, {
        prefix: config.redis.prefix,
        ttlMs: lockTtlMs,
        // The transition goes on: Canon Memory's compare-and-set refuses it if another replica moved first.
        onLockLost: (sessionId) =>
          logger.warn(
            { sessionId },
            'lost the session lock during a transition (Redis away or the lock expired)',
          ),
      });
      events = redisEvents;
      locks = redisLocks;
      try {
        workspaceEvents = await RedisWorkspaceEventBus.connect(config.redis.url, {
          prefix: config.redis.prefix,
        });
      } catch (error) {
        await Promise.allSettled([redisEvents.close(), redisLocks.close()]);
        throw error;
      }
      redisPing = () => redisEvents.ping();
    }
    closers.push(
      () => events.close(),
      () => locks.close(),
      () => workspaceEvents.close(),
    );

    const issuer = config.auth.jwks ? undefined : await LocalIssuer.open(config.auth.keyFile);
    // Verified tokens are remembered for a minute (expiry still checked on every call): see CachedAuthenticator.
    const auth: Authenticator = new CachedAuthenticator(
      config.auth.jwks ? new JwksAuthenticator(config.auth.jwks) : (issuer as LocalIssuer),
    );
    const metrics = new AdapterMetrics(canon);
    closers.push(async () => metrics.registry.clear());
    billing.useMetrics(metrics.billing);
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
    const streams = new StreamStats();
    metrics.countStreams(streams);
    const sampler = new SessionSampler({ canon, runtime, streams, logger });
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
      streams,
      metrics,
    });
    closers.push(() => integrations.close());
    billing.start(lifecycle, events, analytics);
    sampler.onSample((s) => {
      if (s.streamLatencyMs !== null) metrics.streamLatency.observe(s.streamLatencyMs);
      const quality = sampler.streamQualityOf(s.sessionId);
      if (quality === null) metrics.streamQuality.remove({ session: s.sessionId });
      else metrics.streamQuality.set({ session: s.sessionId }, quality);
    });

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
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      url: `http://${host}:${port}`,
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

/** Closes in reverse order of opening; every closer runs even if one fails. */
async function closeAll(closers: Array<() => Promise<void>>): Promise<void> {
  for (const close of closers.reverse()) await close().catch(() => undefined);
}
