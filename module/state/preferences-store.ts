import {
  BehaviorSubject,
  Observable,
  Subject,
  defer,
  finalize,
  ignoreElements,
  merge,
  share,
  takeUntil,
} from 'rxjs';
import type { Preferences, PreferencesResponse } from '../../protocol/preferences.ts';
import { DEFAULT_PREFERENCES } from '../../protocol/preferences-defaults.ts';
import type { Tier } from '../../protocol/session.ts';
import { ApiError, isAbortError, toApiError, type ApiClient } from '../api/api-client.ts';
import { cacheKey, PreferencesCache, type PreferencesCacheLike } from './preferences-cache.ts';

export interface PreferencesState {
  /** The settings on screen; null until the cache or the server answered. */
  readonly preferences: Preferences | null;
  /** The server's timestamp of the write they come from; null while the user has the defaults. */
  readonly updatedAt: string | null;
  /** Where `preferences` came from: nowhere yet, the IndexedDB cache, or the server. */
  readonly source: 'none' | 'cache' | 'server';
  /** The tier catalogue (default tier choices, idle timeout limits), from the server or the cache. */
  readonly tiers: readonly Tier[] | null;
  /** False while the browser is offline or the server cannot be reached: settings are read-only then. */
  readonly online: boolean;
  readonly loading: boolean;
  readonly saving: boolean;
  /** Why the last load failed (null once one succeeds). */
  readonly error: ApiError | null;
  /** Why the last save failed (null once one succeeds). */
  readonly saveError: ApiError | null;
}

/** Idle timeout limits (minutes): at least 5, at most what the tier allows (and never more than a day). */
export const IDLE_TIMEOUT_MIN = 5;
export const IDLE_TIMEOUT_MAX = 24 * 60;

export function idleTimeoutBounds(tier: Pick<Tier, 'idleTimeoutMinutes'> | undefined): {
  min: number;
  max: number;
} {
  const max = Math.min(
    IDLE_TIMEOUT_MAX,
    Math.max(IDLE_TIMEOUT_MIN, tier?.idleTimeoutMinutes ?? IDLE_TIMEOUT_MAX),
  );
  return { min: IDLE_TIMEOUT_MIN, max };
}

/** A whole number of minutes within the bounds. */
export function clampIdleTimeout(minutes: number, bounds: { min: number; max: number }): number {
  const whole = Number.isFinite(minutes) ? Math.round(minutes) : bounds.max;
  return Math.min(bounds.max, Math.max(bounds.min, whole));
}

/** Settings cached (or sent by another tab) before a field existed lack it: its default stands in. */
export function withDefaults(preferences: Partial<Preferences>): Preferences {
  return { ...DEFAULT_PREFERENCES, ...preferences };
}

/** Whether server timestamp `a` is later than `b` (null — never written — is the earliest). */
export function isLater(a: string | null, b: string | null): boolean {
  if (a === null) return false;
  if (b === null) return true;
  return Date.parse(a) > Date.parse(b);
}

export interface PreferencesStoreOptions {
  api: Pick<ApiClient, 'apiBase' | 'token' | 'getPreferences' | 'putPreferences' | 'tiers'>;
  /** The IndexedDB cache by default; null for none. */
  cache?: PreferencesCacheLike | null;
  /** Other tabs of the same user learn about a save through this BroadcastChannel name (null: no channel). */
  channelName?: string | null;
}

const INITIAL: PreferencesState = {
  preferences: null,
  updatedAt: null,
  source: 'none',
  tiers: null,
  online: true,
  loading: false,
  saving: false,
  error: null,
  saveError: null,
};

interface Broadcast {
  key: string;
  preferences: Preferences;
  updatedAt: string | null;
}

/**
 * The user's settings as an RxJS store, stored in Canon Memory through the API and cached in IndexedDB.
 *
 * Observing `state$` loads: the cached copy first (instant, also offline), then the server's. Conflicts are
 * settled by the server's `updatedAt`: whichever copy — server answer, cache, another tab's save — carries the
 * later one wins; a save is the newest write by definition. Offline (the browser says so, or the server cannot
 * be reached) the settings stay readable and `save()` refuses; coming back online reloads from the server.
 */
export class PreferencesStore {
  readonly state$: Observable<PreferencesState>;

  private readonly api: PreferencesStoreOptions['api'];
  private readonly cache: PreferencesCacheLike | null;
  private readonly channelName: string | null;
  private readonly subject = new BehaviorSubject<PreferencesState>(INITIAL);
  private readonly aborter = new AbortController();
  private readonly closed$ = new Subject<void>();
  private key: string | undefined;
  private loads = 0;
  private observers = 0;

  constructor(options: PreferencesStoreOptions) {
    this.api = options.api;
    this.cache = options.cache === undefined ? new PreferencesCache() : options.cache;
    this.channelName = options.channelName === undefined ? 'v-supercore:preferences' : options.channelName;
    const feed$ = defer(() => this.watch()).pipe(takeUntil(this.closed$), ignoreElements(), share());
    this.state$ = defer(() => {
      if (this.disposed) return this.subject;
      this.observers++;
      return merge(this.subject, feed$).pipe(finalize(() => this.observers--));
    });
  }

  get value(): PreferencesState {
    return this.subject.value;
  }

  get disposed(): boolean {
    return this.aborter.signal.aborted;
  }

