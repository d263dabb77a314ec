import { randomUUID } from 'node:crypto';
import type { StreamTotalsReport } from '../events/redis-stream-totals-channel.ts';
import { zeroTotals, type StreamStats, type StreamTotals, type StreamTotalsSource } from './stream-stats.ts';

/** A replica silent for this many report intervals has stopped (or lost Redis): its totals leave the sums. */
const STALE_AFTER_INTERVALS = 3;

/**
 * Every replica's stream totals of a session, summed: with several replicas, or the stream gateway apart from
 * the orchestrator, a session's viewers are on replicas other than the one sampling it (the Resource Monitor,
 * the AI's inputs, v-analytics). Each replica reports its own streams every interval through `channel`
 * (its own report comes back too), and the sums are read from the latest report of each replica still
 * reporting. Counters are cumulative per replica, so a replica that stops leaves the sum smaller: a window
 * across that counts no traffic (streamWindow).
 */
export class ReplicaStreamTotals implements StreamTotalsSource {
  private readonly id = randomUUID();
  private readonly reports = new Map<string, { at: number; sessions: Map<string, StreamTotals> }>();
  private readonly unsubscribe: () => void;
  private timer: NodeJS.Timeout | undefined;
  /** Whether the last report sent named any session (then an empty one is sent once, to clear it). */
  private reportedAny = false;

  constructor(
    private readonly channel: {
      publish(report: StreamTotalsReport): Promise<void>;
      subscribe(listener: (report: StreamTotalsReport) => void): () => void;
    },
    /** This replica's own streams (none on an orchestrator). */
    private readonly local: StreamStats,
    private readonly intervalMs = 2000,
    private readonly clock: () => number = Date.now,
  ) {
    this.unsubscribe = channel.subscribe((report) => {
      this.reports.set(report.from, { at: this.clock(), sessions: new Map(report.sessions) });
    });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.report().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe();
  }

  /** Sends this replica's totals of every session it streams (nothing when it streams none). */
  async report(): Promise<void> {
    const sessions = this.local
      .sessionIds()
      .map((id): [string, StreamTotals] => [id, this.local.totalsOf(id)]);
    if (sessions.length === 0 && !this.reportedAny) return;
    this.reportedAny = sessions.length > 0;
    await this.channel.publish({ type: 'stream.totals', from: this.id, sessions });
  }

  totalsOf(sessionId: string): StreamTotals {
    const sum = zeroTotals();
    const oldest = this.clock() - STALE_AFTER_INTERVALS * this.intervalMs;
    for (const [from, report] of this.reports) {
      if (report.at < oldest) {
        this.reports.delete(from);
        continue;
      }
      const totals = report.sessions.get(sessionId);
      if (!totals) continue;
      for (const key of Object.keys(sum) as Array<keyof StreamTotals>) sum[key] += totals[key];
    }
    return sum;
  }

  forget(sessionId: string): void {
    this.local.forget(sessionId);
    for (const report of this.reports.values()) report.sessions.delete(sessionId);
  }
}
