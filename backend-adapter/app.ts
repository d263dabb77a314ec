import cors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { HandshakeReportSchema } from '../protocol/api.ts';
import { API_PREFIX, HANDSHAKE } from '../protocol/handshake.ts';
import { STREAM_SUBPROTOCOL } from '../protocol/stream.ts';
import { registerDevLoginRoute } from './api/dev-login-routes.ts';
import { installErrorHandling, sendError } from './api/error-handler.ts';
import { requireCaller } from './api/authenticate.ts';
import { registerSessionRoutes } from './api/session-routes.ts';
import { registerStreamRoute } from './api/stream-route.ts';
import type { LocalIssuer } from './auth/local-issuer.ts';
import type { CanonStore } from './canon/canon-store.ts';
import type { AdapterConfig } from './config.ts';
import { buildHandshakeReport } from './handshake/handshake-report.ts';
import type { SessionLifecycle } from './lifecycle/session-lifecycle.ts';
import type { RuntimeProvider } from './runtime/runtime-provider.ts';

export interface AppDeps {
  config: AdapterConfig;
  logger: Logger;
  canon: CanonStore;
  runtime: RuntimeProvider;
  lifecycle: SessionLifecycle;
  issuer: LocalIssuer;
}

const BODY_LIMIT_BYTES = 64 * 1024;
const STREAM_MESSAGE_LIMIT_BYTES = 1024 * 1024;

/** The HTTP surface of the backend adapter: health, the `/api/v1` REST API and streams, and the dev site. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Per-request lines would drown the lifecycle log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Fastify's defaults silently drop unknown fields and coerce types; a malformed request must be refused instead.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.decorateRequest('principal', null);
  installErrorHandling(app);

  await app.register(cors, {
    origin: deps.config.corsOrigins === '*' ? true : deps.config.corsOrigins,
    allowedHeaders: ['Authorization', 'Content-Type', 'X-N3XUS-Handshake'],
    methods: ['GET', 'POST', 'DELETE'],
  });
  await app.register(websocket, {
    options: {
      maxPayload: STREAM_MESSAGE_LIMIT_BYTES,
      handleProtocols: (protocols) => (protocols.has(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : false),
    },
  });

  app.get('/healthz', async () => ({ status: 'ok', handshake: HANDSHAKE }));

  await app.register(
    async (api) => {
      registerDevLoginRoute(api, deps.issuer, deps.config.devMode);
      registerStreamRoute(api, { auth: deps.issuer, lifecycle: deps.lifecycle, logger: deps.logger });
      await api.register(async (guarded) => {
        guarded.addHook('preHandler', requireCaller(deps.issuer));
        guarded.get('/handshake', { schema: { response: { 200: HandshakeReportSchema } } }, () =>
          buildHandshakeReport({ canon: deps.canon, runtime: deps.runtime }),
        );
        registerSessionRoutes(guarded, deps.lifecycle);
      });
    },
    { prefix: API_PREFIX },
  );

  const site = deps.config.staticSite;
  for (const [path, document] of Object.entries(site?.generatedJson ?? {})) {
    app.get(path, (_request, reply) => reply.header('cache-control', 'no-cache').send(document));
  }
  if (site) await app.register(fastifyStatic, { root: site.root, wildcard: false, index: 'index.html' });
  app.setNotFoundHandler((request, reply) => {
    const wantsPage =
      request.method === 'GET' &&
      !request.url.startsWith('/api/') &&
      request.headers.accept?.includes('text/html');
    if (site?.spaFallback && wantsPage) return reply.sendFile('index.html');
    return sendError(reply, 'NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`);
  });
  return app;
}
