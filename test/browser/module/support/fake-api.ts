/**
 * FakeApi: an in-memory stand-in for the backend adapter's `/api/v1`, served through a `fetch` function that
 * is handed to `new ApiClient({ fetch })`. It honours the real routes' semantics: handshake header first (412),
 * then the bearer token (401); the IMVU transitions (pause from active, resume from paused, terminate from
 * active/paused/failed, else 409 ILLEGAL_TRANSITION); unknown tiers (400 UNKNOWN_TIER); other users' sessions
 * reported as missing (404 SESSION_NOT_FOUND); and the `{ error: { code, message } }` body of every error.
 *
 * Also the dashboard's routes: `GET /events` (a text/event-stream per user that gets `session.changed` on every
 * state change and `metrics.sample` from `pushMetrics`; `: keep-alive` comments on demand), `GET
 * /sessions/:id/metrics?windowSeconds=`, `GET /quota` (live = not terminated or failed), `GET|PUT /preferences`
 * (validated like PreferencesWriteSchema; the server stamps `updatedAt`, last writer wins) and `POST /vitals`.
 */
import type { Session, SessionState, Tier } from '../../../../protocol/session.ts';
import type { CreateWorkspaceRequest, Workspace } from '../../../../protocol/workspaces.ts';
import { ERRORS, type ErrorCode } from '../../../../protocol/errors.ts';
import type { LiveEvent, MetricsSample } from '../../../../protocol/live-events.ts';
import type { Preferences, PreferencesResponse, PreferencesWrite } from '../../../../protocol/preferences.ts';
import { DEFAULT_PREFERENCES } from '../../../../protocol/preferences-defaults.ts';
import type { QuotaResponse, WebVital } from '../../../../protocol/resources.ts';
import { TIER_IDS } from '../../../../protocol/session-states.ts';
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
    minimumSubscription: 'free',
    idleTimeoutMinutes: 30,
    maxSessionMinutes: 8 * 60,
    allowed: true,
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
    minimumSubscription: 'standard',
    idleTimeoutMinutes: 60,
    maxSessionMinutes: 12 * 60,
    allowed: true,
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
    minimumSubscription: 'ultra',
    idleTimeoutMinutes: 120,
    maxSessionMinutes: 24 * 60,
    allowed: true,
  },
];

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
  keepalive: boolean;
}

interface EventStream {
  userId: string;
  controller: ReadableStreamDefaultController<Uint8Array>;
}

interface StoredPreferences {
  preferences: Preferences;
  updatedAt: string;
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

/** A 1×1 PNG, what the fake serves as a desktop's thumbnail. */
const ONE_PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYPgPAAEDAQAIicLsAAAAAElFTkSuQmCC';

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
  /** The next create is refused before anything is created (quota, wallet, subscription), with this body. */
  refuseNextCreate: { code: string; status: number; message: string; details?: unknown } | null = null;
  /** When true, POST /sessions answers at once with `provisioning`; it turns active after `pollsToActive` GETs. */
  asyncCreate = false;
  pollsToActive = 1;
  /** The next tier change is refused before anything changes (balance, quota, a change in flight). */
  refuseNextTierChange: ErrorCode | null = null;
  /** Fail every request to this path (e.g. `/sessions`) with this error. */
  failures = new Map<string, ErrorCode>();
  /** Number of fetches currently in flight. */
  inFlight = 0;
  /** Open `GET /events` streams. */
  readonly eventStreams = new Set<EventStream>();
  /** Metrics samples by session, oldest first. */
  readonly metrics = new Map<string, MetricsSample[]>();
  /** Stored preferences by user. */
  readonly preferences = new Map<string, StoredPreferences>();
  /** Collaborative workspaces (`GET` / `POST /workspaces`). */
  readonly workspaces: Workspace[] = [];
  /** Live thumbnails served, by session (a paused session gets its last one only if it had one). */
  readonly thumbnailsTaken = new Map<string, number>();
  /** Every `POST /vitals` body. */
  readonly vitals: WebVital[] = [];
  quotaLimits: QuotaResponse['limits'] = {
    maxLiveSessionsPerUser: 3,
    maxCpuMillicoresPerUser: 16_000,
    maxMemoryMiBPerUser: 65_536,
    maxLiveSessionsPerTenant: 20,
    maxCpuMillicoresPerTenant: 32_000,
    maxMemoryMiBPerTenant: 65_536,
  };
  /** The server's clock (tests move it to order writers). */
  now: () => Date = () => new Date();
  private counter = 0;
  private polls = new Map<string, number>();
  private readonly encoder = new TextEncoder();

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
    this.requests.push({ method, path, headers, body, keepalive: init.keepalive === true });

