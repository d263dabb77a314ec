import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** What one PASSIVE checkpoint reported: frames in the WAL, and how many of them are now in the database. */
export interface CheckpointReport {
  log: number;
  checkpointed: number;
}

/** The writer the checkpointer may hold back for a moment (the group commit). */
export interface PausableWriter {
  pause(): void;
  resume(): void;
}

/**
 * SQLite's own automatic checkpoint threshold (4 MiB of 4 KiB pages): a WAL this long is started again from
 * its beginning; and the setting restored on the writer if the worker fails.
 */
const SQLITE_AUTOCHECKPOINT_FRAMES = 1000;

/**
 * The worker's program (CommonJS, evaluated, so it needs no file of its own in the bundle): a connection of its
 * own, synchronous FULL (the WAL is flushed before pages are copied, the database after), one PASSIVE
 * checkpoint per message.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('synchronous = FULL');
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

function spawnCheckpointWorker(file: string): Worker {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  // No inherited --import hooks (tsx): the program is plain JavaScript.
  return new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver }, execArgv: [] });
}

/**
 * Checkpoints a WAL file from a worker thread, so that copying pages into the database and its two fsyncs
 * never run on the event loop (SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 frames,
 * and held the loop for tens of milliseconds). The writer's connection has `wal_autocheckpoint = 0`.
 *
 * A cycle, at most every `intervalMs` while there are commits: a checkpoint while the writer goes on, which
 * copies nearly everything. Once the WAL holds 1,000 frames, the writer is then paused (its batches queue;
 * the event loop stays free) for a second one, which copies the few frames written meanwhile and so
 * completes; the writer's next transaction starts the WAL again from its beginning. That only happens after a
 * complete checkpoint: without the pause, a writer that never stops keeps one from ever completing and the
 * WAL grows without end. A reader holding an old snapshot can keep a cycle from completing; the next tries
 * again.
 *
 * If the worker cannot start or dies, the writer's automatic checkpoint is switched back on: slower, never
 * unbounded.
 */
export class SqliteCheckpointer {
  /** Cycles run, and the last checkpoint's report. */
  readonly stats: { cycles: number; last: CheckpointReport | undefined } = { cycles: 0, last: undefined };
  private worker: Worker | undefined;
  private readonly replies: Array<{
    resolve: (report: CheckpointReport) => void;
    reject: (error: Error) => void;
  }> = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pending = false;
  private lastEnded = 0;
  private broken: Error | undefined;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly writer: PausableWriter,
    private readonly db: Database.Database,
    private readonly intervalMs = 50,
    private readonly spawn: (file: string) => Worker = spawnCheckpointWorker,
  ) {}

  /** Why checkpoints fell back to the writer's own, if they did. */
  get failure(): Error | undefined {
    return this.broken;
  }

  /** After each COMMIT: a cycle is due within `intervalMs`. */
  committed(): void {
    this.pending = true;
    this.schedule();
  }

  /** Waits for a running cycle, then stops the worker (its connection closes; the writer's stays). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private schedule(): void {
    if (this.timer || this.running || this.broken || this.closed || !this.pending) return;
    const wait = Math.max(0, this.lastEnded + this.intervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.cycle().finally(() => {
        this.running = undefined;
        this.lastEnded = performance.now();
        this.schedule();
      });
    }, wait);
    this.timer.unref();
  }

  private async cycle(): Promise<void> {
    this.pending = false;
    try {
      const worker = (this.worker ??= this.start());
      this.stats.last = await this.checkpoint(worker);
      if (this.stats.last.log >= SQLITE_AUTOCHECKPOINT_FRAMES) {
        this.writer.pause();
        try {
          this.stats.last = await this.checkpoint(worker);
        } finally {
          this.writer.resume();
        }
      }
      this.stats.cycles++;
    } catch (error) {
      this.fallBack(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private start(): Worker {
    const worker = this.spawn(this.file);
    worker.unref();
    worker.on('message', (message: CheckpointReport | { error: string }) => {
      const reply = this.replies.shift();
      if (this.replies.length === 0) worker.unref();
      if ('error' in message) reply?.reject(new Error(message.error));
      else reply?.resolve(message);
    });
    const fail = (error: Error) => {
      for (const reply of this.replies.splice(0)) reply.reject(error);
      if (this.worker === worker) this.fallBack(error);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`the checkpoint worker exited (${code})`));
    });
    return worker;
  }

  private checkpoint(worker: Worker): Promise<CheckpointReport> {
    return new Promise((resolve, reject) => {
      this.replies.push({ resolve, reject });
      // Kept alive while it owes an answer (a paused writer waits for it); idle, it keeps no process running.
      worker.ref();
      worker.postMessage('checkpoint');
    });
  }

  private fallBack(error: Error): void {
    if (this.broken) return;
    this.broken = error;
    void this.worker?.terminate();
    this.worker = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_FRAMES}`);
    process.emitWarning(`SQLite checkpoints are back on the writer (${this.file}): ${error.message}`);
  }
}
