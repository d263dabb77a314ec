import type { SessionListResponse, TierListResponse, CreateSessionRequest } from '../../protocol/api.ts';
import type { ErrorCode } from '../../protocol/errors.ts';
import type { Session, Tier } from '../../protocol/session.ts';
import { API_PREFIX, HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOL,
} from '../../protocol/stream.ts';

/** Codes the client itself raises, for failures that never produced a server error body. */
export type ClientErrorCode =
  /** The host's `getToken()` rejected or returned no token. */
  | 'TOKEN_UNAVAILABLE'
  /** fetch rejected: offline, DNS, CORS, connection refused. */
  | 'NETWORK_ERROR'
  /** The server answered with something that is not the documented JSON. */
  | 'BAD_RESPONSE';

/** An error with the stable code, HTTP status (0 when no response) and human sentence of the server's error body. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ErrorCode | ClientErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ErrorCode | ClientErrorCode, status: number, message: string, details?: unknown) {
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

/** Thin typed client of the backend adapter's REST API (`/api/v1`). */
export class ApiClient {
  readonly apiBase: string;
  private readonly base: URL;
  private readonly getToken: () => Promise<string>;
  private readonly fetchImpl: FetchLike;

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
    return token;
  }

  async listTiers(options?: RequestOptions): Promise<Tier[]> {
    const body = await this.request<TierListResponse>('GET', 'tiers', undefined, options);
    return required(body, 'tiers').tiers;
  }

  async listSessions(options?: RequestOptions): Promise<Session[]> {
    const body = await this.request<SessionListResponse>('GET', 'sessions', undefined, options);
    return required(body, 'sessions').sessions;
  }

  async getSession(id: string, options?: RequestOptions): Promise<Session> {
    return required(await this.request<Session>('GET', sessionPath(id), undefined, options), 'sessionId');
  }

  /** Creates a session; resolves with it as the server left it (`requested`, `provisioning` or `active`). */
  async createSession(tier: string, options?: RequestOptions): Promise<Session> {
    const request: CreateSessionRequest = { tier };
    return required(await this.request<Session>('POST', 'sessions', request, options), 'sessionId');
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

  /** `ws(s)://…/api/v1/sessions/:id/stream`, from the API base (http → ws, https → wss). */
  streamUrl(id: string): string {
    const url = new URL(this.url(`${sessionPath(id)}/stream`));
    if (url.protocol === 'https:') url.protocol = 'wss:';
    else if (url.protocol === 'http:') url.protocol = 'ws:';
    return url.href;
  }

  /** WebSocket subprotocols carrying the stream version, the bearer token and the handshake. */
  streamProtocols(token: string): string[] {
    return [STREAM_SUBPROTOCOL, BEARER_SUBPROTOCOL_PREFIX + token, HANDSHAKE_SUBPROTOCOL];
  }

  private async request<T>(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions | undefined,
  ): Promise<T | null> {
    const token = await this.token();
    options?.signal?.throwIfAborted();
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: `Bearer ${token}`,
      [HANDSHAKE_HEADER]: HANDSHAKE,
    };
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (options?.signal) init.signal = options.signal;

    let response: Response;
    try {
      response = await this.fetchImpl(this.url(path), init);
    } catch (error) {
      if (isAbortError(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError('NETWORK_ERROR', 0, `The v-SuperCore server could not be reached (${reason}).`);
    }

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
