import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { SessionIdParamsSchema } from '../../protocol/api.ts';
import { ERRORS } from '../../protocol/errors.ts';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOL,
  StreamCloseCode,
} from '../../protocol/stream.ts';
import { ApiError } from '../api-error.ts';
import type { Authenticator } from '../auth/principal.ts';
import { bridgeStream } from '../gateway/stream-bridge.ts';
import type { SessionLifecycle } from '../lifecycle/session-lifecycle.ts';
import { sendError } from './error-handler.ts';

function offeredProtocols(request: FastifyRequest): string[] {
  const header = request.headers['sec-websocket-protocol'];
  return (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/**
 * `GET /api/v1/sessions/:id/stream` (WebSocket). Browsers cannot set headers on a WebSocket, so the
 * bearer token and the handshake travel as subprotocols; everything is checked before the upgrade.
 */
export function registerStreamRoute(
  app: FastifyInstance,
  deps: { auth: Authenticator; lifecycle: SessionLifecycle; logger: Logger },
): void {
  app.get<{ Params: { id: string } }>(
    '/sessions/:id/stream',
    {
      websocket: true,
      schema: { params: SessionIdParamsSchema },
      preValidation: async (request, reply) => {
        if (request.headers.upgrade?.toLowerCase() !== 'websocket') {
          return sendError(reply, 'BAD_REQUEST', 'This endpoint only speaks WebSocket.');
        }
        const offered = offeredProtocols(request);
        if (!offered.includes(STREAM_SUBPROTOCOL)) {
          return sendError(reply, 'BAD_REQUEST', `The ${STREAM_SUBPROTOCOL} subprotocol is required.`);
        }
        if (!offered.includes(HANDSHAKE_SUBPROTOCOL)) return sendError(reply, 'HANDSHAKE_REQUIRED');
        const bearer = offered.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
        if (!bearer) return sendError(reply, 'AUTH_REQUIRED');
        const principal = await deps.auth.verify(bearer.slice(BEARER_SUBPROTOCOL_PREFIX.length));
        request.principal = principal;
        // Resolving the target here means a missing or stopped session is refused before the upgrade.
        await deps.lifecycle.streamTarget(principal, request.params.id);
        return undefined;
      },
    },
    async (socket, request) => {
      const principal = request.principal;
      if (!principal) {
        socket.close(StreamCloseCode.AuthFailed, ERRORS.AUTH_REQUIRED.message);
        return;
      }
      try {
        const target = await deps.lifecycle.streamTarget(principal, request.params.id);
        await bridgeStream(socket, target, {
          logger: deps.logger.child({ sessionId: request.params.id, userId: principal.userId }),
        });
      } catch (error) {
        const code =
          error instanceof ApiError && error.status === 404
            ? StreamCloseCode.NotFound
            : StreamCloseCode.NotStreamable;
        socket.close(code, error instanceof Error ? error.message.slice(0, 120) : 'stream failed');
      }
    },
  );
}
