/**
 * FakeApi: an in-memory stand-in for the backend adapter's `/api/v1`, served through a `fetch` function that
 * is handed to `new ApiClient({ fetch })`. It honours the real routes' semantics: handshake header first (412),
 * then the bearer token (401); the IMVU transitions (pause from active, resume from paused, terminate from
 * active/paused/failed, else 409 ILLEGAL_TRANSITION); unknown tiers (400 UNKNOWN_TIER); other users' sessions
 * reported as missing (404 SESSION_NOT_FOUND); and the `{ error: { code, message } }` body of every error.
 */
import type { Session, SessionState, Tier } from '../../../../protocol/session.ts';
import { ERRORS, type ErrorCode } from '../../../../protocol/errors.ts';
import { ApiClient } from '../../../../module/api/api-client.ts';

export const FAKE_BASE = 'https://supercore.test';
export const FAKE_TOKEN = 'token-alice';

export const FAKE_TIERS: Tier[] = [
  {
    id: 'basic',
    label: 'Basic',
    resources: {
      cpuMillicores: 1000,
      memoryMiB: 2048,
      storageGiB: 10,
      gpus: 0,
      display: { width: 1280, height: 720 },
    },
    microNexCoinPerHour: 500_000,
  },
  {
    id: 'standard',
    label: 'Standard',
    resources: {
      cpuMillicores: 2000,
      memoryMiB: 4096,
      storageGiB: 25,
      gpus: 0,
      display: { width: 1280, height: 800 },
    },
    microNexCoinPerHour: 1_000_000,
  },
  {
    id: 'gpu',
    label: 'GPU',
    resources: {
      cpuMillicores: 8000,
      memoryMiB: 32768,
      storageGiB: 200,
      gpus: 1,
      display: { width: 1920, height: 1080 },
    },
    microNexCoinPerHour: 15_000_000,
  },
];

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

interface Gate {
  promise: Promise<void>;
  release: () => void;
}

