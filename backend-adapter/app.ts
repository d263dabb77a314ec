import cors from '@fastify/cors';
import { join } from 'node:path';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { HandshakeReportSchema } from '../protocol/api.ts';
import { API_PREFIX, HANDSHAKE } from '../protocol/handshake.ts';
import { negotiateStreamVersion, streamSubprotocol } from '../protocol/stream.ts';
import type { Analytics } from './analytics/analytics.ts';
import { ApiError } from './api-error.ts';
import { requireCaller } from './api/authenticate.ts';
import { registerDevLoginRoute } from './api/dev-login-routes.ts';
import { installErrorHandling, sendError } from './api/error-handler.ts';
import { registerLiveEventsRoute } from './api/live-events-route.ts';
import { registerPreferencesRoutes } from './api/preferences-routes.ts';
import { registerAiRoutes } from './api/ai-routes.ts';
import { registerContentRoutes } from './api/content-routes.ts';
import { registerPrivacyRoutes } from './api/privacy-routes.ts';
import type { Integrations } from './integrations.ts';
import { registerResourceRoutes } from './api/resource-routes.ts';
import { registerSessionRoutes } from './api/session-routes.ts';
import { registerThumbnailRoute } from './api/thumbnail-route.ts';
import { ThumbnailService } from './thumbnails/thumbnail-service.ts';
import { registerBillingRoutes } from './api/billing-routes.ts';
import type { Billing } from './billing/start-billing.ts';
import { registerStreamRoute } from './api/stream-route.ts';
import { registerWorkspaceRoutes } from './api/workspace-routes.ts';
import type { WorkspaceService } from './workspaces/workspace-service.ts';
import type { WorkspaceViewers } from './workspaces/workspace-viewers.ts';
import type { LocalIssuer } from './auth/local-issuer.ts';
import type { Authenticator } from './auth/principal.ts';
import type { CanonStore } from './canon/canon-store.ts';
import type { AdapterConfig } from './config.ts';
import type { SessionEventBus } from './events/session-event-bus.ts';
import { AuthProbe } from './handshake/auth-probe.ts';
import { buildHandshakeReport } from './handshake/handshake-report.ts';
import type { SessionLifecycle } from './lifecycle/session-lifecycle.ts';
import type { AdapterMetrics } from './observability/prometheus-metrics.ts';
import type { SessionSampler } from './observability/session-sampler.ts';
import type { StreamStats } from './observability/stream-stats.ts';
import type { RuntimeProvider } from './runtime/runtime-provider.ts';
import type { EnforcerStatus } from './timeouts/timeout-enforcer.ts';
import { TIER_CATALOGUE } from './tiers/tier-catalogue.ts';
import { withTimeouts } from './tiers/tier-timeouts.ts';
import { LazyRequestLogger } from './logging/lazy-request-logger.ts';

export interface AppDeps {
  config: AdapterConfig;
  logger: Logger;
  canon: CanonStore;
  runtime: RuntimeProvider;
  lifecycle: SessionLifecycle;
  auth: Authenticator;
  /** The embedded issuer, for dev login; absent when tokens come from v-auth. */
  issuer?: LocalIssuer;
  events: SessionEventBus;
  sampler: SessionSampler;
  streams: StreamStats;
  metrics: AdapterMetrics;
  analytics: Analytics;
  /** N.E.X.U.S AI, v-content and privacy (integrations.ts). */
  integrations: Pick<Integrations, 'ai' | 'content' | 'privacy'>;
  /** Present when several replicas share Redis: readiness and the 55 check depend on it. */
  redisPing?: () => Promise<boolean>;
  /** NexCoin billing and tenant/phase governance: usage and invoice routes, costs, the 45/17 checks. */
  billing?: Billing;
  /** Collaborative workspaces: the routes, and who may stream a shared session with which input rights. */
  workspaces?: { service: WorkspaceService; viewers: WorkspaceViewers };
  /** The idle / maximum-length timeout pass: when it last ran (the 45 timeout check). */
  timeouts: { status(): EnforcerStatus };
}

/** `/api/v1` routes reachable without the bearer-token guard, on purpose. */
const PUBLIC_API_ROUTES: ReadonlyMap<string, string> = new Map([
  [`GET ${API_PREFIX}/openapi.json`, 'the API description'],
  [`POST ${API_PREFIX}/dev/login`, 'dev mode only'],
  [`GET ${API_PREFIX}/sessions/:id/stream`, 'verifies its bearer token in the WebSocket handshake itself'],
]);

/** The handshake's own probe requests are not users: they must not move the auth or request metrics. */
const UNCOUNTED = {
  handshakeChecks: { inc: () => undefined },
  authAttempts: { inc: () => undefined },
};

const BODY_LIMIT_BYTES = 64 * 1024;
const STREAM_MESSAGE_LIMIT_BYTES = 1024 * 1024;

