import type Database from 'better-sqlite3';

interface Job {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Done {
  job: Job;
  value: unknown;
}

/** Jobs beyond this wait for the next batch, so one batch cannot hold the event loop for long. */
const MAX_BATCH = 256;

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
 * loop goes on serving (the fsync in COMMIT had been half of its busy time under load). One sync runs at a
 * time, and the next batch gathers meanwhile. A lone write goes the same way: flushed on the event loop, it
 * held the loop for the whole fdatasync (a fifth to a quarter of its busy time at 1,000 requests/s, and far more on a
 * slower disk), where the thread pool's round trip costs it ~0.1 ms of latency. Without `durability`
 * (`:memory:`, or a file SQLite could not put in WAL mode, kept at synchronous FULL), the COMMIT is the
 * acknowledgement.
 */
export class SqliteGroupCommit {
  /** Batches committed, the jobs in them and the syncs that made them durable, since the connection opened. */
  readonly committed = { batches: 0, jobs: 0, syncs: 0 };
  private queue: Job[] = [];
  private scheduled = false;
  private paused = false;
  /** Committed jobs waiting for a sync to start. */
  private unsynced: Done[] = [];
  private syncing: Promise<void> | undefined;
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
  ) {
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT group_commit_job');
    this.release = db.prepare('RELEASE group_commit_job');
    this.rollbackToSavepoint = db.prepare('ROLLBACK TO group_commit_job');
  }

  /** Runs `work` (synchronous, statements only) in the next batch; settles once that is committed and durable. */
  run<T>(work: () => T): Promise<T> {
    if (this.lost) return Promise.reject(this.lost);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
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
    // While a sync runs, the next batch gathers: committed now, it would still wait for the sync after this
    // one, so waiting costs its jobs nothing and makes fewer, larger COMMITs.
    if (this.paused || this.syncing) return;
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
    this.unsynced.push(...done);
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

  /** One sync at a time; the batches committed while it runs wait for the next, which starts when it ends. */
  private startSync(): void {
    const durability = this.durability;
    if (!durability || this.syncing || this.unsynced.length === 0) return;
    const cohort = this.unsynced;
    this.unsynced = [];
    if (this.lost) {
      this.refuse(this.lost, cohort);
      return;
    }
    this.syncing = durability
      .sync()
      .then(
        () => this.acknowledge(cohort),
        (error: unknown) => this.refuse(error, cohort),
      )
      .finally(() => {
        this.syncing = undefined;
        // Batches committed meanwhile (a failed COMMIT's jobs, each run alone) before the queue's next one.
        this.startSync();
        if (this.queue.length > 0) this.schedule();
      });
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
