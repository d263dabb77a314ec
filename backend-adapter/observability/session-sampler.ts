import type { Logger } from 'pino';
import type { MetricsSample } from '../../protocol/live-events.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import type { RuntimeProvider } from '../runtime/runtime-provider.ts';
import { streamWindow, type StreamTotals, type StreamTotalsSource } from './stream-stats.ts';

interface Previous {
  atMs: number;
  cpuSeconds: number;
  stream: StreamTotals;
}

/**
 * Samples every live desktop at a fixed interval: CPU and memory from the runtime, traffic, frame rate and
 * latency from the streams (this replica's, or every replica's through Redis: replica-stream-totals.ts).
 * Keeps a bounded history per session for the Resource Monitor, the AI and v-analytics. The stream metrics
 * are exported where the streams are (StreamSampler), not here.
 */
export class SessionSampler {
  private readonly history = new Map<string, MetricsSample[]>();
  private readonly previous = new Map<string, Previous>();
  private readonly listeners = new Set<(sample: MetricsSample) => void>();
  private timer: NodeJS.Timeout | undefined;
  /** The round under way, and the one queued behind it (at most one: slow rounds never stack up). */
  private round: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private readonly maxSamples: number;

  constructor(
    private readonly deps: {
      canon: CanonStore;
      runtime: RuntimeProvider;
      streams: StreamTotalsSource;
      logger: Logger;
    },
    private readonly intervalMs = 2000,
    historySeconds = 3600,
  ) {
    this.maxSamples = Math.ceil((historySeconds * 1000) / intervalMs);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  onSample(listener: (sample: MetricsSample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Samples of the last `windowSeconds`, oldest first. */
  recent(sessionId: string, windowSeconds: number): MetricsSample[] {
    const since = Date.now() - windowSeconds * 1000;
    return (this.history.get(sessionId) ?? []).filter((s) => Date.parse(s.at) >= since);
  }

  /**
   * A sampling round that starts after this call (exposed so tests need not wait for the timer): while one is
   * under way, the next is queued behind it — one at most, shared by every caller meanwhile.
   */
  tick(): Promise<void> {
    if (this.next) return this.next;
    if (!this.round) return this.startRound();
    this.next = this.round.then(() => {
      this.next = undefined;
      return this.startRound();
    });
    return this.next;
  }

  private startRound(): Promise<void> {
    const round = this.sampleAll().finally(() => {
      if (this.round === round) this.round = undefined;
    });
    this.round = round;
    return round;
  }

  private async sampleAll(): Promise<void> {
    try {
      const live = new Set<string>();
      for (const row of await this.deps.canon.listUnfinished()) {
        if (!row.runtime || (row.session.state !== 'active' && row.session.state !== 'paused')) continue;
        const sample = await this.deps.runtime.sample(row.runtime);
        if (!sample) continue;
        live.add(row.session.sessionId);
        this.record(row.session.sessionId, sample.cpuSeconds, sample.memoryBytes, sample.gpuPercent);
      }
      for (const id of [...this.history.keys()]) {
        if (!live.has(id)) this.forget(id);
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'metrics sampling failed');
    }
  }

  private record(
    sessionId: string,
    cpuSeconds: number,
    memoryBytes: number,
    gpuPercent: number | null,
  ): void {
    const atMs = Date.now();
    const stream = this.deps.streams.totalsOf(sessionId);
    const prev = this.previous.get(sessionId);
    this.previous.set(sessionId, { atMs, cpuSeconds, stream });
    if (!prev) return; // rates need two points
    const seconds = Math.max((atMs - prev.atMs) / 1000, 0.001);
    const round1 = (n: number) => Math.round(n * 10) / 10;
    const { quality: _quality, ...window } = streamWindow(stream, prev.stream, seconds);
    const sample: MetricsSample = {
      sessionId,
      at: new Date(atMs).toISOString(),
      cpuPercent: round1(((cpuSeconds - prev.cpuSeconds) / seconds) * 100),
      memoryMiB: round1(memoryBytes / (1024 * 1024)),
      gpuPercent,
      ...window,
    };
    const list = this.history.get(sessionId) ?? [];
    list.push(sample);
    if (list.length > this.maxSamples) list.splice(0, list.length - this.maxSamples);
    this.history.set(sessionId, list);
    for (const listener of this.listeners) listener(sample);
  }

  private forget(sessionId: string): void {
    this.history.delete(sessionId);
    this.previous.delete(sessionId);
    this.deps.streams.forget(sessionId);
  }
}