/** The HTTP surface of the backend adapter: health, the `/api/v1` REST API and streams, and the dev site. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Per-request lines would drown the lifecycle log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings, options) => new LazyRequestLogger(logger, bindings, options),
    bodyLimit: BODY_LIMIT_BYTES,
    // Fastify's defaults silently drop unknown fields and coerce types; a malformed request must be refused instead.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.decorateRequest('principal', null);
  installErrorHandling(app);
  const authProbe = new AuthProbe(PUBLIC_API_ROUTES);
  app.addHook('onRoute', (route) => authProbe.noteRoute(route));
  app.addHook('onResponse', async (request, reply) => {
    if (authProbe.isProbe(request)) return;
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'v-SuperCore backend adapter',
        version: '1',
        description:
          'N3XUS v-COS module 18. Every /api/v1 call needs `Authorization: Bearer <v-auth JWT>` and `X-N3XUS-Handshake: 55-45-17`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          handshake: { type: 'apiKey', in: 'header', name: 'X-N3XUS-Handshake' },
        },
      },
      security: [{ bearer: [], handshake: [] }],
    },
  });
  await app.register(cors, {
    origin: deps.config.corsOrigins === '*' ? true : deps.config.corsOrigins,
    allowedHeaders: ['Authorization', 'Content-Type', 'X-N3XUS-Handshake', 'Last-Event-ID'],
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
  });
  // Mutating API calls are rate limited per user. This must run before the rate-limit plugin's own onRoute hook.
  const perUser = {
    max: deps.config.rateLimitPerMinute,
    timeWindow: 60_000,
    hook: 'preHandler' as const, // after authentication, so the limit is per user rather than per address
    keyGenerator: (request: FastifyRequest) => request.principal?.userId ?? request.ip,
    // Thrown by the plugin, so it leaves through the common error handler with its stable code.
    errorResponseBuilder: (_request: FastifyRequest, context: { ttl: number }) =>
      new ApiError('RATE_LIMITED', `Too many requests; try again in ${Math.ceil(context.ttl / 1000)} s.`),
  };
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (route.url.startsWith(API_PREFIX) && methods.some((m) => !['GET', 'HEAD', 'OPTIONS'].includes(m))) {
      route.config = { ...route.config, rateLimit: perUser };
    }
  });
  await app.register(rateLimit, { global: false, ...perUser });
  await app.register(websocket, {
    options: {
      maxPayload: STREAM_MESSAGE_LIMIT_BYTES,
      // Stream version negotiation: the highest version both ends speak (see protocol/stream.ts).
      handleProtocols: (protocols) => {
        const version = negotiateStreamVersion(protocols);
        return version === null ? false : streamSubprotocol(version);
      },
    },
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok', handshake: HANDSHAKE }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks: Record<string, boolean> = { canon: await deps.canon.ping().catch(() => false) };
    if (deps.redisPing) checks.redis = await deps.redisPing().catch(() => false);
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', checks });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );

  await app.register(
    async (api) => {
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      if (deps.issuer)
        registerDevLoginRoute(api, deps.issuer, deps.config.devMode, deps.config.auth.devSubscription);
      registerStreamRoute(api, { ...deps, access: deps.lifecycle });
      await api.register(async (guarded) => {
        guarded.addHook('onRoute', (route) => authProbe.noteGuarded(route));
        const counted = requireCaller(deps.auth, deps.metrics);
        const uncounted = requireCaller(deps.auth, UNCOUNTED);
        guarded.addHook('preHandler', (request) =>
          authProbe.isProbe(request) ? uncounted(request) : counted(request),
        );
        const { config } = deps;
        guarded.get('/handshake', { schema: { response: { 200: HandshakeReportSchema } } }, () =>
          buildHandshakeReport({
            canon: deps.canon,
            runtime: deps.runtime,
            policy: config.policy,
            phase: config.billing.phase,
            sessionsDir: join(config.dataDir, 'sessions'),
            kubernetes: {
              namespace: config.kubernetes.namespace,
              image: config.kubernetes.image,
              storageClass: config.kubernetes.storageClass,
              runAsUser: config.kubernetes.runAsUser,
            },
            timeouts: deps.timeouts,
            auth: {
              routeStatus: (method, url) => authProbe.routeStatus(method, url),
              check: () => authProbe.check(app),
            },
            privacy: deps.integrations.privacy,
            redisPing: deps.redisPing,
            governance: deps.billing,
          }),
        );
        registerSessionRoutes(
          guarded,
          deps.lifecycle,
          deps.metrics,
          deps.billing,
          withTimeouts(TIER_CATALOGUE, config.policy.tierTimeouts),
        );
        const thumbnails = new ThumbnailService({ access: deps.lifecycle, events: deps.events });
        guarded.addHook('onClose', async () => thumbnails.close());
        registerThumbnailRoute(guarded, thumbnails);
        if (deps.billing) registerBillingRoutes(guarded, deps.billing.statements);
        registerLiveEventsRoute(guarded, deps);
        registerPreferencesRoutes(guarded, deps.canon);
        registerResourceRoutes(guarded, { ...deps, policy: deps.config.policy });
        registerAiRoutes(guarded, deps.integrations.ai);
        registerContentRoutes(guarded, deps.integrations.content);
        registerPrivacyRoutes(guarded, deps.integrations.privacy);
        if (deps.workspaces) registerWorkspaceRoutes(guarded, deps.workspaces.service);
      });
    },
    { prefix: API_PREFIX },
  );

  const site = deps.config.staticSite;
  for (const [path, document] of Object.entries(site?.generatedJson ?? {})) {
    app.get(path, { schema: { hide: true } }, (_request, reply) =>
      reply.header('cache-control', 'no-cache').send(document),
    );
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
