import { Counter, Gauge, type Registry } from 'prom-client';
import type { CanonStorageHealth } from '../canon/canon-store.ts';

/**
 * The embedded SQLite file's write path, read at scrape time: the two ways it degrades (a lost flush, which
 * stops writes; checkpoints back on the writer, which slows them) would otherwise show only in /readyz and a
 * process warning, and the WAL's length tells whether checkpoints keep up.
 */
export function registerCanonStorageMetrics(registry: Registry, health: () => CanonStorageHealth): void {
  const registers = [registry];
  const gauge = (name: string, help: string, value: (h: CanonStorageHealth) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(health()));
      },
    });
  const counter = (name: string, help: string, value: (h: CanonStorageHealth) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        // The store counts; the counter only reports its figure.
        this.reset();
        this.inc(value(health()));
      },
    });
  gauge(
    'v_supercore_canon_durability_lost',
    '1 once a write to the SQLite file could not be flushed: writes are refused and /readyz answers 503 until the adapter restarts.',
    (h) => (h.durabilityLost ? 1 : 0),
  );
  gauge(
    'v_supercore_canon_checkpoint_fallback',
    '1 once the checkpoint worker failed and SQLite checkpoints on the writer again (slower COMMITs).',
    (h) => (h.checkpointFallback ? 1 : 0),
  );
  gauge(
    'v_supercore_canon_wal_frames',
    'Frames in the SQLite write-ahead log at the last checkpoint (it starts again from 0 after a complete one).',
    (h) => h.walFrames,
  );
  counter(
    'v_supercore_canon_checkpoints_total',
    'Checkpoint cycles the worker thread completed.',
    (h) => h.checkpoints,
  );
  counter(
    'v_supercore_canon_write_batches_total',
    'Group commits: write transactions of one event-loop turn committed together.',
    (h) => h.writeBatches,
  );
  counter(
    'v_supercore_canon_writes_total',
    'Write transactions committed (each in its own savepoint of a group commit).',
    (h) => h.writes,
  );
  counter(
    'v_supercore_canon_wal_flushes_total',
    'Flushes of the write-ahead log that made group commits durable.',
    (h) => h.flushes,
  );
}
