import type { FastifyInstance } from 'fastify';
import { ErrorResponseSchema } from '../../protocol/api.ts';
import {
  EraseRequestSchema,
  ErasureResponseSchema,
  PrivacyExportQuerySchema,
  PrivacyExportSchema,
  type EraseRequest,
} from '../../protocol/privacy.ts';
import type { PrivacyService } from '../privacy/privacy-service.ts';
import { callerOf } from './authenticate.ts';

/** GDPR/CCPA: data export and erasure, for oneself or (tenant admins) a user of the tenant. */
export function registerPrivacyRoutes(app: FastifyInstance, privacy: PrivacyService): void {
  app.get<{ Querystring: { userId?: string } }>(
    '/privacy/export',
    {
      schema: {
        querystring: PrivacyExportQuerySchema,
        response: { 200: PrivacyExportSchema, 403: ErrorResponseSchema },
      },
    },
    async (request, reply) => {
      const document = await privacy.export(callerOf(request), request.query.userId);
      return reply
        .header('cache-control', 'private, no-store')
        .header(
          'content-disposition',
          `attachment; filename="v-supercore-export-${document.exportedAt.slice(0, 10)}.json"`,
        )
        .send(document);
    },
  );

  app.post<{ Body: EraseRequest }>(
    '/privacy/erase',
    {
      schema: {
        body: EraseRequestSchema,
        response: { 200: ErasureResponseSchema, 403: ErrorResponseSchema, 409: ErrorResponseSchema },
      },
    },
    (request) => privacy.erase(callerOf(request), request.body.userId),
  );
}
