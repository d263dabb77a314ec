import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type Database from 'better-sqlite3';

/**
 * When a job's promise settles: once its COMMIT is durable (the default), or as soon as it is committed. The
 * WAL is flushed in order, so a write acknowledged on commit is durable once any later durable write is: it is
 * for a write that such a later write follows before anyone is answered (TransactionOptions).
 */
export type Acknowledge = 'durable' | 'on-commit';

interface Job {
  work: () => unknown;
  acknowledge: Acknowledge;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Done {
  job: Job;
  value: unknown;
}

/** Jobs beyond this wait for the next batch, so one batch cannot hold the event loop for long. */
const MAX_BATCH = 256;
/**
 * Flushes running at once. A write that arrived while one ran waited for it to end, then for its own: a
 * launch's writes, one after the other, each paid about one and a half flushes; beside a second flush, one.
 * But each early COMMIT is a smaller one: at 1,000 requests/s that cost the event loop a fifth more time per
 * request. So a batch goes beside a running flush only while the loop is mostly idle (`loopBusy`); when
 * it is busy, CPU is what runs short, and batches gather as before.
 */
const MAX_SYNCS = 2;

/** The event loop's busy share, over its last window, above which batches gather behind a running flush. */
const BUSY_SHARE = 0.5;
const BUSY_WINDOW_MS = 100;

/** Whether the event loop was busy over its last BUSY_WINDOW_MS window (read again once a window has passed). */
function eventLoopBusy(): () => boolean {
  let at = performance.now();
  let mark: EventLoopUtilization = performance.eventLoopUtilization();
  let busy = false;
  return () => {
    const now = performance.now();
    if (now - at >= BUSY_WINDOW_MS) {
      const next = performance.eventLoopUtilization();
      busy = performance.eventLoopUtilization(next, mark).utilization > BUSY_SHARE;
      mark = next;
      at = now;
    }
    return busy;
  };
}

/** How a connection makes its COMMITs durable when the COMMIT itself does not (sqlite-connection.ts). */
export interface GroupCommitDurability {
  /** Makes every COMMIT so far durable (the WAL's fdatasync, off the event loop); acknowledgements wait for it. */
  sync(): Promise<void>;
  /** Told after every COMMIT (the checkpointer paces itself by them). */
  afterCommit(): void;
}

/**
 * A write was committed but could not be made durable (its fdatasync failed): whether it survives a power loss
 * is unknown, so it is refused, and so is every write after it on this connection (as PostgreSQL stops on a
 * failed fsync: the kernel may have dropped the pages it could not write, and a retry would report success).
 */
export class DurabilityLostError extends Error {
  readonly code = 'SQLITE_DURABILITY_LOST';
  constructor(readonly reason: unknown) {
    super(`the database could not make a write durable: ${String(reason)}`);
  }
}

/**
 * Group commit for one better-sqlite3 connection. Each COMMIT costs a flush of the WAL to disk, and a
 * session's create → terminate makes about a dozen write transactions; run one at a time, the flushes alone
 * capped the adapter near 200 requests/s. Write transactions asked for in the same turn of the event loop now
 * run together inside one BEGIN IMMEDIATE … COMMIT, each in its own savepoint, and every job is acknowledged
 * (its promise settles) only once that COMMIT is durable: one flush per batch, PostgreSQL's group commit, done
 * where the driver is synchronous.
 *
 * A job that throws is rolled back to its savepoint and rejected alone; the others commit. If an error ends
 * the whole transaction (SQLite rolls back on I/O errors, a full disk, …) the job that caused it is rejected
 * and the batch's other jobs run again in the next batch, as their writes were rolled back with it. If the
 * COMMIT fails, every job runs again in a transaction of its own, so only the one at fault is refused. `work`
 * must therefore touch nothing but the database: it may run more than once before it is committed.
 *
 * With `durability` (a file in WAL mode, synchronous NORMAL), the flush is not inside the COMMIT: a batch is
 * acknowledged once the `sync()` that followed its COMMIT has finished, on the thread pool, while the event
 * loop goes on serving (the fsync in COMMIT had been half of its busy time under load). Up to MAX_SYNCS
 * flushes run at once while the loop is mostly idle, one while it is busy; beyond that the next batch gathers
 * until one ends. Batches are acknowledged in the order they committed, each once its own flush and every
 * earlier one have succeeded: a later flush's success says nothing of an earlier one's pages (the kernel
 * reports a failed writeback once, to one caller). A lone write goes the same way: flushed on the event loop,
 * it held the loop for the whole fdatasync (a fifth to a quarter of its busy time at 1,000 requests/s, and far
 * more on a slower disk), where the thread pool's round trip costs it ~0.1 ms of latency. Without
 * `durability` (`:memory:`, or a file SQLite could not put in WAL mode, kept at synchronous FULL), the COMMIT
 * is the acknowledgement.
 */
export class SqliteGroupCommit {
  /** Batches committed, the jobs in them and the syncs that made them durable, since the connection opened. */
  readonly committed = { batches: 0, jobs: 0, syncs: 0 };
  private queue: Job[] = [];
  private scheduled = false;
  private paused = false;
  /** Committed jobs waiting for a sync to start. */
  private unsynced: Done[] = [];
  /** The latest flush's acknowledgement (each waits for the one before it); undefined when none runs. */
  private syncing: Promise<void> | undefined;
  private syncsInFlight = 0;
  private lost: DurabilityLostError | undefined;

  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackToSavepoint: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly durability?: GroupCommitDurability,
    private readonly loopBusy: () => boolean = eventLoopBusy(),
  ) {
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT group_commit_job');
    this.release = db.prepare('RELEASE group_commit_job');
    this.rollbackToSavepoint = db.prepare('ROLLBACK TO group_commit_job');
  }

