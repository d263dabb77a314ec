import type { MetricsSample } from '../../protocol/live-events.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { SessionChangedEvent, SessionEventBus } from '../events/session-event-bus.ts';
import type { Analytics } from './analytics.ts';

/** The spec's event: one per live session per interval. */
export const SESSION_METRICS_EVENT = 'supercore.session.metrics';
/** One per session state change, from the replica that made it. */
export const SESSION_LIFECYCLE_EVENT = 'supercore.session.lifecycle';
/** Core Web Vitals of the module, forwarded by `POST /api/v1/vitals`. */
export const WEB_VITALS_EVENT = 'supercore.web-vitals';

interface Window {
  samples: number;
  cpuSum: number;
  cpuPeak: number;
  memorySum: number;
  fpsSum: number;
}

/**
 * Feeds v-analytics from what the adapter already observes: the session sampler's resource samples,
 * averaged per session over each interval into the spec's `supercore.session.metrics`
 * (`sessionId, tier, duration` in seconds since launch, `cpuUsage` in percent of one core, `memoryUsage`
 * in MiB), and every state change as `supercore.session.lifecycle`. Tracking never waits on the network.
 */
export class SessionAnalytics {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly clock: () => Date;

  constructor(
    private readonly deps: {
      analytics: Analytics;
      canon: Pick<CanonStore, 'getSession'>;
      sampler: { onSample(listener: (sample: MetricsSample) => void): () => void };
      intervalMs: number;
      clock?: () => Date;
    },
  ) {
    this.clock = deps.clock ?? (() => new Date());
  }

  start(): void {
    this.unsubscribe ??= this.deps.sampler.onSample((s) => this.accumulate(s));
    this.timer ??= setInterval(() => void this.report(), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  accumulate(sample: MetricsSample): void {
    const w = this.windows.get(sample.sessionId) ?? {
      samples: 0,
      cpuSum: 0,
      cpuPeak: 0,
      memorySum: 0,
      fpsSum: 0,
    };
    w.samples++;
    w.cpuSum += sample.cpuPercent;
    w.cpuPeak = Math.max(w.cpuPeak, sample.cpuPercent);
    w.memorySum += sample.memoryMiB;
    w.fpsSum += sample.streamFps;
    this.windows.set(sample.sessionId, w);
  }

  /** Emits one metrics event per session sampled since the last report; exposed for tests. */
  async report(): Promise<number> {
    const due = [...this.windows];
    this.windows.clear();
    const now = this.clock();
    let tracked = 0;
    for (const [sessionId, w] of due) {
      const row = await this.deps.canon.getSession(sessionId).catch(() => undefined);
      if (!row) continue;
      const s = row.session;
      const round1 = (n: number) => Math.round(n * 10) / 10;
      this.deps.analytics.track({
        event: SESSION_METRICS_EVENT,
        userId: s.userId,
        properties: {
          sessionId,
          tier: s.tier,
          duration: Math.max(0, Math.round((now.getTime() - Date.parse(s.createdAt)) / 1000)),
          cpuUsage: round1(w.cpuSum / w.samples),
          memoryUsage: round1(w.memorySum / w.samples),
          tenantId: s.tenantId,
          state: s.state,
          peakCpuUsage: round1(w.cpuPeak),
          streamFps: round1(w.fpsSum / w.samples),
          samples: w.samples,
        },
        timestamp: now.toISOString(),
      });
      tracked++;
    }
    return tracked;
  }

  lifecycle(e: SessionChangedEvent): void {
    trackLifecycle(this.deps.analytics, e, this.clock());
  }
}

/** One `supercore.session.lifecycle` event for a state change. */
export function trackLifecycle(analytics: Analytics, e: SessionChangedEvent, at = new Date()): void {
  const s = e.session;
  const properties: Record<string, unknown> = {
    sessionId: s.sessionId,
    tenantId: s.tenantId,
    tier: s.tier,
    from: e.previousState,
    to: s.state,
    canonTimestamp: s.canonTimestamp,
  };
  if (s.failureReason !== undefined) properties.failureReason = s.failureReason;
  analytics.track({
    event: SESSION_LIFECYCLE_EVENT,
    userId: s.userId,
    properties,
    timestamp: at.toISOString(),
  });
}

/**
 * The same bus, with every change *published through it* also handed to `tap`: each change this replica
 * makes is seen exactly once, whereas a subscriber would see every replica's changes (with Redis) and so
 * report each change once per replica.
 */
export function tapPublishes(
  bus: SessionEventBus,
  tap: (event: SessionChangedEvent) => void,
): SessionEventBus {
  return {
    publish: async (event) => {
      try {
        tap(event);
      } catch {
        // analytics must never stand in the way of a transition
      }
      return bus.publish(event);
    },
    subscribe: (listener) => bus.subscribe(listener),
    close: () => bus.close(),
  };
}
