import type { Logger } from 'pino';
import type { Analytics } from '../analytics/analytics.ts';
import type { RemediationAction } from '../../protocol/ai.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { StreamWindow } from '../observability/stream-stats.ts';
import { findTier } from '../tiers/tier-catalogue.ts';
import { detectAnomalies, type DetectableSample } from './anomaly-detector.ts';
import {
  DEFAULT_REMEDIATION_POLICY,
  Remediator,
  planRemediation,
  type RemediationEffects,
  type RemediationMode,
  type RemediationPolicy,
} from './remediation.ts';
import { recordRemediation } from './report-remediation.ts';

/** Seconds of stream windows kept and scanned for anomalies (as the orchestrator's monitor scans). */
const ANOMALY_WINDOW_SECONDS = 900;

export interface StreamHealthMonitorDeps {
  canon: Pick<CanonStore, 'getSession'>;
  /** The gateway's StreamSampler: each closed window of a streamed session. */
  windows: {
    onWindow(listener: (sessionId: string, window: StreamWindow, atMs: number) => void): () => void;
  };
  /** The stream actions on this replica's viewers (gateway/stream-remediation.ts). */
  effects: Required<Pick<RemediationEffects, 'reconnectStream' | 'lowerQuality'>> & {
    stalledMs(sessionId: string): number;
  };
  mode: RemediationMode;
  policy?: RemediationPolicy;
  logger: Logger;
  /** Where applied and failed actions are reported as `supercore.ai.remediation` events, as AiService's are. */
  analytics?: Pick<Analytics, 'track'>;
  metrics?: { aiRemediations: { inc(labels: { kind: string; status: string }): void } };
}

/**
 * N.E.X.U.S AI's stream remediation where the streams are: the stream gateway role. It has no desktop samples
 * (CPU, memory: those are the orchestrator's), so it watches what it serves, each streamed session's latency
 * and frame rate (the embedded anomaly detector over the stream windows) and its stalled viewers, and applies
 * the two stream actions (lower the quality, reconnect) through the same planner and remediator as the
 * orchestrator's monitor (AiService). Only active sessions are acted on.
 */
export class StreamHealthMonitor {
  private readonly history = new Map<string, DetectableSample[]>();
  private readonly remediator: Remediator;
  private readonly stopListening: () => void;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly deps: StreamHealthMonitorDeps) {
    this.remediator = new Remediator(deps.effects, deps.policy ?? DEFAULT_REMEDIATION_POLICY);
    this.stopListening = deps.windows.onWindow((sessionId, window, atMs) => {
      const samples = this.history.get(sessionId) ?? [];
      samples.push({
        at: new Date(atMs).toISOString(),
        streamFps: window.streamFps,
        streamLatencyMs: window.streamLatencyMs,
      });
      const since = atMs - ANOMALY_WINDOW_SECONDS * 1000;
      while (samples.length > 0 && Date.parse(samples[0]?.at ?? '') < since) samples.shift();
      this.history.set(sessionId, samples);
      // Nobody watches any more: nothing to act on, and the next viewer starts a fresh baseline.
      if (window.quality === null) this.history.delete(sessionId);
    });
  }

  /** One round over the sessions this replica streams; the actions taken (or advised) per session. */
  async monitorOnce(): Promise<Array<{ sessionId: string; actions: RemediationAction[] }>> {
    if (this.running || this.deps.mode === 'off') return [];
    this.running = true;
    try {
      const results: Array<{ sessionId: string; actions: RemediationAction[] }> = [];
      for (const [sessionId, samples] of [...this.history]) {
        try {
          const actions = await this.remediate(sessionId, samples);
          if (actions.length) results.push({ sessionId, actions });
        } catch (err) {
          this.deps.logger.warn({ sessionId, err }, 'stream health monitoring failed');
        }
      }
      return results;
    } finally {
      this.running = false;
    }
  }

  private async remediate(sessionId: string, samples: DetectableSample[]): Promise<RemediationAction[]> {
    const row = await this.deps.canon.getSession(sessionId);
    const tier = row && findTier(row.session.tier);
    if (!row || !tier || row.session.state !== 'active') return [];
    const plan = planRemediation(
      {
        sessionId,
        tier,
        samples: [],
        anomalies: detectAnomalies(samples),
        at: Date.parse(samples.at(-1)?.at ?? ''),
        stalledMs: this.deps.effects.stalledMs(sessionId),
      },
      this.deps.policy,
    );
    const actions = await this.remediator.applyIn(this.deps.mode, sessionId, plan);
    recordRemediation(this.deps, row.session, actions, new Date());
    return actions;
  }

  start(intervalMs: number): void {
    if (this.deps.mode === 'off') return;
    this.timer ??= setInterval(() => void this.monitorOnce(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopListening();
  }
}
