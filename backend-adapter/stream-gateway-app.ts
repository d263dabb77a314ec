import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { HandshakeReportSchema } from '../protocol/api.ts';
import { API_PREFIX } from '../protocol/handshake.ts';
import { sendError } from './api/error-handler.ts';
import { registerStreamRoute } from './api/stream-route.ts';
import { registerThumbnailRoute } from './api/thumbnail-route.ts';
import type { Authenticator } from './auth/principal.ts';
import type { CanonStore } from './canon/canon-store.ts';
import type { AdapterConfig } from './config.ts';
import type { SessionEventBus } from './events/session-event-bus.ts';
import { AuthProbe, PUBLIC_STREAM_ROUTE } from './handshake/auth-probe.ts';
import { buildGatewayHandshakeReport } from './handshake/gateway-handshake-report.ts';
import { createHttpServer } from './http-server.ts';
import type { SessionAccess } from './lifecycle/session-access.ts';
import type { GatewayMetrics } from './observability/gateway-metrics.ts';
import type { StreamStats } from './observability/stream-stats.ts';
import { ThumbnailService } from './thumbnails/thumbnail-service.ts';
import type { WorkspaceService } from './workspaces/workspace-service.ts';
import type { WorkspaceViewers } from './workspaces/workspace-viewers.ts';

/** The gateway's `/api/v1` routes reachable without the bearer-token guard, on purpose. */
const PUBLIC_GATEWAY_ROUTES: ReadonlyMap<string, string> = new Map([PUBLIC_STREAM_ROUTE]);

export interface StreamGatewayAppDeps {
  config: AdapterConfig;
  logger: Logger;
  canon: CanonStore;
  auth: Authenticator;
  access: SessionAccess;
  /** Ended sessions' thumbnails are dropped when the bus says so. */
  events: SessionEventBus;
  streams: StreamStats;
  metrics: GatewayMetrics;
  workspaces: { service: WorkspaceService; viewers: WorkspaceViewers };
  redisPing?: () => Promise<boolean>;
}

/**
 * The stream gateway role's HTTP surface: the two routes that open an RFB connection to a session's desktop
 * (the stream, and the thumbnail that grabs one frame), with the same token, handshake and ownership checks
 * as the orchestrator, its own 55-45-17 report, health and metrics. Every other route answers 404 NOT_FOUND.
 */
export async function buildStreamGatewayApp(deps: StreamGatewayAppDeps): Promise<FastifyInstance> {
  const authProbe = new AuthProbe(PUBLIC_GATEWAY_ROUTES, {
    route: `${API_PREFIX}/sessions/:id/thumbnail`,
    url: `${API_PREFIX}/sessions/handshake-probe/thumbnail`,
  });
  const app = await createHttpServer({ ...deps, uncounted: (request) => authProbe.isProbe(request) });
  app.addHook('onRoute', (route) => authProbe.noteRoute(route));
  await app.register(
    async (api) => {
      registerStreamRoute(api, deps);
      await api.register(async (guarded) => {
        authProbe.guard(guarded, deps.auth, deps.metrics);
        const thumbnails = new ThumbnailService({ access: deps.access, events: deps.events });
        guarded.addHook('onClose', async () => thumbnails.close());
        registerThumbnailRoute(guarded, thumbnails);
        guarded.get('/handshake', { schema: { response: { 200: HandshakeReportSchema } } }, () =>
          buildGatewayHandshakeReport({
            canon: deps.canon,
            ...(deps.redisPing ? { redisPing: deps.redisPing } : {}),
            auth: { check: () => authProbe.check(app) },
          }),
        );
      });
    },
    { prefix: API_PREFIX },
  );
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      'NOT_FOUND',
      `No route ${request.method} ${request.url.split('?')[0]} on the stream gateway, which serves session streams and thumbnails only.`,
    ),
  );
  return app;
}
