import type { DestinationStream } from 'pino';
import type { CanonStore } from './canon/canon-store.ts';
import type { AdapterConfig } from './config.ts';
import { DEFAULT_REMEDIATION_POLICY } from './ai/remediation.ts';
import { StreamHealthMonitor } from './ai/stream-health-monitor.ts';
import { StreamRemediation } from './gateway/stream-remediation.ts';
import { openAnalytics } from './analytics/open-analytics.ts';
import { SessionAccess } from './lifecycle/session-access.ts';
import { createLogger } from './logging/logger.ts';
import { GatewayMetrics } from './observability/gateway-metrics.ts';
import { canonPool } from './observability/postgres-pool-metrics.ts';
import { observeStreams } from './observability/observe-streams.ts';
import type { StreamSampler } from './observability/stream-sampler.ts';
import { openAuth, openCanon, openEventBuses } from './open-shared-state.ts';
import { closeAll, listen } from './serving.ts';
import { buildStreamGatewayApp } from './stream-gateway-app.ts';
import { WorkspaceService } from './workspaces/workspace-service.ts';
import { WorkspaceViewers } from './workspaces/workspace-viewers.ts';

export interface RunningStreamGateway {
  url: string;
  port: number;
  canon: CanonStore;
  sampler: StreamSampler;
  /** N.E.X.U.S AI's stream remediation on this gateway's viewers (AI_REMEDIATION, AI_MONITOR_INTERVAL_MS). */
  monitor: StreamHealthMonitor;
  /** Stops serving; the streams open now are closed. */
  close(): Promise<void>;
}

/**
 * The stream gateway role (ADAPTER_ROLE=stream-gateway): bridges viewers to the desktops Canon Memory says
 * are running, grabs thumbnails, and lowers the quality of or reconnects the streams N.E.X.U.S AI's rules
 * find slow or stalled. It opens no runtime, locks nor billing: it never starts, stops or reconciles a
 * desktop, so it needs no Kubernetes access, only Canon Memory and (with several replicas) Redis.
 */
export async function startStreamGateway(
  config: AdapterConfig,
  options: { logDestination?: DestinationStream } = {},
): Promise<RunningStreamGateway> {
  const logger = createLogger({
    service: 'stream-gateway',
    level: config.logLevel,
    destination: options.logDestination,
  });
  const closers: Array<() => Promise<void>> = [];
  try {
    const canon = await openCanon(config);
    closers.push(() => canon.close());
    const buses = await openEventBuses(config);
    closers.push(() => buses.close());
    const { auth } = await openAuth(config);

    const metrics = new GatewayMetrics();
    closers.push(async () => metrics.registry.clear());
    metrics.countPools(() => canonPool(canon));
    // With Redis, the orchestrators' samples (Resource Monitor, AI, v-analytics) count what it streams.
    const observed = observeStreams({ metrics, servesStreams: true, channel: buses.streamTotals });
    closers.push(async () => observed.stop());
    const { streams, sampler } = observed;
    // Before the monitor, so its last reports are flushed after it stops.
    const analytics = openAnalytics(config, metrics);
    closers.push(() => analytics.flush());
    const ai = config.integrations.ai;
    const monitor = new StreamHealthMonitor({
      canon,
      windows: sampler,
      effects: new StreamRemediation(streams, {
        stallMs: DEFAULT_REMEDIATION_POLICY.stallSeconds * 1000,
      }),
      mode: ai.remediation,
      logger,
      analytics,
      metrics,
    });
    monitor.start(ai.monitorIntervalMs);
    closers.push(async () => monitor.stop());

    const access = new SessionAccess({
      canon,
      activityWriteIntervalMs: config.policy.activityWriteIntervalMs,
      logger,
    });
    // Viewers of shared sessions are re-gated or closed on every workspace change, from any replica.
    const viewers = new WorkspaceViewers();
    const service = new WorkspaceService({ canon, access, events: buses.workspaceEvents, logger });
    buses.workspaceEvents.subscribe((e) => viewers.apply(e.workspace));

    const app = await buildStreamGatewayApp({
      config,
      logger,
      canon,
      auth,
      access,
      events: buses.events,
      streams,
      metrics,
      workspaces: { service, viewers },
      redisPing: buses.redisPing,
    });
    closers.push(() => app.close());
    const { url, port } = await listen(app, config);
    return {
      url,
      port,
      canon,
      sampler,
      monitor,
      close: () => closeAll(closers),
    };
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
}
