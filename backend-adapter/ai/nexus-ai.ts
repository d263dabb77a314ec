import type { AiSource, AnomalyReport, LaunchPrediction, WorkloadAnalysis } from '../../protocol/ai.ts';
import type { MetricsSample } from '../../protocol/live-events.ts';
import type { TierId } from '../../protocol/session.ts';
import { DEFAULT_ANOMALY_OPTIONS, detectAnomalies, type AnomalyDetectorOptions } from './anomaly-detector.ts';
import {
  DEFAULT_LAUNCH_MODEL,
  LaunchModel,
  type LaunchHistoryEntry,
  type LaunchModelOptions,
} from './launch-predictor.ts';
import { WorkloadAnalyzer } from './workload-analyzer.ts';

/** One finished session of the user, for `analyzeWorkload`'s `historicalData`. */
export interface UsageSummary {
  sessionId: string;
  tier: TierId;
  startTime: string;
  endTime: string;
  activeSeconds: number;
}

export interface AnalyzeWorkloadInput {
  sessionId: string;
  tier: TierId;
  /** Oldest first. */
  currentMetrics: MetricsSample[];
  historicalData: UsageSummary[];
}

export interface PredictResourceNeedsInput {
  userId: string;
  tenantId: string;
  /** The first hour predicted (the hour containing it) and how many hours from there. */
  from: string;
  hours: number;
  /** The user's past launches (Canon Memory's session history). */
  history: LaunchHistoryEntry[];
}

export interface ResourcePredictions {
  basedOnSessions: number;
  weeksObserved: number;
  hours: LaunchPrediction[];
}

export interface DetectAnomaliesInput {
  sessionId: string;
  /** Oldest first. */
  metrics: MetricsSample[];
}

/** An answer and where it came from. */
export interface AiAnswer<T> {
  value: T;
  source: AiSource;
}

/** Port: N.E.X.U.S AI, with the spec's operations (`autoRemediate` acts locally: see ai-service.ts). */
export interface NexusAi {
  readonly name: string;
  analyzeWorkload(input: AnalyzeWorkloadInput): Promise<AiAnswer<WorkloadAnalysis>>;
  predictResourceNeeds(input: PredictResourceNeedsInput): Promise<AiAnswer<ResourcePredictions>>;
  detectAnomalies(input: DetectAnomaliesInput): Promise<AiAnswer<AnomalyReport>>;
  /** The session ended: drop any state kept for it (e.g. the hysteresis of its recommendation). */
  forget?(sessionId: string): void;
}

/**
 * The embedded default: real models, no service needed. Sustained-utilisation rules with hysteresis
 * (workload-analyzer.ts), an hour-of-week launch model per user (launch-predictor.ts) and robust z-scores
 * with a trend test (anomaly-detector.ts).
 */
export class EmbeddedNexusAi implements NexusAi {
  readonly name = 'embedded';

  constructor(
    private readonly analyzer = new WorkloadAnalyzer(),
    private readonly anomalyOptions: AnomalyDetectorOptions = DEFAULT_ANOMALY_OPTIONS,
    private readonly launchOptions: LaunchModelOptions = DEFAULT_LAUNCH_MODEL,
  ) {}

  async analyzeWorkload(input: AnalyzeWorkloadInput): Promise<AiAnswer<WorkloadAnalysis>> {
    return {
      value: this.analyzer.analyze({
        sessionId: input.sessionId,
        tier: input.tier,
        samples: input.currentMetrics,
      }),
      source: 'embedded',
    };
  }

  async predictResourceNeeds(input: PredictResourceNeedsInput): Promise<AiAnswer<ResourcePredictions>> {
    const from = new Date(input.from);
    const model = LaunchModel.fit(input.history, from, this.launchOptions);
    const hours = Array.from({ length: input.hours }, (_, h) =>
      model.predict(new Date(from.getTime() + h * 3_600_000)),
    );
    return {
      value: { basedOnSessions: model.launches, weeksObserved: model.weeksObserved, hours },
      source: 'embedded',
    };
  }

  async detectAnomalies(input: DetectAnomaliesInput): Promise<AiAnswer<AnomalyReport>> {
    return { value: detectAnomalies(input.metrics, this.anomalyOptions), source: 'embedded' };
  }

  /** The session ended: its hysteresis state is no longer needed. */
  forget(sessionId: string): void {
    this.analyzer.forget(sessionId);
  }
}
