import { streamWindow, type StreamStats, type StreamTotals, type StreamWindow } from './stream-stats.ts';

/**
 * The sampling of the streams this process serves: every interval, each streamed session gets a StreamWindow
 * (its latency and quality are the stream metrics, exported where the streams are). CPU and memory are the
 * SessionSampler's, which reads the runtime. A session nobody watched over a whole window is forgotten.
 */
export class StreamSampler {
  private readonly previous = new Map<string, { atMs: number; totals: StreamTotals }>();
  private readonly listeners = new Set<(sessionId: string, window: StreamWindow, atMs: number) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly streams: StreamStats,
    private readonly intervalMs = 2000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Each window as it closes, with the time it closed at (ms since the epoch). */
  onWindow(listener: (sessionId: string, window: StreamWindow, atMs: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One sampling round (the timer's; exposed so tests need not wait for it). */
  sample(now = Date.now()): void {
    const streamed = this.streams.sessionIds();
    // Forgotten by someone else meanwhile (its session ended): no window across that.
    const kept = new Set(streamed);
    for (const sessionId of this.previous.keys()) if (!kept.has(sessionId)) this.previous.delete(sessionId);
    for (const sessionId of streamed) {
      const totals = this.streams.totalsOf(sessionId);
      const before = this.previous.get(sessionId);
      if (before && totals.viewers === 0 && before.totals.viewers === 0) {
        this.previous.delete(sessionId);
        this.streams.forget(sessionId);
        continue;
      }
      this.previous.set(sessionId, { atMs: now, totals });
      if (!before) continue; // rates need two points
      const window = streamWindow(totals, before.totals, Math.max((now - before.atMs) / 1000, 0.001));
      for (const listener of this.listeners) listener(sessionId, window, now);
    }
  }
}
