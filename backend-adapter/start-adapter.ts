import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import type { Analytics } from './analytics/analytics.ts';
import { FileAnalytics } from './analytics/file-analytics.ts';
import { buildApp } from './app.ts';
import { JwksAuthenticator } from './auth/jwks-authenticator.ts';
import { LocalIssuer } from './auth/local-issuer.ts';
import type { Authenticator } from './auth/principal.ts';
import type { CanonStore } from './canon/canon-store.ts';
import { PostgresCanonStore } from './canon/postgres-canon-store.ts';
import { SqliteCanonStore } from './canon/sqlite-canon-store.ts';
import type { AdapterConfig } from './config.ts';
import { InProcessSessionEventBus } from './events/in-process-session-event-bus.ts';
import { RedisSessionEventBus } from './events/redis-session-event-bus.ts';
import type { SessionEventBus } from './events/session-event-bus.ts';
import { SessionLifecycle } from './lifecycle/session-lifecycle.ts';
import { InProcessSessionLocks } from './locks/in-process-session-locks.ts';
import { RedisSessionLocks } from './locks/redis-session-locks.ts';
import type { SessionLocks } from './locks/session-locks.ts';
import { createLogger } from './logging/logger.ts';
import { AdapterMetrics } from './observability/prometheus-metrics.ts';
import { SessionSampler } from './observability/session-sampler.ts';
import { StreamStats } from './observability/stream-stats.ts';
import { LocalDesktopRuntime } from './runtime/local/local-desktop-runtime.ts';
import type { RuntimeProvider } from './runtime/runtime-provider.ts';
import { DEFAULT_PREFERENCES } from '../protocol/preferences-defaults.ts';
import type { Preferences } from '../protocol/preferences.ts';
import { findTier } from './tiers/tier-catalogue.ts';

export interface RunningAdapter {
  url: string;
  port: number;
  canon: CanonStore;
  lifecycle: SessionLifecycle;
  /** The embedded issuer; absent when tokens are verified against v-auth's JWKS. */
  issuer: LocalIssuer | undefined;
  sampler: SessionSampler;
  analytics: Analytics;
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

    let events: SessionEventBus = new InProcessSessionEventBus();
    let locks: SessionLocks = new InProcessSessionLocks();
    let redisPing: (() => Promise<boolean>) | undefined;
    if (config.redis) {
      const redisEvents = await RedisSessionEventBus.connect(config.redis.url, {
        prefix: config.redis.prefix,
      });
      const redisLocks = await RedisSessionLocks.connect(config.redis.url, {
        prefix: config.redis.prefix,
        ttlMs: config.policy.transitionTimeoutMs * 2,
      });
      events = redisEvents;
      locks = redisLocks;
      redisPing = () => redisEvents.ping();
    }
    closers.push(
      () => events.close(),
      () => locks.close(),
    );

    const issuer = config.auth.jwks ? undefined : await LocalIssuer.open(config.auth.keyFile);
    const auth: Authenticator = config.auth.jwks
      ? new JwksAuthenticator(config.auth.jwks)
      : (issuer as LocalIssuer);
    const runtime = options.runtime ?? new LocalDesktopRuntime(config.runtime, join(config.dataDir, 'sessions'));
    const lifecycle = new SessionLifecycle({ canon, runtime, events, locks, policy: config.policy, logger });
    await lifecycle.reconcile();

    const metrics = new AdapterMetrics(canon);
    closers.push(async () => metrics.registry.clear());
    events.subscribe((e) => metrics.sessionTransitions.inc({ to: e.session.state }));
    const streams = new StreamStats();
    const sampler = new SessionSampler({ canon, runtime, streams, logger });
    sampler.start();
    closers.push(async () => sampler.stop());
    const analytics = new FileAnalytics(join(config.dataDir, 'analytics', 'events.jsonl'));
    closers.push(() => analytics.flush());
    sampler.onSample((s) => {
      if (s.streamLatencyMs !== null) metrics.streamLatency.observe(s.streamLatencyMs);
    });

    // Idle timeout: the user's preference, never above the tier's bound.
    const idleMinutesFor = async (row: Parameters<Parameters<SessionLifecycle['enforceTimeouts']>[0]>[0]) => {
      const tierBound =
        findTier(row.session.tier)?.idleTimeoutMinutes ?? DEFAULT_PREFERENCES.idleTimeoutMinutes;
      const prefs = await canon.getPreferences(row.session);
      const chosen = (prefs?.preferences as Partial<Preferences> | undefined)?.idleTimeoutMinutes;
      return Math.min(typeof chosen === 'number' ? chosen : tierBound, tierBound);
    };
    const timeouts = setInterval(
      () => void lifecycle.enforceTimeouts(idleMinutesFor),
      config.timeoutCheckIntervalMs,
    );
    timeouts.unref();
    closers.push(async () => clearInterval(timeouts));

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
      redisPing,
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
