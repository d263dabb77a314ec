import { join } from 'node:path';
import type { Logger } from 'pino';
import { AI_ACTOR, AiService } from './ai/ai-service.ts';
import { DesktopWatchdog } from './ai/desktop-watchdog.ts';
import { DEFAULT_REMEDIATION_POLICY } from './ai/remediation.ts';
import { WarmPoolPlanner } from './ai/warm-pool-planner.ts';
import { HttpNexusAi } from './ai/http-nexus-ai.ts';
import { EmbeddedNexusAi, type NexusAi } from './ai/nexus-ai.ts';
import type { Analytics } from './analytics/analytics.ts';
import { SessionAnalytics } from './analytics/session-analytics.ts';
import type { CanonStore } from './canon/canon-store.ts';
import type { AdapterConfig } from './config.ts';
import { ContentService } from './content/content-service.ts';
import type { ContentStore } from './content/content-store.ts';
import { HttpContentStore } from './content/http-content-store.ts';
import { LocalContentStore } from './content/local-content-store.ts';
import { StreamRemediation } from './gateway/stream-remediation.ts';
import type { SessionLifecycle } from './lifecycle/session-lifecycle.ts';
import type { AdapterMetrics } from './observability/prometheus-metrics.ts';
import type { SessionSampler } from './observability/session-sampler.ts';
import type { StreamStats } from './observability/stream-stats.ts';
import type { RuntimeProvider } from './runtime/runtime-provider.ts';
import { PrivacyService, type PersonalDataHolder } from './privacy/privacy-service.ts';

export interface Integrations {
  ai: AiService;
  /** Restarts stuck desktops (AI_REMEDIATION=act and a runtime that can). */
  watchdog?: DesktopWatchdog;
  /** Sizes the warm pool from the launch predictions (a runtime with a pool whose ceiling is above its floor). */
  warmPoolPlanner?: WarmPoolPlanner;
  content: ContentService;
  privacy: PrivacyService;
  sessionAnalytics: SessionAnalytics;
  close(): Promise<void>;
}

/**
 * N.E.X.U.S AI, v-content and privacy, each its embedded default unless configured otherwise, plus the
 * periodic session metrics for v-analytics and the AI's health monitor.
 */
export function startIntegrations(deps: {
  config: AdapterConfig;
  canon: CanonStore;
  lifecycle: SessionLifecycle;
  sampler: SessionSampler;
  analytics: Analytics;
  logger: Logger;
  /** Other holders of personal data for export and erasure (e.g. the wallet). */
  personalDataHolders?: PersonalDataHolder[];
  /** The runtime (stuck-desktop restarts, warm pool), the gateway's streams (stream remediation), metrics. */
  runtime?: RuntimeProvider;
  streams?: StreamStats;
  metrics?: AdapterMetrics;
}): Integrations {
  const { config, canon, lifecycle, sampler, analytics, logger, runtime, metrics } = deps;
  const settings = config.integrations;

  const sessionAnalytics = new SessionAnalytics({
    analytics,
    canon,
    sampler,
    intervalMs: settings.analytics.metricsIntervalMs,
  });
  sessionAnalytics.start();

  const embedded = new EmbeddedNexusAi();
  const nexus: NexusAi = settings.ai.url
    ? new HttpNexusAi(
        {
          url: settings.ai.url,
          token: settings.ai.token,
          timeoutMs: settings.ai.timeoutMs,
          onFallback: (operation, reason) =>
            logger.warn({ operation, reason }, 'N.E.X.U.S AI unavailable; the embedded model answered'),
        },
        embedded,
      )
    : embedded;
  const ai = new AiService({
    ai: nexus,
    canon,
    sampler,
    lifecycle,
    analytics,
    logger,
    mode: settings.ai.remediation,
    streamEffects: deps.streams
      ? new StreamRemediation(deps.streams, { stallMs: DEFAULT_REMEDIATION_POLICY.stallSeconds * 1000 })
      : undefined,
    metrics,
  });
  ai.start(settings.ai.monitorIntervalMs);

  const watchdog =
    settings.ai.remediation === 'act' && runtime?.liveness && runtime.restart
      ? new DesktopWatchdog({
          canon,
          runtime,
          lifecycle,
          logger,
          analytics,
          metrics,
          actor: AI_ACTOR,
          policy: {
            failuresBeforeRestart: settings.ai.watchdogFailures,
            attempts: settings.ai.restartAttempts,
            backoffMs: settings.ai.restartBackoffMs,
          },
        })
      : undefined;
  watchdog?.start(settings.ai.watchdogIntervalMs);

  const pool = runtime?.warmPool;
  const warmPoolPlanner =
    pool && Object.values(pool.warmPoolBounds()).some((b) => b.ceiling > b.floor)
      ? new WarmPoolPlanner({
          launches: (since) => canon.listLaunchesSince(since),
          pool,
          logger,
          options: { leadMs: config.kubernetes.warmPoolLeadMs },
          onPlan: (targets) => {
            for (const [tier, n] of Object.entries(targets)) metrics?.warmPoolTarget.set({ tier }, n);
          },
        })
      : undefined;
  warmPoolPlanner?.start(config.kubernetes.warmPoolForecastIntervalMs);

  const store: ContentStore = settings.content.url
    ? new HttpContentStore({
        url: settings.content.url,
        token: settings.content.token,
        timeoutMs: settings.content.timeoutMs,
      })
    : new LocalContentStore(join(config.dataDir, 'content'));
  const content = new ContentService({
    store,
    canon,
    sessionsRoot: join(config.dataDir, 'sessions'),
    stagingDir: join(config.dataDir, 'content-staging'),
    maxFileBytes: settings.content.maxFileBytes,
    analytics,
  });

  const privacy = new PrivacyService({
    canon,
    lifecycle,
    content: store,
    analytics,
    holders: deps.personalDataHolders,
    logger,
  });

  return {
    ai,
    watchdog,
    warmPoolPlanner,
    content,
    privacy,
    sessionAnalytics,
    async close() {
      ai.stop();
      watchdog?.stop();
      warmPoolPlanner?.stop();
      sessionAnalytics.stop();
    },
  };
}
