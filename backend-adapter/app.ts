import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { HandshakeReportSchema } from '../protocol/api.ts';
import { API_PREFIX } from '../protocol/handshake.ts';
import type { Analytics } from './analytics/analytics.ts';
import { registerDevLoginRoute } from './api/dev-login-routes.ts';
import { sendError } from './api/error-handler.ts';
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
import { AuthProbe, PUBLIC_STREAM_ROUTE } from './handshake/auth-probe.ts';
import { buildHandshakeReport } from './handshake/handshake-report.ts';
import type { SessionLifecycle } from './lifecycle/session-lifecycle.ts';
import type { AdapterMetrics } from './observability/prometheus-metrics.ts';
import type { SessionSampler } from './observability/session-sampler.ts';
import type { StreamStats } from './observability/stream-stats.ts';
import type { RuntimeProvider } from './runtime/runtime-provider.ts';
import type { EnforcerStatus } from './timeouts/timeout-enforcer.ts';
import { TIER_CATALOGUE } from './tiers/tier-catalogue.ts';
import { withTimeouts } from './tiers/tier-timeouts.ts';
import { createHttpServer } from './http-server.ts';

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
  PUBLIC_STREAM_ROUTE,
]);

/** The HTTP surface of the orchestrator (or of every role): the `/api/v1` REST API, streams, the dev site. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const authProbe = new AuthProbe(PUBLIC_API_ROUTES);
  const app = await createHttpServer({ ...deps, uncounted: (request) => authProbe.isProbe(request) });
  app.addHook('onRoute', (route) => authProbe.noteRoute(route));
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
  // The orchestrator role leaves the routes that open an RFB connection to the stream gateway.
  const servesStreams = deps.config.role !== 'orchestrator';

  await app.register(
    async (api) => {
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
      if (deps.issuer)
        registerDevLoginRoute(api, deps.issuer, deps.config.devMode, deps.config.auth.devSubscription);
      if (servesStreams) registerStreamRoute(api, { ...deps, access: deps.lifecycle });
      await api.register(async (guarded) => {
        authProbe.guard(guarded, deps.auth, deps.metrics);
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
        if (servesStreams) {
          const thumbnails = new ThumbnailService({ access: deps.lifecycle, events: deps.events });
          guarded.addHook('onClose', async () => thumbnails.close());
          registerThumbnailRoute(guarded, thumbnails);
        }
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
