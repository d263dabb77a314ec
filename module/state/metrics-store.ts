import {
  BehaviorSubject,
  EMPTY,
  Subject,
  type Observable,
  defer,
  distinctUntilChanged,
  exhaustMap,
  filter,
  finalize,
  ignoreElements,
  map,
  merge,
  share,
  switchMap,
  takeUntil,
  tap,
  throttleTime,
  timer,
} from 'rxjs';
import type { MetricsSample } from '../../protocol/live-events.ts';
import type { QuotaResponse } from '../../protocol/resources.ts';
import type { Session } from '../../protocol/session.ts';
import { isAbortError, toApiError, type ApiClient, type ApiError } from '../api/api-client.ts';
import type { LiveEvents } from '../api/live-events.ts';
import type { SessionsStore } from './sessions-store.ts';

/** The history windows the Resource Monitor offers (seconds). */
export const WINDOWS = [60, 300, 900] as const;
export type WindowSeconds = (typeof WINDOWS)[number];

/** Sessions that have a desktop and so produce samples. */
export const MONITORED: ReadonlySet<Session['state']> = new Set(['active', 'pausing', 'paused', 'resuming']);

export interface MetricsState {
  /** Samples by session id, oldest first, covering at least the selected window. */
  readonly samples: ReadonlyMap<string, readonly MetricsSample[]>;
  readonly windowSeconds: WindowSeconds;
  /** History requests in flight. */
  readonly loading: boolean;
  /** The last history failure (null once one succeeds). */
  readonly error: ApiError | null;
  readonly quota: QuotaResponse | null;
  readonly quotaError: ApiError | null;
}

export interface MetricsStoreOptions {
  api: Pick<ApiClient, 'getMetrics' | 'getQuota'>;
  live: LiveEvents;
  sessions: SessionsStore;
  /** While the live stream is down, history is re-read this often instead (ms). Default 10000. */
  fallbackPollMs?: number;
}

/** Samples older than the largest window (plus a margin) are dropped: memory stays bounded. */
const KEEP_MS = (900 + 60) * 1000;

/**
 * Resource samples of the user's sessions for the Resource Monitor: the history endpoint fills the selected
 * window when a session appears (or the window grows), `metrics.sample` events extend it live, and the quota is
 * re-read whenever a session changes. Everything runs only while `state$` is observed.
 */
export class MetricsStore {
  readonly state$: Observable<MetricsState>;

  private readonly api: MetricsStoreOptions['api'];
  private readonly live: LiveEvents;
  private readonly sessions: SessionsStore;
  private readonly fallbackPollMs: number;
  private readonly subject: BehaviorSubject<MetricsState>;
  private readonly aborter = new AbortController();
  private readonly closed$ = new Subject<void>();
  /** The window each session's history has been read for. */
  private readonly loaded = new Map<string, number>();
  private inFlight = 0;
  private observers = 0;

  constructor(options: MetricsStoreOptions, windowSeconds: WindowSeconds = 300) {
    this.api = options.api;
    this.live = options.live;
    this.sessions = options.sessions;
    this.fallbackPollMs = options.fallbackPollMs ?? 10_000;
    this.subject = new BehaviorSubject<MetricsState>({
      samples: new Map(),
      windowSeconds,
      loading: false,
      error: null,
      quota: null,
      quotaError: null,
    });
    const feed$ = defer(() => this.feed()).pipe(takeUntil(this.closed$), ignoreElements(), share());
    this.state$ = defer(() => {
      if (this.disposed) return this.subject;
      this.observers++;
      return merge(this.subject, feed$).pipe(finalize(() => this.observers--));
    });
  }

  get value(): MetricsState {
    return this.subject.value;
  }

  get disposed(): boolean {
    return this.aborter.signal.aborted;
  }

  get observerCount(): number {
    return this.observers;
  }

  /** Shows another window; reads the history again where what is held is shorter. */
  setWindow(windowSeconds: WindowSeconds): void {
    if (windowSeconds === this.value.windowSeconds) return;
    this.patch({ windowSeconds });
    if (this.observers > 0) void this.fillAll();
  }

  /** Reads the quota again. Never rejects. */
  async refreshQuota(): Promise<void> {
    if (this.disposed) return;
    try {
      const quota = await this.api.getQuota({ signal: this.aborter.signal });
      this.patch({ quota, quotaError: null });
    } catch (error) {
      if (!isAbortError(error)) this.patch({ quotaError: toApiError(error) });
    }
  }

