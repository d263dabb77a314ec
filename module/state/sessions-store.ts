import {
  BehaviorSubject,
  EMPTY,
  Subject,
  type Observable,
  defer,
  distinctUntilChanged,
  exhaustMap,
  finalize,
  ignoreElements,
  merge,
  share,
  switchMap,
  takeUntil,
  tap,
  timer,
} from 'rxjs';
import type { LiveEvents } from '../api/live-events.ts';
import type { Session, SessionState } from '../../protocol/session.ts';
import { TRANSITIONAL_SESSION_STATES } from '../../protocol/session-states.ts';
import {
  ApiError,
  isAbortError,
  toApiError,
  type ApiClient,
  type RequestOptions,
} from '../api/api-client.ts';

export interface SessionsState {
  /** The user's sessions as the server last listed them, newest first. */
  readonly sessions: readonly Session[];
  /** A refresh is in flight. */
  readonly loading: boolean;
  /** Why the last refresh failed; null once a refresh succeeds. */
  readonly error: ApiError | null;
  /** `Date.now()` of the last successful refresh; null before the first. */
  readonly updatedAt: number | null;
  /** Changes are pushed by the server right now (the live event stream is open). */
  readonly live: boolean;
}

/** States a session passes through on its way to a stable one. */
export const TRANSITIONAL_STATES: ReadonlySet<SessionState> = new Set(TRANSITIONAL_SESSION_STATES);

export function isTransitional(state: SessionState): boolean {
  return TRANSITIONAL_STATES.has(state);
}

/** The part of the API client the store uses. */
export type SessionsApi = Pick<
  ApiClient,
  'listSessions' | 'getSession' | 'createSession' | 'pause' | 'resume' | 'terminate' | 'changeTier'
>;

/**
 * Where the store learns that sessions changed. It is subscribed while anyone observes the store and its
 * emissions are ignored: it only has to call `refresh()` (or feed sessions in) at the right times. Polling is
 * the default; a server-push feed (SSE / WebSocket events) replaces it here and nowhere else.
 */
export type ChangeFeed = (store: SessionsStore) => Observable<unknown>;

/** Refreshes now, then every `periodMs` while observed; never overlaps two refreshes. */
export function pollingFeed(periodMs = 3000): ChangeFeed {
  return (store) => timer(0, periodMs).pipe(exhaustMap(() => store.refresh()));
}

/**
 * Server push: lists once the live stream is open, then applies every `session.changed` event of it as it comes.
 * A list read after the stream opened misses nothing (changes from then on are pushed), so the first list waits
 * for the stream rather than being fetched twice — but never longer than `connectGraceMs`. There is no polling
 * while the stream is open; while it is down, one fallback poll (every `fallbackPollMs`) keeps the list fresh,
 * and each time it opens again the list is fetched once to catch up on what was missed.
 */
export function liveFeed(live: LiveEvents, fallbackPollMs = 5000, connectGraceMs = 1000): ChangeFeed {
  return (store) => {
    const pushes = live.events$.pipe(
      tap((e) => {
        if (e.event === 'session.changed') store.receive(e.data.session);
        else if (e.event === 'session.cost')
          store.receiveCost(e.data.sessionId, e.data.costSoFarMicroNexCoin);
      }),
    );
    const catchUp = live.status$.pipe(
      distinctUntilChanged(),
      tap((status) => store.setLive(status === 'open')),
      switchMap((status) => {
        if (status === 'open') return defer(() => store.refresh());
        if (status === 'down') return timer(0, fallbackPollMs).pipe(exhaustMap(() => store.refresh()));
        // Still connecting: list anyway if the stream is slow to open (a buffering proxy, a busy server).
        return store.value.updatedAt === null
          ? timer(connectGraceMs).pipe(exhaustMap(() => store.refresh()))
          : EMPTY;
      }),
      finalize(() => store.setLive(false)),
    );
    // Pushes first: subscribing to them is what opens the stream.
    return merge(pushes, catchUp);
  };
}

export interface SessionsStoreOptions {
  api: SessionsApi;
  /** Default: `pollingFeed(3000)` — the list is refreshed every 3 s while the module is mounted. */
  changeFeed?: ChangeFeed;
  /** How often `waitForSession` asks for one session (ms). Default 1000. */
  waitIntervalMs?: number;
}

export interface WaitOptions extends RequestOptions {
  intervalMs?: number;
  /** Give up after this many ms (rejects with an ApiError `RUNTIME_FAILED`). Default 180000. */
  timeoutMs?: number;
}

