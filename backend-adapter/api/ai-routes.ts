import type { FastifyInstance } from 'fastify';
import {
  PREDICTION_HOURS,
  PredictionsQuerySchema,
  PredictionsResponseSchema,
  RecommendationsResponseSchema,
} from '../../protocol/ai.ts';
import { ErrorResponseSchema, SessionIdParamsSchema } from '../../protocol/api.ts';
import type { AiService } from '../ai/ai-service.ts';
import { ApiError } from '../api-error.ts';
import { callerOf } from './authenticate.ts';

/** N.E.X.U.S AI: a session's recommendations and the caller's launch forecast. */
export function registerAiRoutes(app: FastifyInstance, ai: AiService): void {
  app.get<{ Params: { id: string } }>(
    '/sessions/:id/recommendations',
    {
      schema: {
        params: SessionIdParamsSchema,
        response: { 200: RecommendationsResponseSchema, 404: ErrorResponseSchema },
      },
    },
    (request) => ai.recommendations(callerOf(request), request.params.id),
  );

  app.get<{ Querystring: { hours?: string } }>(
    '/predictions',
    { schema: { querystring: PredictionsQuerySchema, response: { 200: PredictionsResponseSchema } } },
    (request) => {
      const hours = Number(request.query.hours ?? PREDICTION_HOURS.default);
      if (hours < PREDICTION_HOURS.min || hours > PREDICTION_HOURS.max) {
        throw new ApiError(
          'BAD_REQUEST',
          `hours must be from ${PREDICTION_HOURS.min} to ${PREDICTION_HOURS.max}.`,
        );
      }
      return ai.predictions(callerOf(request), hours);
    },
  );
}
