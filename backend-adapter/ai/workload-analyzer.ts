import type { WorkloadAnalysis } from '../../protocol/ai.ts';
import type { MetricsSample } from '../../protocol/live-events.ts';
import type { Tier, TierId } from '../../protocol/session.ts';
import { TIER_CATALOGUE, findTier } from '../tiers/tier-catalogue.ts';
import { mean, quantile } from './robust-stats.ts';

export interface WorkloadRules {
  /** Utilisation (share of the allocation) at or above which a sample counts as high. */
  upEnter: number;
  /** Once `up` is recommended it holds while this share of samples stays at or above `upExit` (hysteresis). */
  upExit: number;
  /** Share of the window that must be high to recommend a bigger tier. */
  upShare: number;
  /** Seconds the high utilisation must be sustained. */
  upWindowSeconds: number;
  downEnter: number;
  downExit: number;
  downShare: number;
  downWindowSeconds: number;
  /** Share of a window that samples must cover before a rule may fire (a half-observed window proves little). */
  minCoverage: number;
  /** A recommended tier is sized so its p90 utilisation would be about this. */
  targetUtilisation: number;
  /** Share of samples that must stay past the exit threshold for a recommendation to hold. */
  holdShare: number;
}

export const DEFAULT_WORKLOAD_RULES: WorkloadRules = {
  upEnter: 0.85,
  upExit: 0.7,
  upShare: 0.8,
  upWindowSeconds: 600,
  downEnter: 0.25,
  downExit: 0.4,
  downShare: 0.9,
  downWindowSeconds: 1800,
  minCoverage: 0.8,
  targetUtilisation: 0.6,
  holdShare: 0.5,
};

export interface WorkloadInput {
  sessionId: string;
  tier: TierId;
  /** Oldest first. */
  samples: readonly MetricsSample[];
  /** Decision time; defaults to the newest sample's time. */
  now?: Date;
}

type Direction = WorkloadAnalysis['direction'];

/** Utilisation of the allocation: CPU percent-of-a-core over allocated cores, memory over allocated MiB. */
export function utilisation(sample: MetricsSample, tier: Tier): { cpu: number; memory: number } {
  const cores = Math.max(tier.resources.cpuMillicores / 1000, 0.001);
  return {
    cpu: sample.cpuPercent / 100 / cores,
    memory: sample.memoryMiB / Math.max(tier.resources.memoryMiB, 1),
  };
}

/**
 * The embedded `analyzeWorkload`: sustained-utilisation rules with hysteresis. A bigger tier is recommended
 * when CPU or memory has been at ≥ 85 % of the allocation for 80 % of the last 10 minutes; a smaller one when
 * both stayed ≤ 25 % for 90 % of the last 30 minutes. A recommendation, once made, holds until utilisation
 * has really left its band (below 70 % / above 40 % for most of the window), so a workload hovering at a
 * threshold does not flap. The target tier is the smallest one whose p90 utilisation would be about 60 %.
 * State (the current recommendation per session) lives in this instance.
 */
export class WorkloadAnalyzer {
  private readonly state = new Map<string, Direction>();

  constructor(
    private readonly rules: WorkloadRules = DEFAULT_WORKLOAD_RULES,
    private readonly catalogue: readonly Tier[] = TIER_CATALOGUE,
  ) {}