    if (headers.get('x-n3xus-handshake') !== '55-45-17') return this.error('HANDSHAKE_REQUIRED');
    const auth = /^Bearer (.+)$/.exec(headers.get('authorization') ?? '');
    if (!auth?.[1]) return this.error('AUTH_REQUIRED');
    const userId = this.users.get(auth[1]);
    if (!userId) return this.error('AUTH_INVALID');
    const failure = this.failures.get(path);
    if (failure) return this.error(failure);

    if (method === 'GET' && path === '/tiers') return this.json(200, { tiers: this.tiers });
    if (method === 'GET' && path === '/events') return this.openEvents(userId, init.signal ?? undefined);
    if (method === 'GET' && path === '/quota') return this.json(200, this.quota(userId));
    if (path === '/preferences' && method === 'GET') return this.json(200, this.readPreferences(userId));
    if (path === '/preferences' && method === 'PUT') return this.writePreferences(userId, body);
    if (method === 'POST' && path === '/vitals') {
      this.vitals.push(body as WebVital);
      return new Response(null, { status: 204 });
    }
    if (method === 'GET' && path === '/sessions') {
      return this.json(200, { sessions: [...this.sessions.values()].filter((s) => s.userId === userId) });
    }
    if (method === 'POST' && path === '/sessions') return this.create(userId, body, init.signal ?? undefined);
    if (method === 'GET' && path === '/workspaces') {
      const workspaces = this.workspaces.filter((w) => w.members.some((m) => m.userId === userId));
      return this.json(200, { workspaces });
    }
    if (method === 'POST' && path === '/workspaces') return this.createWorkspace(userId, body);
    const workspaceMatch = /^\/workspaces\/([A-Za-z0-9_-]+)\/(control|members\/([^/]+))$/.exec(path);
    if (workspaceMatch?.[1]) {
      const member = workspaceMatch[3] === undefined ? undefined : decodeURIComponent(workspaceMatch[3]);
      return this.changeWorkspace(userId, workspaceMatch[1], method, member, body);
    }

