import type Database from 'better-sqlite3';

/**
 * Versioned schema of the SQLite Canon Memory, applied in order at start (see applySqliteMigrations).
 * A released migration is never edited: a change is a new version.
 */
export const SQLITE_MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE canon_records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id TEXT NOT NULL UNIQUE,
        entity TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        action TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT,
        actor TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        canon_timestamp TEXT NOT NULL,
        handshake TEXT NOT NULL CHECK (handshake = '55-45-17')
      );
      CREATE INDEX canon_records_entity ON canon_records (entity_id, seq);
      CREATE TRIGGER canon_records_no_update BEFORE UPDATE ON canon_records
        BEGIN SELECT RAISE(ABORT, 'canon records are append-only'); END;
      CREATE TRIGGER canon_records_no_delete BEFORE DELETE ON canon_records
        BEGIN SELECT RAISE(ABORT, 'canon records are append-only'); END;

      CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        resources TEXT NOT NULL,
        state TEXT NOT NULL,
        failure_reason TEXT,
        runtime TEXT,
        created_at TEXT NOT NULL,
        canon_timestamp TEXT NOT NULL,
        handshake TEXT NOT NULL CHECK (handshake = '55-45-17')
      );
      CREATE INDEX sessions_owner ON sessions (tenant_id, user_id, created_at);
      CREATE INDEX sessions_state ON sessions (state);

      CREATE TABLE usage (
        session_id TEXT PRIMARY KEY REFERENCES sessions (session_id),
        user_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        start_time TEXT NOT NULL,
        end_time TEXT NOT NULL,
        resource_consumption TEXT NOT NULL,
        cost INTEGER NOT NULL CHECK (cost >= 0),
        canon_record INTEGER NOT NULL DEFAULT 1 CHECK (canon_record = 1)
      );
    `,
  },
  {
    // Idle timeout, user preferences and the resource allocation history. Allocations are a current-state
    // table (like sessions) written in the same transaction as the Canon record that causes them: a row
    // opens at genesis and closes when the session reaches terminated/failed. Numeric columns let the
    // quota check at genesis sum live resources with an index instead of parsing every session's JSON.
    version: 2,
    sql: `
      ALTER TABLE sessions ADD COLUMN last_activity_at TEXT NOT NULL DEFAULT '';
      UPDATE sessions SET last_activity_at = canon_timestamp;

      CREATE TABLE preferences (
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        preferences TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant_id, user_id)
      );

      CREATE TABLE allocations (
        allocation_id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions (session_id),
        user_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        resources TEXT NOT NULL,
        cpu_millicores INTEGER NOT NULL CHECK (cpu_millicores >= 0),
        memory_mib INTEGER NOT NULL CHECK (memory_mib >= 0),
        storage_gib INTEGER NOT NULL CHECK (storage_gib >= 0),
        gpus INTEGER NOT NULL CHECK (gpus >= 0),
        allocated_at TEXT NOT NULL,
        released_at TEXT
      );
      CREATE INDEX allocations_owner ON allocations (tenant_id, user_id, allocated_at);
      CREATE INDEX allocations_live ON allocations (tenant_id, user_id) WHERE released_at IS NULL;
      CREATE UNIQUE INDEX allocations_one_open ON allocations (session_id) WHERE released_at IS NULL;

      -- Every session written under version 1 had one allocation: from its genesis to its first
      -- terminated/failed record (if any).
      INSERT INTO allocations (session_id, user_id, tenant_id, tier, resources, cpu_millicores, memory_mib,
                               storage_gib, gpus, allocated_at, released_at)
      SELECT s.session_id, s.user_id, s.tenant_id, s.tier, s.resources,
             json_extract(s.resources, '$.cpuMillicores'), json_extract(s.resources, '$.memoryMiB'),
             json_extract(s.resources, '$.storageGiB'), json_extract(s.resources, '$.gpus'), s.created_at,
             CASE WHEN s.state IN ('terminated', 'failed') THEN coalesce(
               (SELECT r.canon_timestamp FROM canon_records r
                 WHERE r.entity = 'session' AND r.entity_id = s.session_id
                   AND r.to_state IN ('terminated', 'failed')
                 ORDER BY r.seq LIMIT 1),
               s.canon_timestamp) END
        FROM sessions s;
    `,
  },
];

/**
 * Brings `db` up to the newest of `migrations`: every pending version and its schema_migrations row in one
 * IMMEDIATE transaction, so two processes opening the same file never both migrate and a crash leaves the
 * previous version intact. Refuses a database written by newer code (a version this code does not know).
 */
export function applySqliteMigrations(
  db: Database.Database,
  migrations: ReadonlyArray<{ version: number; sql: string }> = SQLITE_MIGRATIONS,
): void {
  db.transaction(() => {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)',
    );
    const applied = new Set(
      db
        .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
        .all()
        .map((r) => r.version),
    );
    const known = Math.max(0, ...SQLITE_MIGRATIONS.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      throw new Error(`the Canon database is at schema version ${newest}, newer than this code (${known})`);
    }
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(
        m.version,
        new Date().toISOString(),
      );
    }
  }).immediate();
}
