import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ErrorResponseSchema, SessionIdParamsSchema } from '../../protocol/api.ts';
import {
  FileListResponseSchema,
  FileParamsSchema,
  StoredFileSchema,
  UploadHeadersSchema,
} from '../../protocol/content.ts';
import { UPLOAD_CONTENT_TYPE } from '../../protocol/content-constants.ts';
import { ApiError } from '../api-error.ts';
import type { ContentService } from '../content/content-service.ts';
import { contentDisposition } from '../content/file-names.ts';
import { callerOf } from './authenticate.ts';

const errors = {
  400: ErrorResponseSchema,
  404: ErrorResponseSchema,
  409: ErrorResponseSchema,
  413: ErrorResponseSchema,
  415: ErrorResponseSchema,
};

/**
 * v-content for sessions. Uploads are the raw bytes (`application/octet-stream`, name in `X-File-Name`),
 * streamed to disk with the size limit enforced as they arrive; multipart is not accepted.
 */
export function registerContentRoutes(app: FastifyInstance, content: ContentService): void {
  void app.register(async (scope) => {
    // Only in this scope: the body is handed over unread, so nothing is received before the checks pass.
    scope.addContentTypeParser(UPLOAD_CONTENT_TYPE, (_request, payload, done) => done(null, payload));

    scope.post<{ Params: { id: string }; Headers: { 'x-file-name': string } }>(
      '/sessions/:id/files',
      {
        schema: {
          params: SessionIdParamsSchema,
          headers: UploadHeadersSchema,
          consumes: [UPLOAD_CONTENT_TYPE],
          response: { 201: StoredFileSchema, ...errors },
        },
      },
      async (request, reply) => {
        const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
        if (type !== UPLOAD_CONTENT_TYPE) {
          throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `Upload the raw bytes as ${UPLOAD_CONTENT_TYPE}.`);
        }
        const length = request.headers['content-length'];
        const declared = length === undefined ? undefined : Number(length);
        const body = request.body instanceof Readable ? request.body : Readable.from([]);
        try {
          const stored = await content.upload(
            callerOf(request),
            request.params.id,
            request.headers['x-file-name'],
            body,
            Number.isFinite(declared) ? declared : undefined,
          );
          return await reply.code(201).send(stored);
        } catch (error) {
          // A refused upload is not read to its end: close the connection rather than drain it.
          if (!body.readableEnded) reply.header('connection', 'close');
          throw error;
        }
      },
    );
  });

  app.get<{ Params: { id: string } }>(
    '/sessions/:id/files',
    {
      schema: {
        params: SessionIdParamsSchema,
        response: { 200: FileListResponseSchema, 404: ErrorResponseSchema },
      },
    },
    async (request) => ({ files: await content.list(callerOf(request), request.params.id) }),
  );

  app.get<{ Params: { id: string; name: string } }>(
    '/sessions/:id/files/:name',
    { schema: { params: FileParamsSchema, response: { 404: ErrorResponseSchema } } },
    async (request, reply) => {
      const { file, stream } = await content.download(
        callerOf(request),
        request.params.id,
        request.params.name,
      );
      return reply
        .type(UPLOAD_CONTENT_TYPE)
        .header('content-length', String(file.size))
        .header('content-disposition', contentDisposition(file.name))
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'private, no-store')
        .header('x-content-sha256', file.sha256)
        .send(stream);
    },
  );
}
