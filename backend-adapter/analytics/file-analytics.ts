import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type {
  Analytics,
  AnalyticsDropListener,
  AnalyticsErasure,
  AnalyticsEvent,
  AnalyticsUserExport,
} from './analytics.ts';

export interface FileAnalyticsOptions {
  maxQueue: number;
  flushIntervalMs: number;
  onDrop?: AnalyticsDropListener;
}

/**
 * Embedded default for v-analytics: events appended as JSON lines to a local file, in batches.
 * The queue is bounded; when full the oldest events are dropped and counted, never blocking a caller.
 */
export class FileAnalytics implements Analytics {
  private queue: AnalyticsEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  dropped = 0;
  private readonly options: FileAnalyticsOptions;

  constructor(
    private readonly file: string,
    options: Partial<FileAnalyticsOptions> = {},
  ) {
    this.options = { maxQueue: 10_000, flushIntervalMs: 1000, ...options };
  }

  private drop(reason: 'queue-full' | 'write-failed', count: number): void {
    this.dropped += count;
    this.options.onDrop?.(reason, count);
  }

  track(event: AnalyticsEvent): void {
    this.queue.push(event);
    if (this.queue.length > this.options.maxQueue) {
      const excess = this.queue.length - this.options.maxQueue;
      this.queue.splice(0, excess);
      this.drop('queue-full', excess);
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
      .then(() => appendFile(this.file, lines, { mode: 0o600 }))
      .catch(() => this.drop('write-failed', batch.length));
    return this.writing;
  }

  /** Every stored event, in order; `visit` sees each one. */
  private async scan(visit: (event: AnalyticsEvent) => void): Promise<void> {
    const input = createReadStream(this.file, { encoding: 'utf8' });
    const missing = new Promise<boolean>((resolve) => {
      input.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ENOENT'));
      input.once('open', () => resolve(false));
    });
    if (await missing) return;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (line.trim()) visit(JSON.parse(line) as AnalyticsEvent);
    }
  }

  async exportUser(userId: string): Promise<AnalyticsUserExport> {
    await this.flush();
    const events: AnalyticsEvent[] = [];
    await this.scan((e) => {
      if (e.userId === userId) events.push(e);
    });
    return { heldBy: 'local-file', events };
  }

  /** Rewrites the file with the user's id replaced by the pseudonym (atomically: temp file, then rename). */
  async eraseUser(userId: string, pseudonym: string): Promise<AnalyticsErasure> {
    await this.flush();
    let eventsPseudonymised = 0;
    const rewrite = async (): Promise<void> => {
      const temp = `${this.file}.erase-${process.pid}-${Date.now()}`;
      const out = await open(temp, 'wx', 0o600);
      try {
        const lines: string[] = [];
        await this.scan((e) => {
          if (e.userId === userId) eventsPseudonymised++;
          lines.push(`${JSON.stringify(e.userId === userId ? { ...e, userId: pseudonym } : e)}\n`);
        });
        await out.write(lines.join(''));
        await out.sync();
      } catch (error) {
        await out.close();
        await rm(temp, { force: true });
        throw error;
      }
      await out.close();
      await rename(temp, this.file);
    };
    // Serialised with appends, so no batch is written into the file being replaced.
    const done = this.writing.then(rewrite);
    this.writing = done.catch(() => undefined);
    await done;
    return { eventsPseudonymised, forwarded: false };
  }
}
