import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ERRORS, type ErrorBody, type ErrorCode } from '../../protocol/errors.ts';
import { ApiError } from '../api-error.ts';

export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  message?: string,
  details?: unknown,
): FastifyReply {
  const body: ErrorBody = { error: { code, message: message ?? ERRORS[code].message } };
  if (details !== undefined) body.error.details = details;
  return reply.code(ERRORS[code].status).type('application/json').send(body);
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_REQUEST',
};

/** Every failure leaves as `{error: {code, message}}` with the code's status; internals are never shown. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) return sendError(reply, error.code, error.message, error.details);
    if (error.validation) {
      return sendError(reply, 'BAD_REQUEST', `Invalid request: ${error.message}`, {
        issues: error.validation.map((v) => ({ path: v.instancePath, message: v.message })),
      });
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return sendError(reply, mapped);
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)
      return sendError(reply, 'BAD_REQUEST', error.message);
    request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, 'INTERNAL');
  });
}
