import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { API_PREFIX, HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import { requireCaller, type AuthCounters } from '../api/authenticate.ts';
import type { Authenticator } from '../auth/principal.ts';

/** A check's outcome with the evidence it rests on. */
export interface CheckResult {
  ok: boolean;
  evidence: string;
}

const PROBE_HEADER = 'x-vsc-auth-probe';

/** The guarded route the live probes call: as registered, and a URL that reaches it. */
export interface ProbedRoute {
  route: string;
  url: string;
}

/** The orchestrator's: every user's sessions hang off it. */
const SESSIONS: ProbedRoute = { route: `${API_PREFIX}/sessions`, url: `${API_PREFIX}/sessions` };

/** The probe's own requests are not users: they must not move the auth or request metrics. */
const UNCOUNTED: AuthCounters = {
  handshakeChecks: { inc: () => undefined },
  authAttempts: { inc: () => undefined },
};

/** The stream route, public by design on every role that serves it. */
export const PUBLIC_STREAM_ROUTE: readonly [string, string] = [
  `GET ${API_PREFIX}/sessions/:id/stream`,
  'verifies its bearer token in the WebSocket handshake itself',
];
const UNCHECKED_METHODS = new Set(['HEAD', 'OPTIONS']);

const keyOf = (method: string, url: string): string => `${method} ${url}`;

function errorCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } };
    return typeof parsed.error?.code === 'string' ? parsed.error.code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The 45 "User authentication required" check, from the authentication actually applied: which `/api/v1`
 * routes were registered behind the bearer-token guard (noted as they are registered), and two requests through
 * the app itself that the guard must refuse — one without a token, one with a token no key signed. Probe
 * requests carry a per-process marker so the metrics do not count them as users' attempts.
 */
export class AuthProbe {
  private readonly marker = randomBytes(16).toString('hex');
  /** "METHOD /api/v1/…" → registered behind the guard. */
  private readonly routes = new Map<string, boolean>();

  /**
   * @param publicRoutes routes meant to be reachable without the guard ("GET /api/v1/…"), with the reason.
   * @param probed the GET route the live probes call (the stream gateway serves no session list).
   */
  constructor(
    private readonly publicRoutes: ReadonlyMap<string, string>,
    private readonly probed: ProbedRoute = SESSIONS,
  ) {}

  /**
   * Puts `scope`'s routes behind the bearer-token guard and notes them as guarded; the probe's own requests
   * are checked the same way but not counted.
   */
  guard(scope: FastifyInstance, auth: Authenticator, counters: AuthCounters): void {
    scope.addHook('onRoute', (route) => this.noteGuarded(route));
    const counted = requireCaller(auth, counters);
    const uncounted = requireCaller(auth, UNCOUNTED);
    scope.addHook('preHandler', (request) => (this.isProbe(request) ? uncounted(request) : counted(request)));
  }

  /** From the root `onRoute` hook: every route. */
  noteRoute(route: RouteOptions): void {
    for (const key of this.keys(route)) if (!this.routes.has(key)) this.routes.set(key, false);
  }

  /** From the guarded scope's `onRoute` hook. */
  noteGuarded(route: RouteOptions): void {
    for (const key of this.keys(route)) this.routes.set(key, true);
  }

  private keys(route: RouteOptions): string[] {
    if (!route.url.startsWith(API_PREFIX)) return [];
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    return methods.filter((m) => !UNCHECKED_METHODS.has(m)).map((m) => keyOf(m, route.url));
  }

  /** Whether a route is served, and behind the guard. */
  routeStatus(method: string, url: string): 'guarded' | 'unguarded' | 'absent' {
    const guarded = this.routes.get(keyOf(method, url));
    return guarded === undefined ? 'absent' : guarded ? 'guarded' : 'unguarded';
  }

  isProbe(request: FastifyRequest): boolean {
    return request.headers[PROBE_HEADER] === this.marker;
  }

  async check(app: FastifyInstance): Promise<CheckResult> {
    const problems: string[] = [];
    const unguarded = [...this.routes]
      .filter(([key, guarded]) => !guarded && !this.publicRoutes.has(key))
      .map(([key]) => key);
    if (unguarded.length > 0) problems.push(`served without the bearer-token check: ${unguarded.join(', ')}`);
    const { route, url } = this.probed;
    if (this.routeStatus('GET', route) === 'absent') problems.push(`GET ${route} is not served`);

    const probe = async (authorization?: string) => {
      const res = await app.inject({
        method: 'GET',
        url,
        headers: {
          [HANDSHAKE_HEADER]: HANDSHAKE,
          [PROBE_HEADER]: this.marker,
          ...(authorization ? { authorization } : {}),
        },
      });
      return { status: res.statusCode, code: errorCode(res.body) };
    };
    const expect = (what: string, got: { status: number; code?: string }, code: string) => {
      const answer = `${got.status}${got.code ? ` ${got.code}` : ''}`;
      if (got.status !== 401 || got.code !== code)
        problems.push(`${what} answered ${answer}, not 401 ${code}`);
      return answer;
    };
    const none = expect(`GET ${url} without a token`, await probe(), 'AUTH_REQUIRED');
    // Random every time, so no cache of verified tokens could ever hold it.
    const forged = `Bearer probe.${randomBytes(12).toString('base64url')}.unsigned`;
    const bad = expect(`GET ${url} with an unsigned token`, await probe(forged), 'AUTH_INVALID');

    const guardedCount = [...this.routes.values()].filter(Boolean).length;
    const open = [...this.publicRoutes]
      .filter(([key]) => this.routes.has(key))
      .map(([key, why]) => `${key} (${why})`);
    return problems.length > 0
      ? { ok: false, evidence: problems.join('; ') }
      : {
          ok: true,
          evidence: `${guardedCount} /api/v1 routes behind the bearer-token check${open.length ? `; public by design: ${open.join(', ')}` : ''}; probe GET ${url} without a token → ${none}, with an unsigned token → ${bad}`,
        };
  }
}