    const match = /^\/sessions\/([A-Za-z0-9_-]+)(?:\/(pause|resume|metrics|thumbnail|tier))?$/.exec(path);
    if (!match?.[1]) return this.error('NOT_FOUND');
    const session = this.sessions.get(match[1]);
    if (!session || session.userId !== userId) return this.error('SESSION_NOT_FOUND');
    const verb = match[2];
    if (method === 'GET' && !verb) return this.json(200, this.poll(session));
    if (method === 'GET' && verb === 'metrics') {
      const seconds = Number(url.searchParams.get('windowSeconds') ?? '300');
      if (!Number.isInteger(seconds) || seconds < 10 || seconds > 3600) return this.error('BAD_REQUEST');
      const since = this.now().getTime() - seconds * 1000;
      const samples = (this.metrics.get(session.sessionId) ?? []).filter((m) => Date.parse(m.at) >= since);
      return this.json(200, { samples });
    }
    if (method === 'GET' && verb === 'thumbnail') return this.thumbnail(session);
    if (method === 'POST' && (verb === 'pause' || verb === 'resume')) return this.transition(session, verb);
    if (method === 'DELETE' && !verb) return this.transition(session, 'terminate');
    if (method === 'POST' && verb === 'tier') return this.changeTier(session, body);
    return this.error('NOT_FOUND');
  }

  /** As the server answers: a live picture while active, the last one while paused, none otherwise. */
  private thumbnail(session: Session): Response {
    const id = session.sessionId;
    const paused = ['pausing', 'paused', 'hibernated', 'resuming'].includes(session.state);
    if (session.state === 'active') {
      this.thumbnailsTaken.set(id, (this.thumbnailsTaken.get(id) ?? 0) + 1);
    } else if (!paused || !this.thumbnailsTaken.has(id)) {
      return ['terminating', 'terminated', 'failed'].includes(session.state)
        ? this.error('SESSION_NOT_STREAMABLE')
        : this.error('NOT_FOUND', 'No thumbnail yet.');
    }
    const png = Uint8Array.from(atob(ONE_PIXEL_PNG), (c) => c.charCodeAt(0));
    return new Response(new Blob([png], { type: 'image/png' }), {
      status: 200,
      headers: {
        'content-type': 'image/png',
        'x-thumbnail-state': paused ? 'paused' : 'live',
        'x-thumbnail-taken-at': this.now().toISOString(),
      },
    });
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
    if (this.refuseNextCreate) {
      const { status, ...error } = this.refuseNextCreate;
      this.refuseNextCreate = null;
      return this.json(status, { error });
    }
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

  /** As `POST /sessions/:id/tier`: Active or Paused only, a tier the user may launch; pushes the change. */
  private changeTier(session: Session, body: unknown): Response {
    const tierId = typeof body === 'object' && body !== null ? (body as { tier?: unknown }).tier : undefined;
    if (typeof tierId !== 'string' || tierId === '') return this.error('BAD_REQUEST');
    const tier = this.tiers.find((t) => t.id === tierId);
    if (!tier) return this.error('UNKNOWN_TIER', `There is no resource tier called "${tierId}".`);
    if (tier.allowed === false) return this.error('TIER_NOT_ALLOWED', tier.notAllowedReason);
    if (session.state !== 'active' && session.state !== 'paused') {
      return this.error('ILLEGAL_TRANSITION', `A ${session.state} session cannot change its tier.`);
    }
    const refusal = this.refuseNextTierChange;
    this.refuseNextTierChange = null;
    if (refusal) return this.error(refusal);
    if (session.tier === tier.id) return this.json(200, session);
    return this.json(200, this.set({ ...session, tier: tier.id, resources: tier.resources }, session.state));
  }

  /** Changes a session's state (as the server's lifecycle would) and pushes `session.changed` to its owner. */
  set(session: Session, state: SessionState, failureReason?: string): Session {
    const previousState = this.sessions.get(session.sessionId)?.state ?? null;
    const next: Session = { ...session, state, canonTimestamp: this.now().toISOString() };
    if (failureReason !== undefined) next.failureReason = failureReason;
    this.sessions.set(next.sessionId, next);
    this.emit(next.userId, { event: 'session.changed', data: { session: next, previousState } });
    return next;
  }

  /** Records a metrics sample (served by the history route) and pushes it as `metrics.sample`. */
  pushMetrics(partial: Partial<MetricsSample> & { sessionId: string }): MetricsSample {
    const sample: MetricsSample = {
      at: this.now().toISOString(),
      cpuPercent: 0,
      memoryMiB: 0,
      gpuPercent: null,
      networkTxBytesPerSec: 0,
      networkRxBytesPerSec: 0,
      streamFps: 0,
      streamLatencyMs: null,
      ...partial,
    };
    const list = this.metrics.get(sample.sessionId) ?? [];
    list.push(sample);
    this.metrics.set(sample.sessionId, list);
    const owner = this.sessions.get(sample.sessionId)?.userId ?? 'alice';
    this.emit(owner, { event: 'metrics.sample', data: sample });
    return sample;
  }

  /** Sets a session's cost so far (as billing would) and pushes it to its owner as `session.cost`. */
  pushCost(sessionId: string, costSoFarMicroNexCoin: number): void {
    const session = this.sessions.get(sessionId);
    if (!session) throw new Error(`no session ${sessionId}`);
    this.sessions.set(sessionId, { ...session, costSoFarMicroNexCoin });
    this.emit(session.userId, {
      event: 'session.cost',
      data: { sessionId, costSoFarMicroNexCoin, at: this.now().toISOString() },
    });
  }

  /** Writes a raw chunk to every open event stream (e.g. a keep-alive comment or a malformed event). */
  writeRaw(text: string, userId = 'alice'): void {
    for (const stream of this.eventStreams) {
      if (stream.userId === userId) stream.controller.enqueue(this.encoder.encode(text));
    }
  }

  /** Ends every open event stream (as a server restart or a proxy timeout would). */
  dropEventStreams(): void {
    for (const stream of [...this.eventStreams]) {
      this.eventStreams.delete(stream);
      try {
        stream.controller.close();
      } catch {
        // already closed
      }
    }
  }

  private emit(userId: string, event: LiveEvent): void {
    this.writeRaw(`event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`, userId);
  }

  private openEvents(userId: string, signal: AbortSignal | undefined): Response {
    let entry: EventStream | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        entry = { userId, controller };
        this.eventStreams.add(entry);
        controller.enqueue(this.encoder.encode(': connected\n\n'));
      },
      cancel: () => {
        if (entry) this.eventStreams.delete(entry);
      },
    });
    signal?.addEventListener(
      'abort',
      () => {
        if (!entry || !this.eventStreams.delete(entry)) return;
        try {
          entry.controller.error(signal.reason);
        } catch {
          // already closed
        }
      },
      { once: true },
    );
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }

  private quota(userId: string): QuotaResponse {
    const live = [...this.sessions.values()].filter((s) => s.state !== 'terminated' && s.state !== 'failed');
    const mine = live.filter((s) => s.userId === userId);
    return {
      limits: this.quotaLimits,
      usage: {
        liveSessionsOfUser: mine.length,
        cpuMillicoresOfUser: mine.reduce((sum, s) => sum + s.resources.cpuMillicores, 0),
        memoryMiBOfUser: mine.reduce((sum, s) => sum + s.resources.memoryMiB, 0),
        liveSessionsOfTenant: live.length,
        cpuMillicoresOfTenant: live.reduce((sum, s) => sum + s.resources.cpuMillicores, 0),
        memoryMiBOfTenant: live.reduce((sum, s) => sum + s.resources.memoryMiB, 0),
      },
    };
  }

  private readPreferences(userId: string): PreferencesResponse {
    const stored = this.preferences.get(userId);
    return stored
      ? { preferences: { ...DEFAULT_PREFERENCES, ...stored.preferences }, updatedAt: stored.updatedAt }
      : { preferences: DEFAULT_PREFERENCES, updatedAt: null };
  }

  private writePreferences(userId: string, body: unknown): Response {
    if (!isPreferences(body)) return this.error('BAD_REQUEST', 'The preferences are not valid.');
    // As the server: a client that predates `streamTransport` keeps the stored choice.
    const streamTransport = body.streamTransport ?? this.readPreferences(userId).preferences.streamTransport;
    const stored: StoredPreferences = {
      preferences: { ...body, streamTransport },
      updatedAt: this.now().toISOString(),
    };
    this.preferences.set(userId, stored);
    return this.json(200, { preferences: stored.preferences, updatedAt: stored.updatedAt });
  }

  private createWorkspace(userId: string, body: unknown): Response {
    const request = body as CreateWorkspaceRequest;
    const at = this.now().toISOString();
    const invited = (request.invite ?? []).map((i) => ({
      userId: i.userId,
      role: i.role,
      status: 'invited' as const,
      invitedAt: at,
      joinedAt: null,
    }));
    const workspace: Workspace = {
      workspaceId: this.nextId(),
      tenantId: 'tenant-a',
      name: request.name,
      ownerId: userId,
      state: 'open',
      sessionIds: request.sessionIds,
      members: [{ userId, role: 'owner', status: 'joined', invitedAt: at, joinedAt: at }, ...invited],
      controllerId: null,
      createdAt: at,
      updatedAt: at,
      handshake: '55-45-17',
    };
    this.workspaces.push(workspace);
    return this.json(201, workspace);
  }

  /** The owner's control and removal calls, answered as the server does, each pushed as `workspace.changed`. */
  private changeWorkspace(
    userId: string,
    workspaceId: string,
    method: string,
    memberId: string | undefined,
    body: unknown,
  ): Response {
    const index = this.workspaces.findIndex(
      (w) => w.workspaceId === workspaceId && w.members.some((m) => m.userId === userId),
    );
    const before = this.workspaces[index];
    if (!before) return this.error('WORKSPACE_NOT_FOUND');
    if (before.ownerId !== userId) return this.error('WORKSPACE_OWNER_REQUIRED');
    let after: Workspace;
    if (memberId !== undefined && method === 'DELETE') {
      if (!before.members.some((m) => m.userId === memberId && m.role !== 'owner'))
        return this.error('WORKSPACE_NOT_FOUND');
      after = {
        ...before,
        members: before.members.filter((m) => m.userId !== memberId),
        controllerId: before.controllerId === memberId ? null : before.controllerId,
      };
    } else if (memberId === undefined && method === 'PUT') {
      const target = (body as { userId?: string }).userId;
      const member = before.members.find((m) => m.userId === target);
      if (!member || member.role !== 'participant' || member.status !== 'joined')
        return this.error('WORKSPACE_CONFLICT', 'Only a joined participant can be given control.');
      after = { ...before, controllerId: member.userId };
    } else if (memberId === undefined && method === 'DELETE') {
      after = { ...before, controllerId: null };
    } else {
      return this.error('NOT_FOUND');
    }
    after = { ...after, updatedAt: this.now().toISOString() };
    this.workspaces[index] = after;
    this.pushWorkspace(after, before);
    return this.json(200, after);
  }

  /** Pushes `workspace.changed` to its members and to those the change removed, as the server does. */
  pushWorkspace(workspace: Workspace, before?: Workspace): void {
    const told = new Set([...(before?.members ?? []), ...workspace.members].map((m) => m.userId));
    for (const user of told) this.emit(user, { event: 'workspace.changed', data: { workspace } });
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

const KEYS: readonly (keyof Preferences)[] = [
  'defaultTier',
  'streamQuality',
  'scaling',
  'keyboardLayout',
  'idleTimeoutMinutes',
  'notifications',
  'streamTransport',
];

/**
 * The checks PreferencesWriteSchema makes on the server (no extra keys, enums, integer bounds; `streamTransport`
 * may be left out).
 */
function isPreferences(body: unknown): body is PreferencesWrite {
  if (typeof body !== 'object' || body === null) return false;
  const p = body as Record<string, unknown>;
  if (Object.keys(p).some((k) => !KEYS.includes(k as keyof Preferences))) return false;
  return (
    (TIER_IDS as readonly unknown[]).includes(p['defaultTier']) &&
    ['auto', 'low', 'medium', 'high', 'lossless'].includes(p['streamQuality'] as string) &&
    ['fit', '1:1', 'remote'].includes(p['scaling'] as string) &&
    typeof p['keyboardLayout'] === 'string' &&
    /^[A-Za-z0-9_-]{2,32}$/.test(p['keyboardLayout']) &&
    Number.isInteger(p['idleTimeoutMinutes']) &&
    (p['idleTimeoutMinutes'] as number) >= 5 &&
    (p['idleTimeoutMinutes'] as number) <= 24 * 60 &&
    typeof p['notifications'] === 'boolean' &&
    (p['streamTransport'] === undefined ||
      ['auto', 'websocket', 'webrtc'].includes(p['streamTransport'] as string))
  );
}
