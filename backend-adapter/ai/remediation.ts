import type { AnomalyReport, RemediationAction, WorkloadAnalysis } from '../../protocol/ai.ts';
import type { MetricsSample } from '../../protocol/live-events.ts';
import type { Tier } from '../../protocol/session.ts';
import { TIER_CATALOGUE } from '../tiers/tier-catalogue.ts';
import { utilisation } from './workload-analyzer.ts';

/**
 * What remediation can do to a session. Pausing goes through the lifecycle (it freezes the desktop, memory
 * kept; the user resumes it), where there is one. Reconnecting a stream and lowering its quality go through
 * the stream gateway (gateway/stream-remediation.ts) on the replica that serves the viewers. Without an
 * effect, its action is advice. The stream ones answer whether they changed anything.
 */
export interface RemediationEffects {
  pauseSession?(sessionId: string, reason: string): Promise<void>;
  reconnectStream?(sessionId: string, reason: string): Promise<boolean>;
  lowerQuality?(sessionId: string, reason: string): Promise<boolean>;
}

/** `off`: no monitoring; `recommend`: monitor and report, apply nothing; `act`: also apply what can be applied. */
export type RemediationMode = 'off' | 'recommend' | 'act';

export interface RemediationPolicy {
  /** CPU at or above this multiple of the allocation… */
  runawayUtilisation: number;
  /** …for this long (with `runawayShare` of the samples) is a runaway session, paused. */
  runawaySeconds: number;
  runawayShare: number;
  /** A stream anomaly is acted on only while it is still going on (ended this recently). */
  ongoingSeconds: number;
  /** No second pause of a session within this time of the first (the user may have resumed on purpose). */
  cooldownMs: number;
  /** A viewer's stream that has owed a frame or an acknowledgement this long is stalled: it reconnects. */
  stallSeconds: number;
}

export const DEFAULT_REMEDIATION_POLICY: RemediationPolicy = {
  runawayUtilisation: 1.5,
  runawaySeconds: 300,
  runawayShare: 0.9,
  ongoingSeconds: 10,
  cooldownMs: 15 * 60_000,
  stallSeconds: 15,
};

export interface RemediationContext {
  sessionId: string;
  tier: Tier;
  /** Oldest first; empty where nothing samples the desktop (the stream gateway). */
  samples: readonly MetricsSample[];
  /** Absent where the workload was not analysed (the stream gateway). */
  workload?: WorkloadAnalysis;
  anomalies: AnomalyReport;
  /** When the stream rules look back from (ms since the epoch): by default the newest sample's time. */
  at?: number;
  /** The longest a viewer's stream of the session has been stalled right now, in ms (0: none). */
  stalledMs?: number;
}

/** The next bigger non-GPU tier (or GPU after GPU), for advice when the analyzer has no target. */
function nextTier(current: Tier): Tier | undefined {
  const same = TIER_CATALOGUE.filter((t) => t.resources.gpus > 0 === current.resources.gpus > 0);
  const i = same.findIndex((t) => t.id === current.id);
  return i >= 0 ? same[i + 1] : undefined;
}

/**
 * Rules from the analyses to actions (`planned` for what can be applied, `recommended` for advice):
 * - a scale recommendation → `recommend-tier` (a running session's tier cannot change: the user relaunches);
 * - steadily growing memory (trend anomaly) → `recommend-tier` one size up;
 * - CPU ≥ 1.5× the allocation for 5 minutes → `pause-session` (a runaway or abusive desktop);
 * - latency anomaly or frame-rate drop still going on → `lower-quality` (fewer bytes per frame);
 * - a viewer's stream owing a frame or an acknowledgement for `stallSeconds` → `reconnect-stream`.
 */
