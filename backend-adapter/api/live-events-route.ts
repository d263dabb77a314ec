import type { FastifyInstance } from 'fastify';
import type { LiveEvent } from '../../protocol/live-events.ts';
import type { Session, SessionState } from '../../protocol/session.ts';
import type { Workspace } from '../../protocol/workspaces.ts';
import type { Principal } from '../auth/principal.ts';
import type { SessionEventBus } from '../events/session-event-bus.ts';
import type { SessionLifecycle } from '../lifecycle/session-lifecycle.ts';
import type { SessionSampler } from '../observability/session-sampler.ts';
import { callerOf } from './authenticate.ts';

const KEEP_ALIVE_MS = 15_000;
/**
 * How often each stream checks its sessions' cost so far (a change, once per started billing period, is pushed):
 * twice per period, at most every 10 s and at least every 0.5 s.
 */
export function costCheckIntervalMs(periodMs: number): number {
  return Math.min(10_000, Math.max(500, Math.floor(periodMs / 2)));
}

/** States in which the cost so far can still grow (billed at the Active or the storage rate). */
const COSTING: ReadonlySet<SessionState> = new Set(['active', 'pausing', 'paused', 'hibernated', 'resuming']);

/**
 * `GET /api/v1/events`: the caller's session changes, resource samples, cost so far and changes of the
 * collaborative workspaces they are in as server-sent events, so the dashboard never polls. Only the caller's own sessions are ever sent. Session changes carry the session's
 * cost so far (when billing runs); while a session can still cost more, a `session.cost` event follows each
 * change of its cost.
 */
export function registerLiveEventsRoute(
  app: FastifyInstance,
  deps: {
    events: SessionEventBus;
    sampler: SessionSampler;
    lifecycle: SessionLifecycle;
    billing?:
      | {
          withCosts(sessions: Session[]): Promise<Session[]>;
          metering: { readonly policy: { readonly periodMs: number } };
        }
      | undefined;
    /** Collaborative workspaces: changes of those the caller is in are pushed as `workspace.changed`. */
    workspaces?:
      | {
          service: {
            list(principal: Principal): Promise<Workspace[]>;
            onChange(listener: (workspace: Workspace) => void): () => void;
          };
        }
      | undefined;
  },
): void {
  const costs = deps.billing;
  const withCost = async (session: Session): Promise<Session> =>
    costs ? ((await costs.withCosts([session]).catch(() => [session]))[0] ?? session) : session;

  app.get('/events', async (request, reply) => {
    const caller = callerOf(request);
    const own = new Set((await deps.lifecycle.list(caller)).map((s) => s.sessionId));
    const workspaceService = deps.workspaces?.service;
    /** Workspaces the caller is in: a change that removes them is still sent to them, once. */
    const inWorkspaces = new Set(
      workspaceService ? (await workspaceService.list(caller)).map((w) => w.workspaceId) : [],
    );
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'access-control-allow-origin': request.headers.origin ?? '*',
    });
    let closed = false;
    const send = (e: LiveEvent): void => {
      if (!closed) res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
    };
    /** Costs are looked up asynchronously; this chain keeps every event in the order it happened. */
    let queue: Promise<void> = Promise.resolve();
    const enqueue = (produce: () => Promise<LiveEvent | null> | LiveEvent | null): void => {
      queue = queue.then(async () => {
        const event = await produce();
        if (event) send(event);
      });
    };
    /** The last cost sent per session, so only changes are pushed. */
    const sentCost = new Map<string, number>();
    const noteCost = (session: Session): void => {
      if (session.costSoFarMicroNexCoin !== undefined)
        sentCost.set(session.sessionId, session.costSoFarMicroNexCoin);
    };

    res.write(`retry: 3000\n: connected\n\n`);
    const offEvents = deps.events.subscribe((e) => {
      if (e.session.userId !== caller.userId || e.session.tenantId !== caller.tenantId) return;
      own.add(e.session.sessionId);
      enqueue(async () => {
        const session = await withCost(e.session);
        noteCost(session);
        return { event: 'session.changed', data: { session, previousState: e.previousState } };
      });
    });
    const offSamples = deps.sampler.onSample((sample) => {
      if (own.has(sample.sessionId)) enqueue(() => ({ event: 'metrics.sample', data: sample }));
    });
    const offWorkspaces = workspaceService?.onChange((workspace) => {
      if (workspace.tenantId !== caller.tenantId) return;
      const member = workspace.members.some((m) => m.userId === caller.userId);
      if (member) inWorkspaces.add(workspace.workspaceId);
      else if (!inWorkspaces.delete(workspace.workspaceId)) return;
      enqueue(() => ({ event: 'workspace.changed', data: { workspace } }));
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    let checking = false;
    const checkCosts = async (): Promise<void> => {
      if (!costs || checking || closed) return;
      checking = true;
      try {
        const live = (await deps.lifecycle.list(caller)).filter((s) => COSTING.has(s.state));
        if (live.length === 0) return;
        const priced = await costs.withCosts(live);
        const at = new Date().toISOString();
        for (const s of priced) {
          const cost = s.costSoFarMicroNexCoin;
          if (cost === undefined || sentCost.get(s.sessionId) === cost) continue;
          sentCost.set(s.sessionId, cost);
          enqueue(() => ({
            event: 'session.cost',
            data: { sessionId: s.sessionId, costSoFarMicroNexCoin: cost, at },
          }));
        }
      } catch (error) {
        request.log.warn({ err: error }, 'live events: cost check failed');
      } finally {
        checking = false;
      }
    };
    const costTimer = costs
      ? setInterval(() => void checkCosts(), costCheckIntervalMs(costs.metering.policy.periodMs))
      : undefined;
    const close = (): void => {
      closed = true;
      clearInterval(keepAlive);
      clearInterval(costTimer);
      offEvents();
      offSamples();
      offWorkspaces?.();
    };
    request.raw.once('close', close);
    res.once('error', close);
  });
}
