import type { Session, SessionState } from '../../protocol/session.ts';
import { THUMBNAIL_REFRESH_MS, type ThumbnailState } from '../../protocol/thumbnails.ts';
import type { ApiClient } from '../api/api-client.ts';

export interface ThumbnailEntry {
  /** An object URL of the PNG (revoked when replaced or dropped). */
  url: string;
  state: ThumbnailState;
  takenAt: string | null;
}

const LIVE: ReadonlySet<SessionState> = new Set(['active']);
/** Desktops that are stopped: their last picture from before is shown, marked paused. */
const PAUSED: ReadonlySet<SessionState> = new Set(['pausing', 'paused', 'hibernated', 'resuming']);

/**
 * The thumbnails of the sessions listed in Active Sessions, from the server's thumbnail endpoint: a live
 * desktop's is fetched again every `refreshMs` while the page is visible, a few requests at a time; a paused one
 * keeps the picture it had (or asks once for the server's last one); any other session has none. No stream is
 * opened per row. `dispose()` stops the timer, aborts requests and revokes every object URL.
 */
export class SessionThumbnails {
  private readonly entries = new Map<string, ThumbnailEntry>();
  /** Sessions listed now, and their state. */
  private wanted = new Map<string, SessionState>();
  /** Paused sessions already asked for their last picture (asked once). */
  private readonly askedPaused = new Set<string>();
  private readonly loading = new Set<string>();
  private readonly queue: string[] = [];
  private running = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly aborter = new AbortController();

  constructor(
    private readonly api: Pick<ApiClient, 'sessionThumbnail'>,
    private readonly onChange: () => void,
    private readonly options: { refreshMs?: number; concurrency?: number } = {},
  ) {}

  get(sessionId: string): ThumbnailEntry | undefined {
    return this.entries.get(sessionId);
  }

  /** The sessions on screen: fetches what is missing, drops what is no longer shown, starts or stops the timer. */
  sync(sessions: readonly Session[]): void {
    if (this.aborter.signal.aborted) return;
    this.wanted = new Map(sessions.map((s) => [s.sessionId, s.state]));
    let changed = false;
    for (const [id, entry] of this.entries) {
      const state = this.wanted.get(id);
      if (state === undefined || (!LIVE.has(state) && !PAUSED.has(state))) {
        this.drop(id);
        changed = true;
      } else if (PAUSED.has(state) && entry.state !== 'paused') {
        this.entries.set(id, { ...entry, state: 'paused' });
        changed = true;
      }
    }
    for (const [id, state] of this.wanted) {
      if (LIVE.has(state)) {
        this.askedPaused.delete(id);
        if (!this.entries.has(id) || this.entries.get(id)?.state === 'paused') this.enqueue(id);
      } else if (PAUSED.has(state) && !this.entries.has(id) && !this.askedPaused.has(id)) {
        this.askedPaused.add(id);
        this.enqueue(id);
      }
    }
    const anyLive = [...this.wanted.values()].some((s) => LIVE.has(s));
    if (anyLive && this.timer === undefined) {
      this.timer = setInterval(() => this.refreshLive(), this.options.refreshMs ?? THUMBNAIL_REFRESH_MS);
    } else if (!anyLive && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (changed) this.onChange();
  }

  dispose(): void {
    this.aborter.abort();
    clearInterval(this.timer);
    this.timer = undefined;
    for (const id of [...this.entries.keys()]) this.drop(id);
    this.queue.length = 0;
  }

  private refreshLive(): void {
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
    for (const [id, state] of this.wanted) if (LIVE.has(state)) this.enqueue(id);
  }

  private enqueue(id: string): void {
    if (this.loading.has(id) || this.queue.includes(id)) return;
    this.queue.push(id);
    this.pump();
  }

  private pump(): void {
    while (this.running < (this.options.concurrency ?? 4) && this.queue.length > 0) {
      const id = this.queue.shift() as string;
      this.running++;
      this.loading.add(id);
      void this.load(id).finally(() => {
        this.running--;
        this.loading.delete(id);
        this.pump();
      });
    }
  }

  private async load(id: string): Promise<void> {
    try {
      const picture = await this.api.sessionThumbnail(id, { signal: this.aborter.signal });
      if (!picture) return; // none yet: the next refresh of a live desktop asks again
      const { image, state, takenAt } = picture;
      const now = this.wanted.get(id);
      if (this.aborter.signal.aborted || now === undefined || (!LIVE.has(now) && !PAUSED.has(now))) return;
      const previous = this.entries.get(id);
      if (previous) URL.revokeObjectURL(previous.url);
      this.entries.set(id, {
        url: URL.createObjectURL(image),
        state: PAUSED.has(now) ? 'paused' : state,
        takenAt,
      });
      this.onChange();
    } catch {
      // No picture (yet), or the desktop is busy: the row keeps what it shows and the next refresh tries again.
    }
  }

  private drop(id: string): void {
    const entry = this.entries.get(id);
    if (entry) URL.revokeObjectURL(entry.url);
    this.entries.delete(id);
  }
}