export interface SessionChange {
  sessionId: string;
  state: SessionState;
  /** null when the session is new to the list. */
  previousState: SessionState | null;
  session: Session;
}

/** Sessions whose state differs between two lists (new sessions included; vanished ones are not). */
export function diffSessions(previous: readonly Session[], next: readonly Session[]): SessionChange[] {
  const before = new Map(previous.map((s) => [s.sessionId, s.state]));
  const changes: SessionChange[] = [];
  for (const session of next) {
    const previousState = before.get(session.sessionId) ?? null;
    if (previousState !== session.state) {
      changes.push({ sessionId: session.sessionId, state: session.state, previousState, session });
    }
  }
  return changes;
}

const INITIAL: SessionsState = { sessions: [], loading: false, error: null, updatedAt: null, live: false };

/**
 * The user's sessions as an RxJS store. `state$` replays the current state and, while it has observers, keeps
 * the change feed running; actions call the API and then refresh. One store per mounted module: no state is
 * shared with the host.
 */
export class SessionsStore {
  /** The current state, then every change. Subscribing starts the change feed; the last unsubscribe stops it. */
  readonly state$: Observable<SessionsState>;

  private readonly api: SessionsApi;
  private readonly subject = new BehaviorSubject<SessionsState>(INITIAL);
  private readonly waitIntervalMs: number;
  private readonly aborter = new AbortController();
  private readonly closed$ = new Subject<void>();
  private observers = 0;
  private inFlight = 0;
  private issued = 0;
  private applied = 0;

  constructor(options: SessionsStoreOptions) {
    this.api = options.api;
    this.waitIntervalMs = options.waitIntervalMs ?? 1000;
    const feed$ = defer(() => (options.changeFeed ?? pollingFeed())(this)).pipe(
      takeUntil(this.closed$),
      ignoreElements(),
      share(),
    );
    this.state$ = defer(() => {
      if (this.disposed) return this.subject;
      this.observers++;
      return merge(this.subject, feed$).pipe(
        finalize(() => {
          this.observers--;
        }),
      );
    });
  }

  /** How many subscriptions to `state$` are open (tests check that unmount releases them all). */
  get observerCount(): number {
    return this.observers;
  }

  get value(): SessionsState {
    return this.subject.value;
  }

  get disposed(): boolean {
    return this.aborter.signal.aborted;
  }

  find(sessionId: string): Session | undefined {
    return this.subject.value.sessions.find((s) => s.sessionId === sessionId);
  }

  /** Lists the sessions again. Never rejects: a failure lands in `state.error`. */
  async refresh(): Promise<void> {
    if (this.disposed) return;
    const ticket = ++this.issued;
    this.inFlight++;
    this.patch({ loading: true });
    try {
      const sessions = await this.api.listSessions({ signal: this.aborter.signal });
      // A slower, older answer must not overwrite a newer one (e.g. the one after an action).
      if (ticket > this.applied) {
        this.applied = ticket;
        // A change pushed while this list was on its way is newer than the list's copy: keep it.
        const known = new Map(this.subject.value.sessions.map((s) => [s.sessionId, s]));
        const merged = sessions.map((s) => newer(known.get(s.sessionId), s));
        this.patch({ sessions: sortNewestFirst(merged), error: null, updatedAt: Date.now() });
      }
    } catch (error) {
      if (!isAbortError(error) && ticket > this.applied) this.patch({ error: toApiError(error) });
    } finally {
      this.inFlight--;
      this.patch({ loading: this.inFlight > 0 });
    }
  }

  /**
   * A session as the server pushed it (`session.changed`): added or replaced, unless the store already holds a
   * copy with a later `canonTimestamp` (events and list answers can cross on the wire).
   */
  receive(session: Session): void {
    if (this.disposed) return;
    this.upsert(session);
  }

  /** A session's cost so far as the server pushed it (`session.cost`); unknown sessions are ignored. */
  receiveCost(sessionId: string, costSoFarMicroNexCoin: number): void {
    if (this.disposed) return;
    const sessions = this.subject.value.sessions;
    const index = sessions.findIndex((s) => s.sessionId === sessionId);
    const current = sessions[index];
    if (!current || current.costSoFarMicroNexCoin === costSoFarMicroNexCoin) return;
    const next = sessions.slice();
    next[index] = { ...current, costSoFarMicroNexCoin };
    this.patch({ sessions: next });
  }

  /** Set by the change feed: whether changes are being pushed right now. */
  setLive(live: boolean): void {
    if (this.subject.value.live !== live) this.patch({ live });
  }

