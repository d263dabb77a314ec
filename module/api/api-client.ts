import type {
  ChangeTierRequest,
  SessionListResponse,
  TierListResponse,
  CreateSessionRequest,
} from '../../protocol/api.ts';
import type { ErrorCode } from '../../protocol/errors.ts';
import type { MetricsSample } from '../../protocol/live-events.ts';
import type { Preferences, PreferencesResponse } from '../../protocol/preferences.ts';
import type { QuotaResponse, WebVital } from '../../protocol/resources.ts';
import type { Session, Tier } from '../../protocol/session.ts';
import type {
  CreateWorkspaceRequest,
  InvitedRole,
  Workspace,
  WorkspaceListResponse,
} from '../../protocol/workspaces.ts';
import { API_PREFIX, HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import {
  THUMBNAIL_STATE_HEADER,
  THUMBNAIL_TAKEN_AT_HEADER,
  type ThumbnailState,
} from '../../protocol/thumbnails.ts';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOLS,
} from '../../protocol/stream.ts';

/** Codes the client itself raises, for failures that never produced a server error body. */
export type ClientErrorCode =
  /** The host's `getToken()` rejected or returned no token. */
  | 'TOKEN_UNAVAILABLE'
  /** fetch rejected: offline, DNS, CORS, connection refused. */
  | 'NETWORK_ERROR'
  /** The server answered with something that is not the documented JSON. */
  | 'BAD_RESPONSE';

/**
 * Codes a server may send that this build's protocol/errors.ts does not list yet (e.g. from the N3XUS wallet).
 * Views map them to sentences; anything else falls back to the server's own message.
 */
export type ExternalErrorCode = 'BALANCE_TOO_LOW';

/** An error with the stable code, HTTP status (0 when no response) and human sentence of the server's error body. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ErrorCode | ClientErrorCode | ExternalErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(
    code: ErrorCode | ClientErrorCode | ExternalErrorCode,
    status: number,
    message: string,
    details?: unknown,
  ) {
    super(message);
    this.code = code;
    this.status = status;
    if (details !== undefined) this.details = details;
  }
}

/** True for the AbortError a cancelled request rejects with. */
export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

/** Wraps anything thrown into an ApiError, so views can always show a code and a sentence. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError('BAD_RESPONSE', 0, message || 'Something went wrong.');
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ApiClientOptions {
  /** Base URL of the backend adapter (absolute, or relative to the page); `/api/v1` is appended. */
  apiBase: string;
  /** Returns the user's v-auth bearer token; called before every request, so the host may refresh it. */
  getToken: () => Promise<string>;
  /** fetch implementation; the global one by default. Tests pass a fake backend here. */
  fetch?: FetchLike;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface EventStreamOptions extends RequestOptions {
  /** Sent as `Last-Event-ID` so the server can replay what the client missed. */
  lastEventId?: string;
}

/** Thin typed client of the backend adapter's REST API (`/api/v1`). */
export class ApiClient {
  readonly apiBase: string;
  private readonly base: URL;
  private readonly getToken: () => Promise<string>;
  private readonly fetchImpl: FetchLike;
  private lastToken: string | undefined;
  private tiersCache: Promise<Tier[]> | undefined;

  constructor(options: ApiClientOptions) {
    this.apiBase = options.apiBase;
    this.getToken = options.getToken;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    let base: URL;
    try {
      base = new URL(options.apiBase, globalThis.location?.href);
    } catch {
      throw new Error(`v-supercore: apiBase "${options.apiBase}" is not a valid URL.`);
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    base.search = '';
    base.hash = '';
    this.base = base;
  }

  /** The URL of an API path such as `sessions/abc` (no leading slash). */
  url(path: string): string {
    return new URL(`${API_PREFIX.slice(1)}/${path}`, this.base).href;
  }

  /** The current bearer token from the host; rejects with `TOKEN_UNAVAILABLE` if there is none. */
  async token(): Promise<string> {
    let token: unknown;
    try {
      token = await this.getToken();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError(
        'TOKEN_UNAVAILABLE',
        0,
        `Could not get a sign-in token from the dashboard: ${reason}`,
      );
    }
    if (typeof token !== 'string' || token === '') {
      throw new ApiError('TOKEN_UNAVAILABLE', 0, 'The dashboard returned an empty sign-in token.');
    }
    this.lastToken = token;
    return token;
  }

  /**
   * The token the last request used, without asking the host. Only for requests that must leave synchronously,
   * such as the web-vitals beacon on `pagehide` (there is no time to await `getToken()` then).
   */
  get cachedToken(): string | undefined {
    return this.lastToken;
  }

  async listTiers(options?: RequestOptions): Promise<Tier[]> {
    const body = await this.request<TierListResponse>('GET', 'tiers', undefined, options);
    const tiers = required(body, 'tiers').tiers;
    this.tiersCache = Promise.resolve(tiers);
    return tiers;
  }

  /**
   * The tier catalogue, fetched once per client and shared by every caller (a failed fetch is not kept).
   * Aborting one caller's signal stops only that caller's wait.
   */
  tiers(options?: RequestOptions): Promise<Tier[]> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    const shared = (this.tiersCache ??= this.listTiers().catch((error: unknown) => {
      this.tiersCache = undefined;
      throw error;
    }));
    if (!signal) return shared;
    return new Promise<Tier[]>((resolve, reject) => {
      const abort = (): void => reject(signal.reason);
      signal.addEventListener('abort', abort, { once: true });
      shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
    });
  }

