import type { FastifyInstance } from 'fastify';
import {
  ChangeTierRequestSchema,
  CreateSessionRequestSchema,
  ErrorResponseSchema,
  SessionIdParamsSchema,
  SessionListResponseSchema,
  SessionResponseSchema,
  TierListResponseSchema,
  type ChangeTierRequest,
  type CreateSessionRequest,
} from '../../protocol/api.ts';
import { ApiError } from '../api-error.ts';
import type { SessionLifecycle } from '../lifecycle/session-lifecycle.ts';
import type { AdapterMetrics } from '../observability/prometheus-metrics.ts';
import type { Session, Tier } from '../../protocol/session.ts';
import { TIER_CATALOGUE } from '../tiers/tier-catalogue.ts';
import { callerOf } from './authenticate.ts';

type IdParams = { id: string };
const errors = {
  400: ErrorResponseSchema,
  403: ErrorResponseSchema,
  404: ErrorResponseSchema,
  409: ErrorResponseSchema,
};

/** Session CRUD and IMVU transitions; every call is scoped to the caller's own sessions. */
export function registerSessionRoutes(
  app: FastifyInstance,
  lifecycle: SessionLifecycle,
  metrics: Pick<AdapterMetrics, 'sessionCreationDuration'>,
  /** Fills in each session's cost so far (billing); absent: sessions are returned as stored. */
  costs?: { withCosts(sessions: Session[]): Promise<Session[]> },
  /** The tiers as this deployment runs them (configured timeouts); the catalogue's by default. */
  catalogue: readonly Tier[] = TIER_CATALOGUE,
): void {
  const withCost = async (session: Session): Promise<Session> =>
    costs ? ((await costs.withCosts([session]))[0] ?? session) : session;
  app.get('/tiers', { schema: { response: { 200: TierListResponseSchema } } }, async (request) => ({
    tiers: lifecycle.tiersFor(callerOf(request), catalogue),
  }));

  app.post<{ Body: CreateSessionRequest }>(
    '/sessions',
    { schema: { body: CreateSessionRequestSchema, response: { 201: SessionResponseSchema, ...errors } } },
    async (request, reply) => {
      const end = metrics.sessionCreationDuration.startTimer({ tier: request.body.tier });
      try {
        const session = await lifecycle.create(callerOf(request), request.body.tier);
        end({ outcome: 'active' });
        return reply.code(201).send(session);
      } catch (error) {
        end({ outcome: error instanceof ApiError ? error.code : 'error' });
        throw error;
      }
    },
  );

  app.get('/sessions', { schema: { response: { 200: SessionListResponseSchema } } }, async (request) => {
    const sessions = await lifecycle.list(callerOf(request));
    return { sessions: costs ? await costs.withCosts(sessions) : sessions };
  });

  const one = {
    schema: { params: SessionIdParamsSchema, response: { 200: SessionResponseSchema, ...errors } },
  };
  app.get<{ Params: IdParams }>('/sessions/:id', one, async (request) =>
    withCost(await lifecycle.get(callerOf(request), request.params.id)),
  );
  app.post<{ Params: IdParams }>('/sessions/:id/pause', one, (request) =>
    lifecycle.pause(callerOf(request), request.params.id),
  );
  app.post<{ Params: IdParams }>('/sessions/:id/resume', one, (request) =>
    lifecycle.resume(callerOf(request), request.params.id),
  );
  app.post<{ Params: IdParams; Body: ChangeTierRequest }>(
    '/sessions/:id/tier',
    { schema: { ...one.schema, body: ChangeTierRequestSchema } },
    async (request) =>
      withCost(await lifecycle.changeTier(callerOf(request), request.params.id, request.body.tier)),
  );
  app.delete<{ Params: IdParams }>('/sessions/:id', one, (request) =>
    lifecycle.terminate(callerOf(request), request.params.id),
  );
}