function gate(): Gate {
  let release = (): void => undefined;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

const ACTIONS = {
  pause: { from: ['active'], to: 'paused' },
  resume: { from: ['paused'], to: 'active' },
  terminate: { from: ['active', 'paused', 'failed'], to: 'terminated' },
} as const satisfies Record<string, { from: readonly SessionState[]; to: SessionState }>;

export class FakeApi {
  readonly requests: RecordedRequest[] = [];
  readonly sessions = new Map<string, Session>();
  tiers: Tier[] = FAKE_TIERS;
  /** token → user id. */
  readonly users = new Map<string, string>([[FAKE_TOKEN, 'alice']]);

  /** When set, POST /sessions waits for this gate with the session in `provisioning` (as the real one does). */
  private createGate: Gate | null = null;
  /** The next create fails at provisioning with RUNTIME_FAILED and this reason. */
  failNextCreate: string | null = null;
  /** When true, POST /sessions answers at once with `provisioning`; it turns active after `pollsToActive` GETs. */
  asyncCreate = false;
  pollsToActive = 1;
  /** Fail every request to this path (e.g. `/sessions`) with this error. */
  failures = new Map<string, ErrorCode>();
  /** Number of fetches currently in flight. */
  inFlight = 0;
  private counter = 0;
  private polls = new Map<string, number>();

  /** The fetch implementation to hand to the ApiClient. */
  readonly fetch = async (input: string, init: RequestInit): Promise<Response> => {
    this.inFlight++;
    try {
      init.signal?.throwIfAborted();
      return await this.handle(input, init);
    } finally {
      this.inFlight--;
    }
  };

  client(getToken: () => Promise<string> = async () => FAKE_TOKEN): ApiClient {
    return new ApiClient({ apiBase: FAKE_BASE, getToken, fetch: this.fetch });
  }

  /** Holds the next creates in flight (state `provisioning`) until `release()`. */
  holdCreates(): () => void {
    const g = gate();
    this.createGate = g;
    return () => {
      this.createGate = null;
      g.release();
    };
  }

  /** Adds a session directly (as if created earlier). */
  seed(partial: Partial<Session> & { state: SessionState }, userId = 'alice'): Session {
    const tier = this.tiers.find((t) => t.id === (partial.tier ?? 'standard')) ?? (FAKE_TIERS[1] as Tier);
    const now = new Date(Date.UTC(2026, 0, 12, 10, 0, this.counter)).toISOString();
    const session: Session = {
      sessionId: partial.sessionId ?? this.nextId(),
      userId,
      tenantId: 'tenant-1',
      tier: tier.id,
      resources: tier.resources,
      createdAt: now,
      canonTimestamp: now,
      handshake: '55-45-17',
      ...partial,
    };
    this.sessions.set(session.sessionId, session);
    return session;
  }

  count(method: string, path: string): number {
    return this.requests.filter((r) => r.method === method && r.path === path).length;
  }

  private nextId(): string {
    this.counter++;
    return `${this.counter.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
  }

  private async handle(input: string, init: RequestInit): Promise<Response> {
    const url = new URL(input);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    const body: unknown = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    const prefix = '/api/v1';
    if (url.origin !== FAKE_BASE || !url.pathname.startsWith(prefix)) return this.error('NOT_FOUND');
    const path = url.pathname.slice(prefix.length);
    this.requests.push({ method, path, headers, body });

    if (headers.get('x-n3xus-handshake') !== '55-45-17') return this.error('HANDSHAKE_REQUIRED');
    const auth = /^Bearer (.+)$/.exec(headers.get('authorization') ?? '');
    if (!auth?.[1]) return this.error('AUTH_REQUIRED');
    const userId = this.users.get(auth[1]);
    if (!userId) return this.error('AUTH_INVALID');
    const failure = this.failures.get(path);
    if (failure) return this.error(failure);

    if (method === 'GET' && path === '/tiers') return this.json(200, { tiers: this.tiers });
    if (method === 'GET' && path === '/sessions') {
      return this.json(200, { sessions: [...this.sessions.values()].filter((s) => s.userId === userId) });
    }
    if (method === 'POST' && path === '/sessions') return this.create(userId, body, init.signal ?? undefined);

    const match = /^\/sessions\/([A-Za-z0-9_-]+)(?:\/(pause|resume))?$/.exec(path);
    if (!match?.[1]) return this.error('NOT_FOUND');
    const session = this.sessions.get(match[1]);
    if (!session || session.userId !== userId) return this.error('SESSION_NOT_FOUND');
    const verb = match[2];
    if (method === 'GET' && !verb) return this.json(200, this.poll(session));
    if (method === 'POST' && (verb === 'pause' || verb === 'resume')) return this.transition(session, verb);
    if (method === 'DELETE' && !verb) return this.transition(session, 'terminate');
    return this.error('NOT_FOUND');
  }

  private poll(session: Session): Session {
    if (this.asyncCreate && session.state === 'provisioning') {
      const n = (this.polls.get(session.sessionId) ?? 0) + 1;
      this.polls.set(session.sessionId, n);
      if (n >= this.pollsToActive) return this.set(session, 'active');
    }
    return session;
  }

  private async create(userId: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
    const tierId = typeof body === 'object' && body !== null ? (body as { tier?: unknown }).tier : undefined;
    if (typeof tierId !== 'string' || tierId === '') return this.error('BAD_REQUEST');
    const tier = this.tiers.find((t) => t.id === tierId);
    if (!tier) return this.error('UNKNOWN_TIER', `There is no resource tier called "${tierId}".`);
    let session = this.seed({ tier: tier.id, state: 'requested' }, userId);
    session = this.set(session, 'provisioning');
    if (this.asyncCreate) return this.json(201, session);
    if (this.createGate) {
      const held = this.createGate.promise;
      await new Promise<void>((resolve, reject) => {
        void held.then(resolve);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }
    if (this.failNextCreate !== null) {
      const reason = this.failNextCreate;
      this.failNextCreate = null;
      this.set(session, 'failed', reason);
      return this.error('RUNTIME_FAILED', `The desktop could not be started: ${reason}`, {
        sessionId: session.sessionId,
      });
    }
    return this.json(201, this.set(session, 'active'));
  }

  private transition(session: Session, action: keyof typeof ACTIONS): Response {
    const rule = ACTIONS[action];
    if (!(rule.from as readonly SessionState[]).includes(session.state)) {
      return this.error('ILLEGAL_TRANSITION', `A ${session.state} session cannot ${action}.`, {
        state: session.state,
      });
    }
    return this.json(200, this.set(session, rule.to));
  }

  /** Changes a session's state (as the server's lifecycle would). */
  set(session: Session, state: SessionState, failureReason?: string): Session {
    const next: Session = { ...session, state, canonTimestamp: new Date().toISOString() };
    if (failureReason !== undefined) next.failureReason = failureReason;
    this.sessions.set(next.sessionId, next);
    return next;
  }

  private json(status: number, body: unknown): Response {
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }

  private error(code: ErrorCode, message?: string, details?: unknown): Response {
    const error: { code: ErrorCode; message: string; details?: unknown } = {
      code,
      message: message ?? ERRORS[code].message,
    };
    if (details !== undefined) error.details = details;
    return this.json(ERRORS[code].status, { error });
  }
}
