import { Type, type Static } from '@sinclair/typebox';
import { TIER_IDS } from './session-states.ts';

/**
 * N.E.X.U.S AI over the REST API: `GET /api/v1/sessions/:id/recommendations` and `GET /api/v1/predictions`.
 * The same shapes are what the HTTP adapter expects from an external N.E.X.U.S AI service.
 */

const TierIdSchema = Type.Union(TIER_IDS.map((t) => Type.Literal(t)));

/** Where an answer came from: the embedded models, the external service, or the embedded models because the service failed. */
export const AiSourceSchema = Type.Union([
  Type.Literal('embedded'),
  Type.Literal('nexus-ai'),
  Type.Literal('embedded-fallback'),
]);
export type AiSource = Static<typeof AiSourceSchema>;

const UtilisationSchema = Type.Object({
  /** Mean utilisation of the allocation over the window (1 = the whole allocation). */
  mean: Type.Number(),
  p90: Type.Number(),
  /** Share of samples at or above the scale-up threshold. */
  highShare: Type.Number({ minimum: 0, maximum: 1 }),
  /** Share of samples at or below the scale-down threshold. */
  lowShare: Type.Number({ minimum: 0, maximum: 1 }),
});

/** The spec's `analyzeWorkload` answer: sustained-utilisation rules with hysteresis. */
export const WorkloadAnalysisSchema = Type.Object({
  shouldScale: Type.Boolean(),
  direction: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('none')]),
  currentTier: TierIdSchema,
  targetTier: Type.Union([TierIdSchema, Type.Null()]),
  reason: Type.String(),
  samples: Type.Integer({ minimum: 0 }),
  /** Seconds of samples the decision is based on. */
  windowSeconds: Type.Number({ minimum: 0 }),
  cpu: UtilisationSchema,
  memory: UtilisationSchema,
});
export type WorkloadAnalysis = Static<typeof WorkloadAnalysisSchema>;

export const ANOMALY_METRICS = ['cpuPercent', 'memoryMiB', 'streamFps', 'streamLatencyMs'] as const;
export type AnomalyMetric = (typeof ANOMALY_METRICS)[number];

/** One anomalous episode of one metric: consecutive samples far from the robust baseline. */
export const AnomalySchema = Type.Object({
  metric: Type.Union(ANOMALY_METRICS.map((m) => Type.Literal(m))),
  /** `high`/`low`: robust z-score beyond the threshold; `trend`: sustained monotone growth (a leak). */
  kind: Type.Union([Type.Literal('high'), Type.Literal('low'), Type.Literal('trend')]),
  startedAt: Type.String({ format: 'date-time' }),
  endedAt: Type.String({ format: 'date-time' }),
  /** Samples in the episode. */
  points: Type.Integer({ minimum: 1 }),
  /** Largest |robust z| in the episode (0.6745·(x − median)/MAD). */
  peakScore: Type.Number(),
  /** The most extreme value and the baseline median it was compared with. */
  value: Type.Number(),
  baseline: Type.Number(),
});
export type Anomaly = Static<typeof AnomalySchema>;

/** The spec's `detectAnomalies` answer. */
export const AnomalyReportSchema = Type.Object({
  detected: Type.Boolean(),
  anomalies: Type.Array(AnomalySchema),
  samples: Type.Integer({ minimum: 0 }),
});
export type AnomalyReport = Static<typeof AnomalyReportSchema>;

export const REMEDIATION_KINDS = [
  'recommend-tier',
  'pause-session',
  'reconnect-stream',
  'lower-quality',
  'restart-desktop',
] as const;
export type RemediationKind = (typeof REMEDIATION_KINDS)[number];

/**
 * One remediation. `applied`: done (e.g. the session was paused through the lifecycle, the gateway lowered a
 * stream's quality or closed a stalled stream for the viewer to reconnect, the watchdog restarted a stuck
 * desktop); `recommended`: advice only (no live tier change exists; stream actions without a gateway hook);
 * `skipped`/`failed` with the reason.
 */
export const RemediationActionSchema = Type.Object({
  kind: Type.Union(REMEDIATION_KINDS.map((k) => Type.Literal(k))),
  status: Type.Union([
    Type.Literal('planned'),
    Type.Literal('applied'),
    Type.Literal('recommended'),
    Type.Literal('skipped'),
    Type.Literal('failed'),
  ]),
  reason: Type.String(),
  targetTier: Type.Optional(TierIdSchema),
});
export type RemediationAction = Static<typeof RemediationActionSchema>;

/** `GET /api/v1/sessions/:id/recommendations`. Planned actions are not applied by this read. */
export const RecommendationsResponseSchema = Type.Object({
  sessionId: Type.String(),
  generatedAt: Type.String({ format: 'date-time' }),
  source: AiSourceSchema,
  workload: WorkloadAnalysisSchema,
  anomalies: AnomalyReportSchema,
  remediation: Type.Array(RemediationActionSchema),
});
export type RecommendationsResponse = Static<typeof RecommendationsResponseSchema>;

/** The spec's `predictResourceNeeds` answer for one hour slot. */
export const LaunchPredictionSchema = Type.Object({
  /** Start of the hour (UTC). */
  at: Type.String({ format: 'date-time' }),
  dayOfWeek: Type.Integer({ minimum: 0, maximum: 6 }),
  hourOfDay: Type.Integer({ minimum: 0, maximum: 23 }),
  /** Probability that the user launches at least one session in this hour. */
  launchProbability: Type.Number({ minimum: 0, maximum: 1 }),
  expectedLaunches: Type.Number({ minimum: 0 }),
  /** The tier a launch in this slot most likely uses; null without history. */
  likelyTier: Type.Union([TierIdSchema, Type.Null()]),
  confidence: Type.Union([
    Type.Literal('none'),
    Type.Literal('low'),
    Type.Literal('medium'),
    Type.Literal('high'),
  ]),
});
export type LaunchPrediction = Static<typeof LaunchPredictionSchema>;

export const PredictionsQuerySchema = Type.Object(
  { hours: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })) },
  { additionalProperties: false },
);
export const PREDICTION_HOURS = { min: 1, max: 168, default: 24 } as const;

/** `GET /api/v1/predictions`: the caller's launch forecast for the coming hours (what a warm pool would use). */
export const PredictionsResponseSchema = Type.Object({
  generatedAt: Type.String({ format: 'date-time' }),
  source: AiSourceSchema,
  /** Past launches the model learned from, and over how many weeks. */
  basedOnSessions: Type.Integer({ minimum: 0 }),
  weeksObserved: Type.Number({ minimum: 0 }),
  hours: Type.Array(LaunchPredictionSchema),
});
export type PredictionsResponse = Static<typeof PredictionsResponseSchema>;