export function planRemediation(
  ctx: RemediationContext,
  policy: RemediationPolicy = DEFAULT_REMEDIATION_POLICY,
): RemediationAction[] {
  const actions: RemediationAction[] = [];
  if (ctx.workload?.shouldScale && ctx.workload.targetTier) {
    actions.push({
      kind: 'recommend-tier',
      status: 'recommended',
      targetTier: ctx.workload.targetTier,
      reason: ctx.workload.reason,
    });
  }
  const leak = ctx.anomalies.anomalies.find((a) => a.metric === 'memoryMiB' && a.kind === 'trend');
  const bigger = nextTier(ctx.tier);
  if (leak && !actions.some((a) => a.kind === 'recommend-tier') && bigger) {
    actions.push({
      kind: 'recommend-tier',
      status: 'recommended',
      targetTier: bigger.id,
      reason: `Memory has grown steadily from ${Math.round(leak.baseline)} to ${Math.round(leak.value)} MiB (a possible leak); restart the application or relaunch on ${bigger.label}.`,
    });
  }

  const newest = ctx.at ?? Date.parse(ctx.samples.at(-1)?.at ?? '');
  const recent = ctx.samples.filter((s) => newest - Date.parse(s.at) <= policy.runawaySeconds * 1000);
  const span = recent.length > 1 ? (newest - Date.parse(recent[0]?.at ?? '')) / 1000 : 0;
  const over = recent.filter((s) => utilisation(s, ctx.tier).cpu >= policy.runawayUtilisation).length;
  if (
    span >= policy.runawaySeconds * 0.9 &&
    recent.length > 0 &&
    over / recent.length >= policy.runawayShare
  ) {
    actions.push({
      kind: 'pause-session',
      status: 'planned',
      reason: `CPU has been at ${policy.runawayUtilisation}× the tier's allocation or more for ${Math.round(span / 60)} minutes: a runaway or abusive workload. The session is paused (memory kept); resume it from the dashboard.`,
    });
  }

  const ongoing = (metric: string) =>
    ctx.anomalies.anomalies.find(
      (a) =>
        a.metric === metric &&
        a.kind !== 'trend' &&
        newest - Date.parse(a.endedAt) <= policy.ongoingSeconds * 1000,
    );
  const latency = ongoing('streamLatencyMs');
  const fps = ongoing('streamFps');
  const symptoms = [
    latency &&
      `stream latency is ${Math.round(latency.value)} ms against a usual ${Math.round(latency.baseline)} ms`,
    fps && `the viewer draws ${fps.value} frames per second against a usual ${fps.baseline}`,
  ].filter(Boolean);
  if (symptoms.length > 0) {
    const said = symptoms.join('; ');
    actions.push({
      kind: 'lower-quality',
      status: 'planned',
      reason: `${said.charAt(0).toUpperCase()}${said.slice(1)}: the stream's image quality is lowered (fewer bytes per frame).`,
    });
  }
  if ((ctx.stalledMs ?? 0) >= policy.stallSeconds * 1000) {
    actions.push({
      kind: 'reconnect-stream',
      status: 'planned',
      reason: `The stream has delivered no frame or acknowledgement for ${Math.round((ctx.stalledMs ?? 0) / 1000)} s while the desktop runs: the viewer reconnects.`,
    });
  }
  return actions;
}

/** Applies planned actions with the effects that exist; the rest become recommendations. */
export class Remediator {
  private readonly lastPause = new Map<string, number>();

  constructor(
    private readonly effects: RemediationEffects,
    private readonly policy: RemediationPolicy = DEFAULT_REMEDIATION_POLICY,
    private readonly clock: () => number = Date.now,
  ) {}

  async apply(sessionId: string, plan: readonly RemediationAction[]): Promise<RemediationAction[]> {
    const out: RemediationAction[] = [];
    for (const action of plan) {
      if (action.status !== 'planned') {
        out.push(action);
        continue;
      }
      try {
        if (action.kind === 'pause-session' && this.effects.pauseSession) {
          const last = this.lastPause.get(sessionId);
          if (last !== undefined && this.clock() - last < this.policy.cooldownMs) {
            out.push({
              ...action,
              status: 'skipped',
              reason: `${action.reason} (Paused recently: not again so soon.)`,
            });
            continue;
          }
          await this.effects.pauseSession(sessionId, action.reason);
          this.lastPause.set(sessionId, this.clock());
          out.push({ ...action, status: 'applied' });
        } else {
          const effect =
            action.kind === 'reconnect-stream'
              ? this.effects.reconnectStream
              : action.kind === 'lower-quality'
                ? this.effects.lowerQuality
                : undefined;
          if (!effect) out.push({ ...action, status: 'recommended' });
          else
            out.push({
              ...action,
              status: (await effect.call(this.effects, sessionId, action.reason)) ? 'applied' : 'skipped',
            });
        }
      } catch (error) {
        out.push({
          ...action,
          status: 'failed',
          reason: `${action.reason} (${error instanceof Error ? error.message : String(error)})`,
        });
      }
    }
    return out;
  }

  /** `apply` in `act` mode; in any other, the planned actions become recommendations. */
  async applyIn(
    mode: RemediationMode,
    sessionId: string,
    plan: readonly RemediationAction[],
  ): Promise<RemediationAction[]> {
    if (mode === 'act') return this.apply(sessionId, plan);
    return plan.map((a) => (a.status === 'planned' ? { ...a, status: 'recommended' as const } : a));
  }

  forget(sessionId: string): void {
    this.lastPause.delete(sessionId);
  }
}
