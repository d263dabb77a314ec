import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import websocket from '@fastify/websocket';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { API_PREFIX, HANDSHAKE } from '../protocol/handshake.ts';
import { negotiateStreamVersion, streamSubprotocol } from '../protocol/stream.ts';
import { ApiError } from './api-error.ts';
import { installErrorHandling } from './api/error-handler.ts';
import type { CanonStore } from './canon/canon-store.ts';
import type { AdapterConfig } from './config.ts';
import { LazyRequestLogger } from './logging/lazy-request-logger.ts';
import type { GatewayMetrics } from './observability/gateway-metrics.ts';

export interface HttpServerDeps {
  config: Pick<AdapterConfig, 'corsOrigins' | 'rateLimitPerMinute'>;
  logger: Logger;
  canon: Pick<CanonStore, 'ping'>;
  metrics: GatewayMetrics;
  /** Present when several replicas share Redis: readiness depends on it. */
  redisPing?: () => Promise<boolean>;
  /** Requests left out of the request metrics (the handshake's own probes). */
  uncounted?: (request: FastifyRequest) => boolean;
}

const BODY_LIMIT_BYTES = 64 * 1024;
const STREAM_MESSAGE_LIMIT_BYTES = 1024 * 1024;

/**
 * The Fastify server every role starts from: strict validation and the common error answers, request metrics,
 * CORS, the per-user rate limit on mutating `/api/v1` calls, WebSocket streams with version negotiation, and
 * `/healthz`, `/readyz` and `/metrics`. The roles add their routes (app.ts, stream-gateway-app.ts).
 */
export async function createHttpServer(deps: HttpServerDeps): Promise<FastifyInstance> {
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
  app.addHook('onResponse', async (request, reply) => {
    if (deps.uncounted?.(request)) return;
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
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
  return app;
}