  analyze(input: WorkloadInput): WorkloadAnalysis {
    const tier = this.catalogue.find((t) => t.id === input.tier) ?? findTier(input.tier);
    if (!tier) throw new Error(`unknown tier ${input.tier}`);
    const now = input.now ?? new Date(Date.parse(input.samples.at(-1)?.at ?? new Date(0).toISOString()));
    const r = this.rules;
    const within = (seconds: number) =>
      input.samples.filter(
        (s) => now.getTime() - Date.parse(s.at) <= seconds * 1000 && Date.parse(s.at) <= now.getTime(),
      );
    const coverage = (samples: readonly MetricsSample[], seconds: number) => {
      if (samples.length < 2) return 0;
      const span = (Date.parse(samples.at(-1)?.at ?? '') - Date.parse(samples[0]?.at ?? '')) / 1000;
      return span / seconds;
    };
    const peak = (s: MetricsSample) => {
      const u = utilisation(s, tier);
      return Math.max(u.cpu, u.memory);
    };
    const share = (samples: readonly MetricsSample[], test: (u: number) => boolean) =>
      samples.length ? samples.filter((s) => test(peak(s))).length / samples.length : 0;

    const upSamples = within(r.upWindowSeconds);
    const downSamples = within(r.downWindowSeconds);
    const previous = this.state.get(input.sessionId) ?? 'none';
    let direction: Direction = 'none';
    let reason: string;
    const upCovered = coverage(upSamples, r.upWindowSeconds) >= r.minCoverage;
    const downCovered = coverage(downSamples, r.downWindowSeconds) >= r.minCoverage;

    if (previous === 'up' && share(upSamples, (u) => u >= r.upExit) >= r.holdShare) {
      direction = 'up';
      reason = `Utilisation is still at or above ${pct(r.upExit)} of the allocation (the recommendation holds until it falls below).`;
    } else if (upCovered && share(upSamples, (u) => u >= r.upEnter) >= r.upShare) {
      direction = 'up';
      reason = `CPU or memory at or above ${pct(r.upEnter)} of the allocation for ${pct(share(upSamples, (u) => u >= r.upEnter))} of the last ${r.upWindowSeconds / 60} minutes.`;
    } else if (previous === 'down' && share(downSamples, (u) => u <= r.downExit) >= r.holdShare) {
      direction = 'down';
      reason = `Utilisation is still at or below ${pct(r.downExit)} of the allocation (the recommendation holds until it rises above).`;
    } else if (downCovered && share(downSamples, (u) => u <= r.downEnter) >= r.downShare) {
      direction = 'down';
      reason = `CPU and memory at or below ${pct(r.downEnter)} of the allocation for ${pct(share(downSamples, (u) => u <= r.downEnter))} of the last ${r.downWindowSeconds / 60} minutes.`;
    } else if (!upCovered) {
      reason = `Not enough samples yet: ${Math.round(coverage(upSamples, r.upWindowSeconds) * r.upWindowSeconds)} of the ${r.upWindowSeconds} seconds a decision needs.`;
    } else {
      reason = 'Utilisation fits the allocation.';
    }

    const targetTier =
      direction === 'none'
        ? null
        : this.targetTier(tier, downSamples.length ? downSamples : upSamples, direction);
    if (direction !== 'none' && targetTier === null) {
      reason += direction === 'up' ? ' There is no bigger tier.' : ' There is no smaller tier.';
      direction = 'none';
    }
    this.state.set(input.sessionId, direction);
    const stats = (
      pick: (u: { cpu: number; memory: number }) => number,
      samples: readonly MetricsSample[],
    ) => {
      const values = samples.map((s) => pick(utilisation(s, tier)));
      const round = (n: number) => (Number.isFinite(n) ? Math.round(n * 1000) / 1000 : 0);
      return {
        mean: round(mean(values)),
        p90: round(quantile(values, 0.9)),
        highShare: round(values.length ? values.filter((v) => v >= r.upEnter).length / values.length : 0),
        lowShare: round(values.length ? values.filter((v) => v <= r.downEnter).length / values.length : 0),
      };
    };
    return {
      shouldScale: direction !== 'none',
      direction,
      currentTier: tier.id,
      targetTier: direction === 'none' ? null : targetTier,
      reason,
      samples: upSamples.length,
      windowSeconds: Math.round(coverage(downSamples, 1) * 10) / 10,
      cpu: stats((u) => u.cpu, upSamples),
      memory: stats((u) => u.memory, upSamples),
    };
  }

  /** Forgets a session's recommendation (when it ends). */
  forget(sessionId: string): void {
    this.state.delete(sessionId);
  }

  /** The smallest tier (no GPU tier unless the session has one) sized for p90 use at the target utilisation. */
  private targetTier(
    current: Tier,
    samples: readonly MetricsSample[],
    direction: 'up' | 'down',
  ): TierId | null {
    const needCpu =
      (quantile(
        samples.map((s) => s.cpuPercent),
        0.9,
      ) *
        10) /
      this.rules.targetUtilisation; // millicores
    const needMem =
      quantile(
        samples.map((s) => s.memoryMiB),
        0.9,
      ) / this.rules.targetUtilisation;
    const candidates = this.catalogue.filter((t) => t.resources.gpus > 0 === current.resources.gpus > 0);
    const size = (t: Tier) => t.resources.cpuMillicores + t.resources.memoryMiB / 4;
    const ordered = [...candidates].sort((a, b) => size(a) - size(b));
    const fits = (t: Tier) => t.resources.cpuMillicores >= needCpu && t.resources.memoryMiB >= needMem;
    if (direction === 'up') {
      const bigger = ordered.filter((t) => size(t) > size(current));
      return (bigger.find(fits) ?? bigger.at(-1))?.id ?? null;
    }
    const smaller = ordered.filter((t) => size(t) < size(current));
    return smaller.find(fits)?.id ?? null;
  }
}

function pct(share: number): string {
  return `${Math.round(share * 100)} %`;
}
