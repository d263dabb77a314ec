import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';

/** One page of a list call, as the Kubernetes API returns it. */
export interface ListPage<Raw> {
  items: Raw[];
  metadata?: { resourceVersion?: string; _continue?: string };
}

export type ReflectorEvent = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ReflectorOptions<Raw, View> {
  kubeConfig: KubeConfig;
  /** The collection's path, e.g. /api/v1/namespaces/v-supercore/pods. */
  path: string;
  labelSelector: string;
  /** One page of the list (the CoreV1Api call); `limit` and `continue` page through large collections. */
  list: (page: { limit: number; continue?: string }) => Promise<ListPage<Raw>>;
  /** Keeps only what the runtime reads, so 10,000 pods cost little memory. */
  project: (raw: Raw) => View;
  name: (view: View) => string;
  logger: Logger;
  backoff?: { initialMs: number; maxMs: number };
  pageSize?: number;
  /** Seconds after which the server ends a watch (a new one starts from the last resourceVersion). */
  watchTimeoutSeconds?: number;
}

export interface ReflectorStats {
  lists: number;
  watches: number;
  /** Relists forced by 410 Gone (the resourceVersion was too old). */
  expired: number;
  errors: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

class WatchExpired extends Error {}

function statusCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  return typeof e.code === 'number' ? e.code : undefined;
}

/**
 * An informer in the manner of client-go's reflector (and KubeSpawner's): lists a labelled collection, then
 * watches it from the list's resourceVersion, keeping a cache the runtime reads instead of asking the API per
 * request. A watch that ends is resumed from the last resourceVersion; 410 Gone (history compacted) forces a
 * relist; any other failure (connection reset, 5xx) retries with exponential backoff and jitter, forever, until
 * `stop()`.
 */
export class Reflector<Raw, View> {
  private readonly cache = new Map<string, View>();
  private readonly listeners = new Set<(type: ReflectorEvent, view: View) => void>();
  private resourceVersion = '';
  private readonly abort = new AbortController();
  private current: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private syncedResolve: () => void = () => undefined;
  private readonly syncedPromise = new Promise<void>((r) => (this.syncedResolve = r));
  readonly stats: ReflectorStats = { lists: 0, watches: 0, expired: 0, errors: 0 };

  constructor(private readonly options: ReflectorOptions<Raw, View>) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves once the first list is in the cache. */
  synced(): Promise<void> {
    return this.syncedPromise;
  }

  get(name: string): View | undefined {
    return this.cache.get(name);
  }

  list(): View[] {
    return [...this.cache.values()];
  }

  get size(): number {
    return this.cache.size;
  }

  /** Called for every change the cache sees; returns the unsubscribe. */
  on(listener: (type: ReflectorEvent, view: View) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.current?.abort();
    // A watch whose response has not begun cannot be aborted from here; do not wait on it for long.
    await Promise.race([this.loop, new Promise((r) => setTimeout(r, 1000).unref())]);
  }

  private emit(type: ReflectorEvent, view: View): void {
    for (const listener of this.listeners) {
      try {
        listener(type, view);
      } catch (error) {
        this.options.logger.warn({ err: error, path: this.options.path }, 'informer listener failed');
      }
    }
  }

  private async run(): Promise<void> {
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 200, maxMs: 30_000 };
    let backoff = initialMs;
    while (!this.abort.signal.aborted) {
      try {
        if (!this.resourceVersion) await this.relist();
        const delivered = await this.watchOnce();
        if (delivered) backoff = initialMs;
      } catch (error) {
        if (this.abort.signal.aborted) break;
        if (error instanceof WatchExpired || statusCodeOf(error) === 410) {
          this.stats.expired++;
          this.resourceVersion = ''; // too old: list again, then watch from the new version
          continue;
        }
        this.stats.errors++;
        const wait = Math.round(backoff * (0.5 + Math.random() / 2));
        this.options.logger.warn(
          {
            err: error instanceof Error ? error.message : String(error),
            path: this.options.path,
            retryInMs: wait,
          },
          'informer lost its watch; retrying',
        );
        await sleep(wait, this.abort.signal);
        backoff = Math.min(backoff * 2, maxMs);
      }
    }
  }

  /** Lists every page and replaces the cache; items that disappeared are reported as deleted. */
  private async relist(): Promise<void> {
    const fresh = new Map<string, View>();
    let continueToken: string | undefined;
    let version = '';
    do {
      const page = await this.options.list({ limit: this.options.pageSize ?? 500, continue: continueToken });
      for (const raw of page.items) {
        const view = this.options.project(raw);
        fresh.set(this.options.name(view), view);
      }
      version = page.metadata?.resourceVersion ?? version;
      continueToken = page.metadata?._continue || undefined;
    } while (continueToken);
    this.stats.lists++;
    for (const [name, old] of this.cache) {
      if (!fresh.has(name)) {
        this.cache.delete(name);
        this.emit('DELETED', old);
      }
    }
    for (const [name, view] of fresh) {
      const existed = this.cache.has(name);
      this.cache.set(name, view);
      this.emit(existed ? 'MODIFIED' : 'ADDED', view);
    }
    this.resourceVersion = version;
    this.syncedResolve();
  }

  /**
   * One watch from the current resourceVersion until the server ends it. Resolves whether it delivered any
   * event; rejects on a transport error, or with WatchExpired on 410 Gone.
   */
  private watchOnce(): Promise<boolean> {
    this.stats.watches++;
    const watch = new Watch(this.options.kubeConfig);
    let delivered = false;
    let expired = false;
    let failure: Error | undefined;
    return new Promise<boolean>((resolve, reject) => {
      const done = (err: unknown): void => {
        this.current = undefined;
        if (expired) return reject(new WatchExpired('resourceVersion too old'));
        if (failure) return reject(failure);
        if (err && !this.abort.signal.aborted)
          return reject(err instanceof Error ? err : new Error(String(err)));
        resolve(delivered);
      };
      const onEvent = (type: string, object: unknown): void => {
        const obj = object as { code?: number; message?: string; metadata?: { resourceVersion?: string } };
        if (type === 'ERROR') {
          // The API server reports an expired resourceVersion as an ERROR event carrying a 410 Status.
          if (obj.code === 410) expired = true;
          else failure = new Error(`watch error ${obj.code ?? ''}: ${obj.message ?? 'unknown'}`);
          this.current?.abort();
          return;
        }
        delivered = true;
        if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        const view = this.options.project(object as Raw);
        const name = this.options.name(view);
        if (type === 'DELETED') {
          this.cache.delete(name);
          this.emit('DELETED', view);
        } else if (type === 'ADDED' || type === 'MODIFIED') {
          const existed = this.cache.has(name);
          this.cache.set(name, view);
          this.emit(existed ? 'MODIFIED' : 'ADDED', view);
        }
      };
      const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
      watch
        .watch(
          this.options.path,
          {
            labelSelector: this.options.labelSelector,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds,
          },
          onEvent,
          done,
        )
        .then(
          (controller) => {
            this.current = controller;
            if (this.abort.signal.aborted) controller.abort();
          },
          (error: unknown) => done(error),
        );
    });
  }
}