  /** Requests a new session; resolves with it as the server returned it. */
  create(tier: string, options?: RequestOptions): Promise<Session> {
    return this.act(() => this.api.createSession(tier, this.signal(options)));
  }

  pause(sessionId: string): Promise<Session | null> {
    return this.act(() => this.api.pause(sessionId, this.signal()));
  }

  resume(sessionId: string): Promise<Session | null> {
    return this.act(() => this.api.resume(sessionId, this.signal()));
  }

  terminate(sessionId: string): Promise<Session | null> {
    return this.act(() => this.api.terminate(sessionId, this.signal()));
  }

  /** Moves an Active or Paused session to another tier; the answer (and the push after it) updates the list. */
  changeTier(sessionId: string, tier: string): Promise<Session> {
    return this.act(() => this.api.changeTier(sessionId, tier, this.signal()));
  }

  /**
   * Asks for one session every `intervalMs` until `until(session)` holds; each answer also updates the list.
   * Used while a launch waits for `active`. Rejects on abort, on timeout and on API errors.
   */
  async waitForSession(
    sessionId: string,
    until: (session: Session) => boolean,
    options: WaitOptions = {},
  ): Promise<Session> {
    const interval = options.intervalMs ?? this.waitIntervalMs;
    const deadline = Date.now() + (options.timeoutMs ?? 180_000);
    const signal = this.signal(options).signal;
    for (;;) {
      const session = await this.api.getSession(sessionId, { signal });
      this.upsert(session);
      if (until(session)) return session;
      if (Date.now() >= deadline) {
        throw new ApiError(
          'RUNTIME_FAILED',
          0,
          `The desktop did not become ready in time (still ${session.state}).`,
        );
      }
      // While changes are pushed, the push normally answers first; the poll is only a slow safety net.
      await this.nextChange(sessionId, this.value.live ? interval * 5 : interval, signal);
      const pushed = this.find(sessionId);
      if (pushed && pushed !== session && until(pushed)) return pushed;
    }
  }

  /** Resolves when the store's copy of a session changes, or after `ms`; rejects on abort. */
  private nextChange(sessionId: string, ms: number, signal: AbortSignal): Promise<void> {
    const before = this.find(sessionId);
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        subscription.unsubscribe();
        signal.removeEventListener('abort', abort);
      };
      const abort = (): void => {
        finish();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        finish();
        resolve();
      }, ms);
      const subscription = this.subject.subscribe((value) => {
        if (value.sessions.find((s) => s.sessionId === sessionId) !== before) {
          finish();
          resolve();
        }
      });
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
    });
  }

  /** Stops everything: in-flight requests are aborted, observers complete, later calls do nothing. */
  dispose(): void {
    if (this.disposed) return;
    this.aborter.abort();
    this.closed$.next();
    this.closed$.complete();
    this.subject.complete();
  }

  private async act<T extends Session | null>(call: () => Promise<T>): Promise<T> {
    try {
      const session = await call();
      if (session) this.upsert(session);
      return session;
    } finally {
      // Refresh whether the action worked or not: a rejected action often means the list is stale.
      void this.refresh();
    }
  }

  private signal(options?: RequestOptions): { signal: AbortSignal } {
    return {
      signal: options?.signal ? AbortSignal.any([options.signal, this.aborter.signal]) : this.aborter.signal,
    };
  }

  private upsert(incoming: Session): void {
    const sessions = this.subject.value.sessions;
    const index = sessions.findIndex((s) => s.sessionId === incoming.sessionId);
    const current = index === -1 ? undefined : sessions[index];
    if (current && newer(current, incoming) !== incoming) return;
    // A copy without a cost (an action's answer) keeps the cost the server last told us.
    const session =
      current?.costSoFarMicroNexCoin !== undefined && incoming.costSoFarMicroNexCoin === undefined
        ? { ...incoming, costSoFarMicroNexCoin: current.costSoFarMicroNexCoin }
        : incoming;
    const next = index === -1 ? [session, ...sessions] : sessions.map((s, i) => (i === index ? session : s));
    this.patch({ sessions: sortNewestFirst(next) });
  }

  private patch(changes: Partial<SessionsState>): void {
    if (this.subject.closed) return;
    this.subject.next({ ...this.subject.value, ...changes });
  }
}

/** The later of two copies of a session by `canonTimestamp`; `next` when they tie (or there is no `current`). */
function newer(current: Session | undefined, next: Session): Session {
  if (!current) return next;
  return Date.parse(current.canonTimestamp) > Date.parse(next.canonTimestamp) ? current : next;
}

function sortNewestFirst(sessions: readonly Session[]): Session[] {
  return [...sessions].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}
