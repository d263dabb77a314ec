import type { FastifyInstance } from 'fastify';
import { SessionIdParamsSchema } from '../../protocol/api.ts';
import {
  METRICS_WINDOW_SECONDS,
  MetricsQuerySchema,
  QuotaResponseSchema,
  WebVitalSchema,
  type QuotaResponse,
  type WebVital,
} from '../../protocol/resources.ts';
import { ApiError } from '../api-error.ts';
import type { Analytics } from '../analytics/analytics.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { SessionLifecycle } from '../lifecycle/session-lifecycle.ts';
import type { LifecyclePolicy } from '../lifecycle/lifecycle-policy.ts';
import type { SessionSampler } from '../observability/session-sampler.ts';
import { callerOf } from './authenticate.ts';

/** Resource Monitor data (metrics history, quota) and the module's Core Web Vitals. */
export function registerResourceRoutes(
  app: FastifyInstance,
  deps: {
    canon: CanonStore;
    lifecycle: SessionLifecycle;
    sampler: SessionSampler;
    policy: LifecyclePolicy;
    analytics: Analytics;
  },
): void {
  app.get<{ Params: { id: string }; Querystring: { windowSeconds?: string } }>(
    '/sessions/:id/metrics',
    { schema: { params: SessionIdParamsSchema, querystring: MetricsQuerySchema } },
    async (request) => {
      const session = await deps.lifecycle.get(callerOf(request), request.params.id);
      const window = Number(request.query.windowSeconds ?? METRICS_WINDOW_SECONDS.default);
      if (window < METRICS_WINDOW_SECONDS.min || window > METRICS_WINDOW_SECONDS.max) {
        throw new ApiError('BAD_REQUEST', 'windowSeconds must be from 10 to 3600.');
      }
      return { samples: deps.sampler.recent(session.sessionId, window) };
    },
  );

  app.get('/quota', { schema: { response: { 200: QuotaResponseSchema } } }, async (request) => {
    const caller = callerOf(request);
    // Sums over the open allocations, as Genesis counts them: no scan of every session in the cluster.
    const live = await deps.canon.liveUsageOf(caller);
    // What Genesis enforces for this caller: the tenant registry's overrides over the adapter's defaults.
    const limits = deps.lifecycle.limitsFor(caller);
    const response: QuotaResponse = {
      limits: {
        maxLiveSessionsPerUser: limits.maxLiveSessionsPerUser,
        maxCpuMillicoresPerUser: limits.maxCpuMillicoresPerUser,
        maxMemoryMiBPerUser: limits.maxMemoryMiBPerUser,
        maxLiveSessionsPerTenant: limits.maxLiveSessionsPerTenant,
        maxCpuMillicoresPerTenant: limits.maxCpuMillicoresPerTenant,
        maxMemoryMiBPerTenant: limits.maxMemoryMiBPerTenant,
      },
      usage: {
        liveSessionsOfUser: live.user.sessions,
        cpuMillicoresOfUser: live.user.cpuMillicores,
        memoryMiBOfUser: live.user.memoryMiB,
        liveSessionsOfTenant: live.tenant.sessions,
        cpuMillicoresOfTenant: live.tenant.cpuMillicores,
        memoryMiBOfTenant: live.tenant.memoryMiB,
      },
    };
    return response;
  });

  const accepted = { 202: { type: 'null', description: 'Accepted for v-analytics.' } };
  app.post<{ Body: WebVital }>(
    '/vitals',
    { schema: { body: WebVitalSchema, response: accepted } },
    async (request, reply) => {
      const caller = callerOf(request);
      deps.analytics.track({
        event: 'supercore.web-vitals',
        userId: caller.userId,
        properties: { ...request.body, tenantId: caller.tenantId },
        timestamp: new Date().toISOString(),
      });
      return reply.code(202).send();
    },
  );
}
