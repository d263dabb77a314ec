import { Type, type Static } from '@sinclair/typebox';

/** `GET /api/v1/sessions/:id/metrics?windowSeconds=N`: the recent samples (oldest first). */
export const MetricsQuerySchema = Type.Object(
  // A query string is text: digits here, bounds (10–3600) checked by the route.
  { windowSeconds: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })) },
  { additionalProperties: false },
);
export const METRICS_WINDOW_SECONDS = { min: 10, max: 3600, default: 300 } as const;

/**
 * `GET /api/v1/quota`: the caller's limits (their tenant's overrides applied) and what counts against them now:
 * live sessions are those not terminated or failed, CPU and memory their tiers' resources.
 */
export const QuotaResponseSchema = Type.Object({
  limits: Type.Object({
    maxLiveSessionsPerUser: Type.Integer(),
    maxCpuMillicoresPerUser: Type.Integer(),
    maxMemoryMiBPerUser: Type.Integer(),
    maxLiveSessionsPerTenant: Type.Integer(),
    maxCpuMillicoresPerTenant: Type.Integer(),
    maxMemoryMiBPerTenant: Type.Integer(),
  }),
  usage: Type.Object({
    liveSessionsOfUser: Type.Integer(),
    cpuMillicoresOfUser: Type.Integer(),
    memoryMiBOfUser: Type.Integer(),
    liveSessionsOfTenant: Type.Integer(),
    cpuMillicoresOfTenant: Type.Integer(),
    memoryMiBOfTenant: Type.Integer(),
  }),
});
export type QuotaResponse = Static<typeof QuotaResponseSchema>;

/** `POST /api/v1/vitals`: one Core Web Vitals measurement of the module (web-vitals' Metric, trimmed). */
export const WebVitalSchema = Type.Object(
  {
    name: Type.Union(['LCP', 'INP', 'CLS', 'FCP', 'TTFB'].map((n) => Type.Literal(n))),
    value: Type.Number({ minimum: 0, maximum: 3_600_000 }),
    rating: Type.Union([Type.Literal('good'), Type.Literal('needs-improvement'), Type.Literal('poor')]),
    id: Type.String({ maxLength: 128 }),
    navigationType: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);
export type WebVital = Static<typeof WebVitalSchema>;