  /** Stops everything: requests aborted, observers completed. */
  dispose(): void {
    if (this.disposed) return;
    this.aborter.abort();
    this.closed$.next();
    this.closed$.complete();
    this.subject.complete();
  }

  private feed(): Observable<unknown> {
    this.loaded.clear();
    const monitored$ = this.sessions.state$.pipe(
      map((s) => s.sessions.filter((x) => MONITORED.has(x.state)).map((x) => x.sessionId)),
      distinctUntilChanged((a, b) => a.length === b.length && a.every((id, i) => id === b[i])),
      tap((ids) => {
        this.prune(new Set(ids));
        void this.fillAll(ids);
      }),
    );
    const samples$ = this.live.events$.pipe(
      tap((e) => {
        if (e.event === 'metrics.sample') this.append([e.data]);
      }),
    );
    const quota$ = merge(
      defer(() => this.refreshQuota()),
      this.live.events$.pipe(
        filter((e) => e.event === 'session.changed'),
        throttleTime(1000, undefined, { leading: true, trailing: true }),
        exhaustMap(() => this.refreshQuota()),
      ),
    );
    // Without the stream there are no pushed samples: re-read the history now and then meanwhile.
    const fallback$ = this.live.status$.pipe(
      distinctUntilChanged(),
      switchMap((status) =>
        status === 'down'
          ? timer(this.fallbackPollMs, this.fallbackPollMs).pipe(
              exhaustMap(() => {
                this.loaded.clear();
                return Promise.all([this.fillAll(), this.refreshQuota()]);
              }),
            )
          : EMPTY,
      ),
    );
    return merge(samples$, monitored$, quota$, fallback$);
  }

  private monitoredIds(): string[] {
    return this.sessions.value.sessions.filter((s) => MONITORED.has(s.state)).map((s) => s.sessionId);
  }

  private async fillAll(ids = this.monitoredIds()): Promise<void> {
    const seconds = this.value.windowSeconds;
    await Promise.all(
      ids.filter((id) => (this.loaded.get(id) ?? 0) < seconds).map((id) => this.fill(id, seconds)),
    );
  }

  private async fill(sessionId: string, seconds: number): Promise<void> {
    if (this.disposed) return;
    this.loaded.set(sessionId, seconds);
    this.inFlight++;
    this.patch({ loading: true });
    try {
      const samples = await this.api.getMetrics(sessionId, seconds, { signal: this.aborter.signal });
      this.append(samples.map((s) => ({ ...s, sessionId })));
      this.patch({ error: null });
    } catch (error) {
      if (isAbortError(error)) return;
      this.loaded.delete(sessionId);
      this.patch({ error: toApiError(error) });
    } finally {
      this.inFlight--;
      this.patch({ loading: this.inFlight > 0 });
    }
  }

  /** Merges samples in (deduplicated by time, sorted), dropping what is older than the largest window. */
  private append(samples: readonly MetricsSample[]): void {
    if (samples.length === 0 || this.subject.closed) return;
    const next = new Map(this.value.samples);
    const cutoff = Date.now() - KEEP_MS;
    const touched = new Set<string>();
    for (const sample of samples) {
      const list = (next.get(sample.sessionId) ?? []) as MetricsSample[];
      if (!touched.has(sample.sessionId)) {
        next.set(sample.sessionId, [...list]);
        touched.add(sample.sessionId);
      }
      (next.get(sample.sessionId) as MetricsSample[]).push(sample);
    }
    for (const id of touched) {
      const byTime = new Map<number, MetricsSample>();
      for (const s of next.get(id) ?? []) {
        const t = Date.parse(s.at);
        if (t >= cutoff) byTime.set(t, s);
      }
      next.set(
        id,
        [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s),
      );
    }
    this.patch({ samples: next });
  }

  /** Forgets sessions that are no longer monitored (terminated, failed, gone). */
  private prune(keep: ReadonlySet<string>): void {
    const samples = this.value.samples;
    if ([...samples.keys()].every((id) => keep.has(id))) return;
    const next = new Map([...samples].filter(([id]) => keep.has(id)));
    for (const id of [...this.loaded.keys()]) if (!keep.has(id)) this.loaded.delete(id);
    this.patch({ samples: next });
  }

  private patch(changes: Partial<MetricsState>): void {
    if (this.subject.closed) return;
    this.subject.next({ ...this.subject.value, ...changes });
  }
}
