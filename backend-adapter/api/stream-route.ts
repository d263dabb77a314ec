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
  negotiateStreamVersion,
} from '../../protocol/stream.ts';
import { ApiError } from '../api-error.ts';
import type { Authenticator } from '../auth/principal.ts';
import type { StreamStats } from '../observability/stream-stats.ts';
import { authenticate, type AuthCounters } from './authenticate.ts';
import { bridgeStream } from '../gateway/stream-bridge.ts';
import type { WebRtcConfig } from '../gateway/webrtc-config.ts';
import type { SessionAccess } from '../lifecycle/session-access.ts';
import { sendError } from './error-handler.ts';
import type { WorkspaceService } from '../workspaces/workspace-service.ts';
import type { WorkspaceViewers } from '../workspaces/workspace-viewers.ts';

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
    access: Pick<SessionAccess, 'streamTarget' | 'recordActivity'>;
    logger: Logger;
    streams: StreamStats;
    metrics: AuthCounters;
    /**
     * Collaborative workspaces: members of an open workspace containing the session may stream it too,
     * with input gated here by their role and who holds control. Absent: owners and tenant admins only.
     */
    workspaces?: { service: WorkspaceService; viewers: WorkspaceViewers } | undefined;
    /** The WebRTC DataChannel transport (STREAM_WEBRTC…); absent: streams stay on their WebSocket. */
    config?: { webrtc?: WebRtcConfig | undefined } | undefined;
  },
): void {
  const access = (principal: Parameters<SessionAccess['streamTarget']>[0], sessionId: string) =>
    deps.workspaces
      ? deps.workspaces.service.streamAccess(principal, sessionId)
      : deps.access.streamTarget(principal, sessionId).then((target) => ({ target, via: 'owner' as const }));
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
        if (negotiateStreamVersion(offered) === null) {
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
        await access(principal, request.params.id);
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
      const viewer = deps.streams.observe(sessionId, () => deps.access.recordActivity(sessionId));
      let shared: ReturnType<WorkspaceViewers['register']> | undefined;
      try {
        const granted = await access(principal, sessionId);
        if (granted.via === 'workspace' && deps.workspaces) {
          const { service, viewers } = deps.workspaces;
          shared = viewers.register(granted.workspace, sessionId, principal.userId);
          // A change published between the check above and the registration is not missed: re-read it.
          const now = await service.current(granted.workspace.workspaceId);
          if (now) viewers.apply(now);
        }
        await bridgeStream(socket, granted.target, {
          logger: deps.logger.child({
            sessionId,
            userId: principal.userId,
            ...(granted.via === 'workspace' ? { workspaceId: granted.workspace.workspaceId } : {}),
          }),
          observer: viewer.observer,
          signal: shared?.signal,
          canSendInput: shared?.canSendInput,
          webrtc: deps.config?.webrtc,
          access: shared,
        });
      } catch (error) {
        const code =
          error instanceof ApiError && error.status === 404
            ? StreamCloseCode.NotFound
            : StreamCloseCode.NotStreamable;
        socket.close(code, error instanceof Error ? error.message.slice(0, 120) : 'stream failed');
      } finally {
        shared?.release();
        viewer.release();
      }
    },
  );
}
