import type { SessionState } from '../../protocol/session.ts';
import { ApiError } from '../api-error.ts';
import type { Principal } from '../auth/principal.ts';
import type { SessionEventBus } from '../events/session-event-bus.ts';
import { RfbUpstreamError } from '../gateway/upstream-error.ts';
import type { SessionAccess } from '../lifecycle/session-access.ts';
import { takeSnapshot, type Snapshot, type SnapshotTarget } from './rfb-snapshot.ts';
import { thumbnailOf } from './thumbnail-image.ts';

/** A desktop's thumbnail; `paused` when the desktop is paused and this is its last picture from before. */
export interface Thumbnail {
  png: Buffer;
  width: number;
  height: number;
  takenAt: string;
  state: 'live' | 'paused';
}

export interface ThumbnailServiceOptions {
  access: Pick<SessionAccess, 'get' | 'streamTarget'>;
  /** Ended sessions' thumbnails are dropped when the bus says so. */
  events?: Pick<SessionEventBus, 'subscribe'>;
  /** A thumbnail younger than this is served from the cache. Default 5000. */
  ttlMs?: number;
  /** One snapshot may take this long (connect, handshake, one update). Default 5000. */
  timeoutMs?: number;
  /** Snapshots running at once on this replica; more wait their turn. Default 4. */
  maxConcurrent?: number;
  /** Thumbnails kept (the oldest go first). Default 1000 (~20 MB at most). */
  maxEntries?: number;
  /** How a desktop's picture is taken; the short RFB connection of rfb-snapshot.ts by default. */
  snapshot?: (target: SnapshotTarget, options: { timeoutMs: number }) => Promise<Snapshot>;
  clock?: () => Date;
}

/** States whose desktop is stopped (SIGSTOP or gone): only the last picture from before can be shown. */
const PAUSED: ReadonlySet<SessionState> = new Set(['pausing', 'paused', 'hibernated', 'resuming']);
const ENDED: ReadonlySet<SessionState> = new Set(['terminating', 'terminated', 'failed']);

/**
 * Thumbnails of the caller's live desktops for Active Sessions, taken on the server so a list of 50 sessions
 * needs no stream per row: an active desktop's picture is taken over a short Raw-only RFB connection at most
 * once per `ttlMs` however many ask (single flight, cached), a few at a time per replica; a paused desktop
 * keeps its last picture (marked paused); an ended one has none. Ownership is SessionAccess's: another user's
 * session is SESSION_NOT_FOUND.
 */
export class ThumbnailService {
  private readonly cache = new Map<string, Thumbnail>();
  private readonly inFlight = new Map<string, Promise<Thumbnail>>();
  private readonly waiting: Array<() => void> = [];
  private running = 0;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly maxEntries: number;
  private readonly snapshot: NonNullable<ThumbnailServiceOptions['snapshot']>;
  private readonly clock: () => Date;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: ThumbnailServiceOptions) {
    this.ttlMs = options.ttlMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxConcurrent = options.maxConcurrent ?? 4;
    this.maxEntries = options.maxEntries ?? 1000;
    this.snapshot = options.snapshot ?? takeSnapshot;
    this.clock = options.clock ?? (() => new Date());
    this.unsubscribe =
      options.events?.subscribe((e) => {
        if (ENDED.has(e.session.state)) this.cache.delete(e.session.sessionId);
      }) ?? (() => undefined);
  }

  /** Thumbnails held in the cache (for tests and diagnostics). */
  get size(): number {
    return this.cache.size;
  }

  /** The session's picture, or null when it has none yet (paused before one was taken, or still starting). */
  async thumbnailFor(principal: Principal, sessionId: string): Promise<Thumbnail | null> {
    const session = await this.options.access.get(principal, sessionId);
    const cached = this.cache.get(sessionId);
    if (ENDED.has(session.state)) {
      this.cache.delete(sessionId);
      throw new ApiError('SESSION_NOT_STREAMABLE', `A ${session.state} session has no desktop to show.`);
    }
    if (PAUSED.has(session.state)) {
      return cached ? { ...cached, state: 'paused' } : null;
    }
    if (session.state !== 'active') return null;
    if (cached && this.clock().getTime() - Date.parse(cached.takenAt) < this.ttlMs) return cached;
    let pending = this.inFlight.get(sessionId);
    if (!pending) {
      pending = this.take(principal, sessionId).finally(() => this.inFlight.delete(sessionId));
      this.inFlight.set(sessionId, pending);
    }
    try {
      return await pending;
    } catch (error) {
      // A picture a few seconds old beats none while the desktop is busy or briefly unreachable.
      if (cached) return cached;
      throw error;
    }
  }

  close(): void {
    this.unsubscribe();
    this.cache.clear();
  }

  private async take(principal: Principal, sessionId: string): Promise<Thumbnail> {
    const target = await this.options.access.streamTarget(principal, sessionId);
    await this.turn();
    let snapshot: Snapshot;
    try {
      snapshot = await this.snapshot(target, { timeoutMs: this.timeoutMs });
    } catch (error) {
      // The desktop's failure keeps its stable code on the wire (UPSTREAM_TIMEOUT, UPSTREAM_UNREACHABLE …).
      if (error instanceof RfbUpstreamError)
        throw new ApiError(error.code, 'The desktop could not be pictured.');
      throw error;
    } finally {
      // The slot passes straight to the next in line, or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
    const image = thumbnailOf(snapshot);
    const thumbnail: Thumbnail = { ...image, takenAt: this.clock().toISOString(), state: 'live' };
    this.cache.delete(sessionId); // re-inserted last: the Map's order is the eviction order
    this.cache.set(sessionId, thumbnail);
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    return thumbnail;
  }

  /** Resolves when one of the `maxConcurrent` snapshot slots is free (and takes it). */
  private async turn(): Promise<void> {
    if (this.running < this.maxConcurrent) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
}
