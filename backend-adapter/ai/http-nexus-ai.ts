import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  AnomalyReportSchema,
  LaunchPredictionSchema,
  WorkloadAnalysisSchema,
  type AnomalyReport,
  type WorkloadAnalysis,
} from '../../protocol/ai.ts';
import { Type } from '@sinclair/typebox';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import type {
  AiAnswer,
  AnalyzeWorkloadInput,
  DetectAnomaliesInput,
  NexusAi,
  PredictResourceNeedsInput,
  ResourcePredictions,
} from './nexus-ai.ts';

if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => !Number.isNaN(Date.parse(value)));
}

const ResourcePredictionsSchema = Type.Object({
  basedOnSessions: Type.Integer({ minimum: 0 }),
  weeksObserved: Type.Number({ minimum: 0 }),
  hours: Type.Array(LaunchPredictionSchema),
});

export interface HttpNexusAiOptions {
  /** Base URL of the N.E.X.U.S AI service: POST {url}/analyze-workload, /predict-resource-needs, /detect-anomalies. */
  url: string;
  token?: string;
  timeoutMs: number;
  /** Called when the service failed and the embedded model answered instead. */
  onFallback?: (operation: string, reason: string) => void;
}

/**
 * Delegates to an external N.E.X.U.S AI service. Every answer is validated against the protocol schema;
 * when the service is down, slow (past `timeoutMs`), answers an error or something malformed, the embedded
 * model answers instead and the answer says so (`source: 'embedded-fallback'`): recommendations never
 * depend on the service being up.
 */
export class HttpNexusAi implements NexusAi {
  readonly name = 'nexus-ai';

  constructor(
    private readonly options: HttpNexusAiOptions,
    private readonly fallback: NexusAi,
  ) {}

  private async call<T>(
    operation: string,
    body: unknown,
    schema: TSchema,
    fallback: () => Promise<AiAnswer<T>>,
  ): Promise<AiAnswer<T>> {
    let reason: string;
    try {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        [HANDSHAKE_HEADER]: HANDSHAKE,
      };
      if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
      const response = await fetch(`${this.options.url.replace(/\/$/, '')}/${operation}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      if (response.ok) {
        const value: unknown = await response.json();
        if (Value.Check(schema, value)) return { value: value as T, source: 'nexus-ai' };
        reason = 'malformed answer';
      } else {
        await response.body?.cancel();
        reason = `HTTP ${response.status}`;
      }
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    this.options.onFallback?.(operation, reason);
    const answer = await fallback();
    return { value: answer.value, source: 'embedded-fallback' };
  }

  analyzeWorkload(input: AnalyzeWorkloadInput): Promise<AiAnswer<WorkloadAnalysis>> {
    return this.call('analyze-workload', input, WorkloadAnalysisSchema, () =>
      this.fallback.analyzeWorkload(input),
    );
  }

  predictResourceNeeds(input: PredictResourceNeedsInput): Promise<AiAnswer<ResourcePredictions>> {
    return this.call('predict-resource-needs', input, ResourcePredictionsSchema, () =>
      this.fallback.predictResourceNeeds(input),
    );
  }

  forget(sessionId: string): void {
    this.fallback.forget?.(sessionId);
  }

  detectAnomalies(input: DetectAnomaliesInput): Promise<AiAnswer<AnomalyReport>> {
    return this.call('detect-anomalies', input, AnomalyReportSchema, () =>
      this.fallback.detectAnomalies(input),
    );
  }
}
