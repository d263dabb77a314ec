import type Database from 'better-sqlite3';

interface Job {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Jobs beyond this wait for the next batch, so one batch cannot hold the event loop for long. */
const MAX_BATCH = 256;

/**
 * Group commit for one better-sqlite3 connection. With synchronous FULL every COMMIT waits for an fsync
 * (~0.3 ms here), and a session's create → terminate makes about a dozen of them; run one at a time, the
 * commits alone capped the adapter near 200 requests/s. Write transactions asked for in the same turn of the
 * event loop now run together inside one BEGIN IMMEDIATE … COMMIT, each in its own savepoint, and every job
 * is acknowledged (its promise settles) only after that COMMIT: an acknowledged write is still durable, for
 * one fsync per batch — PostgreSQL's group commit, done where the driver is synchronous.
 *
 * A job that throws is rolled back to its savepoint and rejected alone; the others commit. If an error ends
 * the whole transaction (SQLite rolls back on I/O errors, a full disk, …) the job that caused it is rejected
 * and the batch's other jobs run again in the next batch, as their writes were rolled back with it. If the
 * COMMIT fails, every job runs again in a transaction of its own, so only the one at fault is refused. `work`
 * must therefore touch nothing but the database: it may run more than once before it is committed.
 */
export class SqliteGroupCommit {
  /** Batches committed and the jobs in them, since the connection opened. */
  readonly committed = { batches: 0, jobs: 0 };
  private queue: Job[] = [];
  private scheduled = false;

  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackToSavepoint: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT group_commit_job');
    this.release = db.prepare('RELEASE group_commit_job');
    this.rollbackToSavepoint = db.prepare('ROLLBACK TO group_commit_job');
  }

  /** Runs `work` (synchronous, statements only) in the next batch; settles once it is committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Settles once every job asked for so far is committed or rejected (e.g. before closing). */
  async drain(): Promise<void> {
    if (this.queue.length === 0) return;
    await this.run(() => undefined).catch(() => undefined);
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length > 0) this.schedule();
    if (batch.length > 0) this.runBatch(batch);
  }

  private runBatch(batch: Job[]): void {
    if (!this.db.open) {
      for (const job of batch) job.reject(new Error('the database is closed'));
      return;
    }
    const done: Array<{ job: Job; value: unknown }> = [];
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
    for (const d of done) d.job.resolve(d.value);
    for (const f of failed) f.job.reject(f.error);
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