  /** Open subscriptions to `state$` (tests check that unmount releases them). */
  get observerCount(): number {
    return this.observers;
  }

  /** Cache first, then the server. Never rejects: failures land in `state.error` / `state.online`. */
  async load(): Promise<void> {
    if (this.disposed) return;
    const signal = this.aborter.signal;
    this.loads++;
    this.patch({ loading: true });
    try {
      const key = await this.cacheKey();
      signal.throwIfAborted();
      if (key && this.cache && this.value.source === 'none') {
        const cached = await this.cache.read(key);
        if (cached && !signal.aborted && this.value.source === 'none') {
          this.patch({
            preferences: withDefaults(cached.preferences),
            updatedAt: cached.updatedAt,
            tiers: cached.tiers,
            source: 'cache',
          });
        }
      }
      signal.throwIfAborted();
      if (!navigator.onLine) {
        this.patch({ online: false });
        return;
      }
      const [response, tiers] = await Promise.all([
        this.api.getPreferences({ signal }),
        this.api.tiers({ signal }).catch(() => null),
      ]);
      this.accept(response);
      this.patch({ online: true, error: null, ...(tiers ? { tiers } : {}) });
      await this.writeCache();
    } catch (error) {
      if (isAbortError(error) || signal.aborted) return;
      const apiError = toApiError(error);
      this.patch({ error: apiError, online: apiError.code !== 'NETWORK_ERROR' && navigator.onLine });
    } finally {
      if (--this.loads === 0) this.patch({ loading: false });
    }
  }

  /** Saves the whole settings object. Resolves with what the server stored; rejects with an ApiError. */
  async save(preferences: Preferences): Promise<PreferencesResponse> {
    if (this.disposed) throw new ApiError('NETWORK_ERROR', 0, 'The settings are closed.');
    if (!this.value.online || !navigator.onLine) {
      this.patch({ online: false });
      throw new ApiError(
        'NETWORK_ERROR',
        0,
        'You are offline: settings can be changed once you are back online.',
      );
    }
    this.patch({ saving: true, saveError: null });
    try {
      const response = await this.api.putPreferences(preferences, { signal: this.aborter.signal });
      this.accept(response);
      this.patch({ online: true });
      await this.writeCache();
      this.broadcast();
      return response;
    } catch (error) {
      const apiError = toApiError(error);
      if (!isAbortError(error)) {
        this.patch({ saveError: apiError, online: apiError.code !== 'NETWORK_ERROR' && navigator.onLine });
      }
      throw apiError;
    } finally {
      this.patch({ saving: false });
    }
  }

  /** Stops everything: requests aborted, listeners removed, the cache closed, observers completed. */
  dispose(): void {
    if (this.disposed) return;
    this.aborter.abort();
    this.closed$.next();
    this.closed$.complete();
    this.subject.complete();
    this.cache?.close();
  }

  /** While observed: load now, reload when the browser comes back online, hear other tabs' saves. */
  private watch(): Observable<never> {
    return new Observable<never>(() => {
      const listeners = new AbortController();
      const { signal } = listeners;
      window.addEventListener('online', () => void this.load(), { signal });
      window.addEventListener('offline', () => this.patch({ online: false }), { signal });
      let channel: BroadcastChannel | undefined;
      if (this.channelName !== null && typeof BroadcastChannel === 'function') {
        channel = new BroadcastChannel(this.channelName);
        channel.addEventListener(
          'message',
          (event: MessageEvent<Broadcast>) => this.onBroadcast(event.data),
          {
            signal,
          },
        );
      }
      void this.load();
      return () => {
        listeners.abort();
        channel?.close();
      };
    });
  }

  /** Takes a server answer unless the copy on screen carries a later server timestamp. */
  private accept(response: PreferencesResponse): void {
    const current = this.value;
    if (current.preferences && isLater(current.updatedAt, response.updatedAt)) return;
    this.patch({
      preferences: withDefaults(response.preferences),
      updatedAt: response.updatedAt,
      source: 'server',
    });
  }

  private onBroadcast(message: Broadcast): void {
    if (!message || message.key !== this.key) return;
    this.accept({ preferences: message.preferences, updatedAt: message.updatedAt });
  }

  private broadcast(): void {
    const { preferences, updatedAt } = this.value;
    if (!this.channelName || !this.key || !preferences || typeof BroadcastChannel !== 'function') return;
    const channel = new BroadcastChannel(this.channelName);
    channel.postMessage({ key: this.key, preferences, updatedAt } satisfies Broadcast);
    channel.close();
  }

  private async cacheKey(): Promise<string | undefined> {
    if (this.key) return this.key;
    try {
      this.key = cacheKey(this.api.apiBase, await this.api.token());
    } catch {
      return undefined; // no token (yet): no cache entry to read; the server request will report the error
    }
    return this.key;
  }

  private async writeCache(): Promise<void> {
    const { preferences, updatedAt, tiers } = this.value;
    if (!this.cache || !this.key || !preferences) return;
    await this.cache.write(this.key, {
      preferences,
      updatedAt,
      tiers: tiers ? [...tiers] : null,
      cachedAt: Date.now(),
    });
  }

  private patch(changes: Partial<PreferencesState>): void {
    if (this.subject.closed) return;
    this.subject.next({ ...this.subject.value, ...changes });
  }
}
