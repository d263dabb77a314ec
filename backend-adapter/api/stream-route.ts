import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { SessionIdParamsSchema } from '../../protocol/api.ts';
import { ERRORS } from '../../protocol/errors.ts';
import { HANDSHAKE } from '../../protocol/handshake.ts';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOL,
  StreamCloseCode,
} from '../../protocol/stream.ts';
import { ApiError } from '../api-error.ts';
import type { Authenticator } from '../auth/principal.ts';
import type { StreamStats } from '../observability/stream-stats.ts';
import { authenticate, type AuthCounters } from './authenticate.ts';
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
  deps: {
    auth: Authenticator;
    lifecycle: SessionLifecycle;
    logger: Logger;
    streams: StreamStats;
    metrics: AuthCounters;
  },
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
        const handshake = offered.includes(HANDSHAKE_SUBPROTOCOL) ? HANDSHAKE : undefined;
        const principal = await authenticate(deps.auth, deps.metrics, handshake, () => {
          const bearer = offered.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
          if (!bearer) throw new ApiError('AUTH_REQUIRED');
          return bearer.slice(BEARER_SUBPROTOCOL_PREFIX.length);
        });
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
      const sessionId = request.params.id;
      const viewer = deps.streams.observe(sessionId, () => deps.lifecycle.recordActivity(sessionId));
      try {
        const target = await deps.lifecycle.streamTarget(principal, sessionId);
        await bridgeStream(socket, target, {
          logger: deps.logger.child({ sessionId, userId: principal.userId }),
          observer: viewer.observer,
        });
      } catch (error) {
        const code =
          error instanceof ApiError && error.status === 404
            ? StreamCloseCode.NotFound
            : StreamCloseCode.NotStreamable;
        socket.close(code, error instanceof Error ? error.message.slice(0, 120) : 'stream failed');
      } finally {
        viewer.release();
      }
    },
  );
}
