import type { FastifyInstance } from 'fastify';
import { ErrorResponseSchema, SessionIdParamsSchema } from '../../protocol/api.ts';
import { THUMBNAIL_RATE_PER_MINUTE } from '../../protocol/thumbnails.ts';
import type { ThumbnailService } from '../thumbnails/thumbnail-service.ts';
import { callerOf } from './authenticate.ts';

/**
 * `GET /api/v1/sessions/:id/thumbnail`: a small PNG of the caller's own desktop for Active Sessions. Headers say
 * when it was taken and whether the desktop is paused (its last picture from before the pause).
 */
export function registerThumbnailRoute(app: FastifyInstance, thumbnails: ThumbnailService): void {
  app.get<{ Params: { id: string } }>(
    '/sessions/:id/thumbnail',
    {
      schema: {
        params: SessionIdParamsSchema,
        response: {
          204: { type: 'null', description: 'No picture yet' },
          404: ErrorResponseSchema,
          409: ErrorResponseSchema,
          429: ErrorResponseSchema,
        },
      },
      // Reads are not rate limited elsewhere; this one costs a desktop connection when the cache is cold.
      config: { rateLimit: { max: THUMBNAIL_RATE_PER_MINUTE, timeWindow: 60_000 } },
    },
    async (request, reply) => {
      const thumbnail = await thumbnails.thumbnailFor(callerOf(request), request.params.id);
      // No picture is a normal answer (a desktop paused before one was taken), not an error the browser logs.
      if (!thumbnail) return reply.code(204).header('cache-control', 'private, max-age=5').send();
      return reply
        .type('image/png')
        .header('cache-control', 'private, max-age=5')
        .header('x-thumbnail-state', thumbnail.state)
        .header('x-thumbnail-taken-at', thumbnail.takenAt)
        .header('access-control-expose-headers', 'X-Thumbnail-State, X-Thumbnail-Taken-At')
        .send(thumbnail.png);
    },
  );
}
