import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Analytics, AnalyticsEvent } from './analytics.ts';

/**
 * Embedded default for v-analytics: events appended as JSON lines to a local file, in batches.
 * The queue is bounded; when full the oldest events are dropped and counted, never blocking a caller.
 */
export class FileAnalytics implements Analytics {
  private queue: AnalyticsEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  dropped = 0;

  constructor(
    private readonly file: string,
    private readonly options = { maxQueue: 10_000, flushIntervalMs: 1000 },
  ) {}

  track(event: AnalyticsEvent): void {
    this.queue.push(event);
    if (this.queue.length > this.options.maxQueue) {
      const excess = this.queue.length - this.options.maxQueue;
      this.queue.splice(0, excess);
      this.dropped += excess;
    }
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushIntervalMs).unref();
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return this.writing;
    const lines = batch.map((e) => JSON.stringify(e)).join('\n') + '\n';
    this.writing = this.writing
      .then(() => mkdir(dirname(this.file), { recursive: true }))
      .then(() => appendFile(this.file, lines))
      .catch(() => {
        this.dropped += batch.length;
      });
    return this.writing;
  }
}