  async listSessions(options?: RequestOptions): Promise<Session[]> {
    const body = await this.request<SessionListResponse>('GET', 'sessions', undefined, options);
    return required(body, 'sessions').sessions;
  }

  async getSession(id: string, options?: RequestOptions): Promise<Session> {
    return required(await this.request<Session>('GET', sessionPath(id), undefined, options), 'sessionId');
  }

  /**
   * A small PNG of one of the user's desktops (`GET /sessions/:id/thumbnail`), with whether it is live or the last
   * picture from before a pause, and when it was taken.
   */
  async sessionThumbnail(
    id: string,
    options?: RequestOptions,
  ): Promise<{ image: Blob; state: ThumbnailState; takenAt: string | null } | null> {
    options?.signal?.throwIfAborted();
    const token = await this.token();
    const init: RequestInit = {
      method: 'GET',
      headers: { ...this.headers(token, false), Accept: 'image/png' },
    };
    if (options?.signal) init.signal = options.signal;
    const response = await this.send(this.url(`${sessionPath(id)}/thumbnail`), init);
    if (!response.ok) {
      const text = await response.text();
      let json: unknown = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: errorFromBody describes the status instead
      }
      throw errorFromBody(response, json);
    }
    if (response.status === 204) return null; // no picture yet
    const state = response.headers.get(THUMBNAIL_STATE_HEADER) === 'paused' ? 'paused' : 'live';
    return { image: await response.blob(), state, takenAt: response.headers.get(THUMBNAIL_TAKEN_AT_HEADER) };
  }

  /** Creates a session; resolves with it as the server left it (`requested`, `provisioning` or `active`). */
  async createSession(tier: string, options?: RequestOptions): Promise<Session> {
    const request: CreateSessionRequest = { tier };
    return required(await this.request<Session>('POST', 'sessions', request, options), 'sessionId');
  }

  /**
   * Moves an Active or Paused session to another tier (`POST /sessions/:id/tier`); resolves with the session
   * as changed. Refusals keep their code: TIER_NOT_ALLOWED, BALANCE_TOO_LOW, QUOTA_EXCEEDED, TRANSITION_IN_PROGRESS.
   */
  async changeTier(id: string, tier: string, options?: RequestOptions): Promise<Session> {
    const request: ChangeTierRequest = { tier };
    const path = `${sessionPath(id)}/tier`;
    return required(await this.request<Session>('POST', path, request, options), 'sessionId');
  }

  /** Pauses an active session. Resolves with the updated session, or null if the server sent no body. */
  pause(id: string, options?: RequestOptions): Promise<Session | null> {
    return this.request<Session>('POST', `${sessionPath(id)}/pause`, undefined, options);
  }

  /** Resumes a paused session. Resolves with the updated session, or null if the server sent no body. */
  resume(id: string, options?: RequestOptions): Promise<Session | null> {
    return this.request<Session>('POST', `${sessionPath(id)}/resume`, undefined, options);
  }

  /** Terminates a session (`DELETE`). Resolves with the updated session, or null if the server sent no body. */
  terminate(id: string, options?: RequestOptions): Promise<Session | null> {
    return this.request<Session>('DELETE', sessionPath(id), undefined, options);
  }

  /**
   * The signed-in user's id: the `sub` claim of the current v-auth token (read, not verified: the server
   * verifies every call). Undefined when the token is not a JWT.
   */
  async userId(): Promise<string | undefined> {
    const payload = (await this.token()).split('.')[1];
    if (!payload) return undefined;
    try {
      const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
      const sub: unknown = (JSON.parse(json) as { sub?: unknown }).sub;
      return typeof sub === 'string' ? sub : undefined;
    } catch {
      return undefined;
    }
  }

  /** The workspaces the user owns, has joined or is invited to (collaborative workspaces). */
  async listWorkspaces(options?: RequestOptions): Promise<Workspace[]> {
    const body = await this.request<WorkspaceListResponse>('GET', 'workspaces', undefined, options);
    return required(body, 'workspaces').workspaces;
  }

  /** Shares sessions: creates a workspace owned by the user, sending the given invitations. */
  async createWorkspace(request: CreateWorkspaceRequest, options?: RequestOptions): Promise<Workspace> {
    return required(await this.request<Workspace>('POST', 'workspaces', request, options), 'workspaceId');
  }

  /** Invites a user of the tenant into a workspace (owner only). */
  async inviteToWorkspace(
    workspaceId: string,
    userId: string,
    role: InvitedRole,
    options?: RequestOptions,
  ): Promise<Workspace> {
    const path = `${workspacePath(workspaceId)}/invitations`;
    return required(await this.request<Workspace>('POST', path, { userId, role }, options), 'workspaceId');
  }

  /** Accepts (true) or declines (false) the user's invitation. */
  async answerInvitation(workspaceId: string, accept: boolean, options?: RequestOptions): Promise<void> {
    await this.request(
      'POST',
      `${workspacePath(workspaceId)}/${accept ? 'accept' : 'decline'}`,
      undefined,
      options,
    );
  }

  /** Leaves a workspace; the user's streams through it close. */
  async leaveWorkspace(workspaceId: string, options?: RequestOptions): Promise<void> {
    await this.request('POST', `${workspacePath(workspaceId)}/leave`, undefined, options);
  }

  /** Removes a member or withdraws an invitation (owner only); their streams through the workspace close. */
  async removeFromWorkspace(
    workspaceId: string,
    userId: string,
    options?: RequestOptions,
  ): Promise<Workspace> {
    const path = `${workspacePath(workspaceId)}/members/${encodeURIComponent(userId)}`;
    return required(await this.request<Workspace>('DELETE', path, undefined, options), 'workspaceId');
  }

  /** Hands control to a participant (a user id), or takes it back (null). Owner only. */
  async setControl(workspaceId: string, userId: string | null, options?: RequestOptions): Promise<Workspace> {
    const path = `${workspacePath(workspaceId)}/control`;
    const body =
      userId === null
        ? await this.request<Workspace>('DELETE', path, undefined, options)
        : await this.request<Workspace>('PUT', path, { userId }, options);
    return required(body, 'workspaceId');
  }

  /** The user's settings; `updatedAt` is null while the user still has the defaults. */
  async getPreferences(options?: RequestOptions): Promise<PreferencesResponse> {
    const body = await this.request<PreferencesResponse>('GET', 'preferences', undefined, options);
    return required(body, 'preferences');
  }

  /** Stores the user's settings (the whole object); resolves with them and the server's `updatedAt`. */
  async putPreferences(preferences: Preferences, options?: RequestOptions): Promise<PreferencesResponse> {
    const body = await this.request<PreferencesResponse>('PUT', 'preferences', preferences, options);
    return required(body, 'preferences');
  }

  /** The recent resource samples of a session, oldest first (`windowSeconds` 10–3600). */
  async getMetrics(id: string, windowSeconds: number, options?: RequestOptions): Promise<MetricsSample[]> {
    const seconds = Math.min(3600, Math.max(10, Math.round(windowSeconds)));
    const path = `${sessionPath(id)}/metrics?windowSeconds=${seconds}`;
    return required(
      await this.request<{ samples: MetricsSample[] }>('GET', path, undefined, options),
      'samples',
    ).samples;
  }

  /** The caller's limits and what counts against them now. */
  async getQuota(options?: RequestOptions): Promise<QuotaResponse> {
    return required(await this.request<QuotaResponse>('GET', 'quota', undefined, options), 'limits');
  }

  /**
   * Reports Core Web Vitals, one `POST /vitals` per measurement, all started at once. With `keepalive` the
   * requests outlive the page (for `pagehide`) and use the cached token, since nothing may be awaited then.
   * Never rejects: losing a measurement must not disturb the user.
   */
  async sendVitals(vitals: readonly WebVital[], options: { keepalive?: boolean } = {}): Promise<void> {
    if (vitals.length === 0) return;
    let token = this.lastToken;
    if (!options.keepalive || token === undefined) {
      try {
        token = await this.token();
      } catch {
        return;
      }
    }
    const headers = this.headers(token, true);
    await Promise.allSettled(
      vitals.map((vital) =>
        this.fetchImpl(this.url('vitals'), {
          method: 'POST',
          headers,
          body: JSON.stringify(vital),
          keepalive: options.keepalive === true,
        }),
      ),
    );
  }

  /**
   * Opens `GET /api/v1/events` (text/event-stream) with the bearer token and handshake headers, which an
   * EventSource cannot send. Resolves with the streaming Response; rejects with an ApiError on an error status.
   */
  async openEventStream(options: EventStreamOptions = {}): Promise<Response> {
    options.signal?.throwIfAborted();
    const token = await this.token();
    options.signal?.throwIfAborted();
    const headers: Record<string, string> = { ...this.headers(token, false), Accept: 'text/event-stream' };
    if (options.lastEventId !== undefined) headers['Last-Event-ID'] = options.lastEventId;
    const init: RequestInit = { method: 'GET', headers, cache: 'no-store' };
    if (options.signal) init.signal = options.signal;
    const response = await this.send(this.url('events'), init);
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw errorFromBody(response, parseJson(text));
    }
    if (!response.body || !/^text\/event-stream\b/i.test(response.headers.get('content-type') ?? '')) {
      throw new ApiError('BAD_RESPONSE', response.status, 'The event stream is not text/event-stream.');
    }
    return response;
  }

  /** `ws(s)://…/api/v1/sessions/:id/stream`, from the API base (http → ws, https → wss). */
  streamUrl(id: string): string {
    const url = new URL(this.url(`${sessionPath(id)}/stream`));
    if (url.protocol === 'https:') url.protocol = 'wss:';
    else if (url.protocol === 'http:') url.protocol = 'ws:';
    return url.href;
  }

  /** WebSocket subprotocols carrying the stream version, the bearer token and the handshake. */
  streamProtocols(token: string): string[] {
    // Every stream version this module speaks, newest first: the gateway picks the highest it knows.
    return [...STREAM_SUBPROTOCOLS, BEARER_SUBPROTOCOL_PREFIX + token, HANDSHAKE_SUBPROTOCOL];
  }

  private async request<T>(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions | undefined,
  ): Promise<T | null> {
    options?.signal?.throwIfAborted();
    const token = await this.token();
    options?.signal?.throwIfAborted();
    const init: RequestInit = { method, headers: this.headers(token, body !== undefined) };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (options?.signal) init.signal = options.signal;

    const response = await this.send(this.url(path), init);

    const text = await response.text();
    let json: unknown = null;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        if (response.ok)
          throw new ApiError('BAD_RESPONSE', response.status, 'The server sent a response that is not JSON.');
      }
    }
    if (!response.ok) throw errorFromBody(response, json);
    return json as T | null;
  }

  private headers(token: string, json: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: `Bearer ${token}`,
      [HANDSHAKE_HEADER]: HANDSHAKE,
    };
    if (json) headers['Content-Type'] = 'application/json';
    return headers;
  }

  /** fetch, with a network failure turned into `NETWORK_ERROR` (aborts pass through). */
  private async send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(url, init);
    } catch (error) {
      if (isAbortError(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError('NETWORK_ERROR', 0, `The v-SuperCore server could not be reached (${reason}).`);
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    return null;
  }
}

function workspacePath(id: string): string {
  return `workspaces/${encodeURIComponent(id)}`;
}

function sessionPath(id: string): string {
  return `sessions/${encodeURIComponent(id)}`;
}

/** A body the method needs: present and an object with `key`. */
function required<T>(body: T | null, key: string): T {
  if (body === null || typeof body !== 'object' || !(key in body)) {
    throw new ApiError('BAD_RESPONSE', 200, `The server's response has no "${key}".`);
  }
  return body;
}

function errorFromBody(response: Response, json: unknown): ApiError {
  const error = isRecord(json) && isRecord(json['error']) ? json['error'] : null;
  if (error && typeof error['code'] === 'string' && typeof error['message'] === 'string') {
    return new ApiError(error['code'] as ErrorCode, response.status, error['message'], error['details']);
  }
  const statusText = response.statusText ? ` ${response.statusText}` : '';
  return new ApiError(
    'BAD_RESPONSE',
    response.status,
    `The server answered ${response.status}${statusText}.`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