  /**
   * Runs `work` (synchronous, statements only) in the next batch; settles once that is committed and durable,
   * or (`on-commit`) once it is committed.
   */
  run<T>(work: () => T, acknowledge: Acknowledge = 'durable'): Promise<T> {
    if (this.lost) return Promise.reject(this.lost);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, acknowledge, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Settles once every job asked for so far is committed or rejected (e.g. before closing). */
  async drain(): Promise<void> {
    if (this.queue.length === 0 && this.unsynced.length === 0 && !this.syncing) return;
    await this.run(() => undefined).catch(() => undefined);
  }

  /** Set once a sync failed: every write since has been refused with it. */
  get failure(): DurabilityLostError | undefined {
    return this.lost;
  }

  /** Holds new batches back (they queue) until `resume`; the event loop stays free meanwhile. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    if (this.queue.length > 0) this.schedule();
  }

  private flush(): void {
    this.scheduled = false;
    // While MAX_SYNCS flushes run (or one runs and the loop is busy), the next batch gathers: fewer, larger
    // COMMITs.
    if (this.paused || this.syncsInFlight >= MAX_SYNCS) return;
    if (this.syncsInFlight > 0 && this.loopBusy()) return;
    if (this.lost) {
      for (const job of this.queue.splice(0)) job.reject(this.lost);
      return;
    }
    const batch = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length > 0) this.schedule();
    if (batch.length > 0) this.runBatch(batch);
  }

  private runBatch(batch: Job[]): void {
    if (!this.db.open) {
      for (const job of batch) job.reject(new Error('the database is closed'));
      return;
    }
    const done: Done[] = [];
    const failed: Array<{ job: Job; error: unknown }> = [];
    try {
      this.begin.run();
    } catch (error) {
      for (const job of batch) job.reject(error);
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const job = batch[i] as Job;
      try {
        done.push({ job, value: this.inSavepoint(job.work) });
      } catch (error) {
        failed.push({ job, error });
        if (!this.db.inTransaction) {
          // SQLite ended the whole transaction: the earlier jobs' writes are gone too. Run them again.
          this.requeue([...done.map((d) => d.job), ...batch.slice(i + 1)]);
          for (const f of failed) f.job.reject(f.error);
          return;
        }
      }
    }
    try {
      this.commit.run();
    } catch (error) {
      this.abandon();
      if (batch.length === 1) {
        (batch[0] as Job).reject(error);
        return;
      }
      // One job's deferred check (or a full disk) failed the COMMIT of all: each runs again on its own, so
      // only the guilty one is refused.
      for (const job of batch) this.runBatch([job]);
      return;
    }
    this.committed.batches++;
    this.committed.jobs += batch.length;
    for (const f of failed) f.job.reject(f.error);
    if (!this.durability) {
      for (const d of done) d.job.resolve(d.value);
      return;
    }
    this.durability.afterCommit();
    for (const d of done) {
      if (d.job.acknowledge === 'on-commit') d.job.resolve(d.value);
      else this.unsynced.push(d);
    }
    this.startSync();
  }

  private acknowledge(done: Done[]): void {
    this.committed.syncs++;
    for (const d of done) d.job.resolve(d.value);
  }

  /** A failed flush: these writes and every one after them are refused. */
  private refuse(error: unknown, done: Done[]): void {
    this.lost ??= new DurabilityLostError(error);
    for (const d of done) d.job.reject(this.lost);
  }

  /**
   * A flush for the batches committed since the last one started, unless MAX_SYNCS are running (it starts when
   * one ends). Its batches are acknowledged once it and every earlier flush have succeeded, and refused at once
   * if an earlier one failed.
   */
  private startSync(): void {
    const durability = this.durability;
    if (!durability || this.syncsInFlight >= MAX_SYNCS || this.unsynced.length === 0) return;
    const cohort = this.unsynced;
    this.unsynced = [];
    if (this.lost) {
      this.refuse(this.lost, cohort);
      return;
    }
    const own = durability.sync().then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    const earlier = this.syncing;
    this.syncsInFlight++;
    const settled = (async () => {
      await earlier;
      if (this.lost) {
        this.refuse(this.lost, cohort);
        return;
      }
      const failed = await own;
      if (failed) this.refuse(failed.error, cohort);
      else this.acknowledge(cohort);
    })().finally(() => {
      this.syncsInFlight--;
      if (this.syncing === settled) this.syncing = undefined;
      // Batches committed meanwhile (a failed COMMIT's jobs, each run alone) before the queue's next one.
      this.startSync();
      if (this.queue.length > 0) this.schedule();
    });
    this.syncing = settled;
  }

  private inSavepoint(work: () => unknown): unknown {
    this.savepoint.run();
    try {
      const value = work();
      this.release.run();
      return value;
    } catch (error) {
      if (this.db.inTransaction) {
        this.rollbackToSavepoint.run();
        this.release.run();
      }
      throw error;
    }
  }

  /** Ends a transaction whose COMMIT failed; if even that fails the connection has no transaction left. */
  private abandon(): void {
    try {
      if (this.db.inTransaction) this.rollback.run();
    } catch {
      // Nothing more to undo: the batch's jobs are run again on their own, or refused.
    }
  }

  private requeue(jobs: Job[]): void {
    this.queue.unshift(...jobs);
    if (this.queue.length > 0) this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }
}
