import type { FastifyInstance } from 'fastify';
import type { LiveEvent } from '../../protocol/live-events.ts';
import type { SessionEventBus } from '../events/session-event-bus.ts';
import type { SessionLifecycle } from '../lifecycle/session-lifecycle.ts';
import type { SessionSampler } from '../observability/session-sampler.ts';
import { callerOf } from './authenticate.ts';

const KEEP_ALIVE_MS = 15_000;

/**
 * `GET /api/v1/events`: the caller's session changes and resource samples as server-sent events, so the
 * dashboard never polls. Only the caller's own sessions are ever sent.
 */
export function registerLiveEventsRoute(
  app: FastifyInstance,
  deps: { events: SessionEventBus; sampler: SessionSampler; lifecycle: SessionLifecycle },
): void {
  app.get('/events', async (request, reply) => {
    const caller = callerOf(request);
    const own = new Set((await deps.lifecycle.list(caller)).map((s) => s.sessionId));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'access-control-allow-origin': request.headers.origin ?? '*',
    });
    const send = (e: LiveEvent): void => {
      res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
    };
    res.write(`retry: 3000\n: connected\n\n`);
    const offEvents = deps.events.subscribe((e) => {
      if (e.session.userId !== caller.userId || e.session.tenantId !== caller.tenantId) return;
      own.add(e.session.sessionId);
      send({ event: 'session.changed', data: { session: e.session, previousState: e.previousState } });
    });
    const offSamples = deps.sampler.onSample((sample) => {
      if (own.has(sample.sessionId)) send({ event: 'metrics.sample', data: sample });
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    const close = (): void => {
      clearInterval(keepAlive);
      offEvents();
      offSamples();
    };
    request.raw.once('close', close);
    res.once('error', close);
  });
}
