import type Database from 'better-sqlite3';

/** Migration 6's trigger steps (part of its text: never edited once released, like the migration). */
const ADD_NEW_TO_LIVE_SUMS = `
  INSERT INTO live_tenant_usage (tenant_id, sessions, cpu_millicores, memory_mib, storage_gib)
  VALUES (NEW.tenant_id, 1, NEW.cpu_millicores, NEW.memory_mib, NEW.storage_gib)
  ON CONFLICT (tenant_id) DO UPDATE SET sessions = sessions + 1,
    cpu_millicores = cpu_millicores + excluded.cpu_millicores,
    memory_mib = memory_mib + excluded.memory_mib, storage_gib = storage_gib + excluded.storage_gib;`;
const TAKE_OLD_FROM_LIVE_SUMS = `
  UPDATE live_tenant_usage SET sessions = sessions - 1, cpu_millicores = cpu_millicores - OLD.cpu_millicores,
    memory_mib = memory_mib - OLD.memory_mib, storage_gib = storage_gib - OLD.storage_gib
  WHERE tenant_id = OLD.tenant_id;`;

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
  {
    // Pseudonymous subjects (see subjects.ts): Canon records stop naming users. Every user id found in the
    // records gets a random subject reference, and the existing records are rewritten to carry it. This is
    // the one place the append-only trigger is lifted: inside the migration's own transaction, recreated
    // before it commits, so no other writer ever sees a mutable log.
    version: 3,
    sql: `
      CREATE TABLE subjects (
        subject_ref TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        user_id TEXT,
        erased_at TEXT,
        UNIQUE (tenant_id, user_id)
      );

      INSERT INTO subjects (subject_ref, tenant_id, user_id)
      SELECT 'subj_' || lower(hex(randomblob(16))), tenant_id, user_id FROM (
        SELECT tenant_id, actor AS user_id FROM canon_records WHERE substr(actor, 1, 7) <> 'system:'
        UNION
        SELECT tenant_id, json_extract(payload, '$.userId') FROM canon_records
         WHERE json_type(payload, '$.userId') = 'text'
        UNION
        SELECT tenant_id, substr(entity_id, length('preferences:' || tenant_id || ':') + 1) FROM canon_records
         WHERE entity = 'preferences' AND substr(entity_id, 1, length('preferences:' || tenant_id || ':'))
               = 'preferences:' || tenant_id || ':'
      );

      DROP TRIGGER canon_records_no_update;
      UPDATE canon_records SET actor = (
        SELECT s.subject_ref FROM subjects s WHERE s.tenant_id = canon_records.tenant_id AND s.user_id = canon_records.actor
      ) WHERE substr(actor, 1, 7) <> 'system:';
      UPDATE canon_records SET payload = json_set(payload, '$.userId', (
        SELECT s.subject_ref FROM subjects s
         WHERE s.tenant_id = canon_records.tenant_id AND s.user_id = json_extract(canon_records.payload, '$.userId')
      )) WHERE json_type(payload, '$.userId') = 'text';
      UPDATE canon_records SET entity_id = 'preferences:' || tenant_id || ':' || (
        SELECT s.subject_ref FROM subjects s
         WHERE s.tenant_id = canon_records.tenant_id
           AND s.user_id = substr(canon_records.entity_id, length('preferences:' || canon_records.tenant_id || ':') + 1)
      ) WHERE entity = 'preferences' AND substr(entity_id, 1, length('preferences:' || tenant_id || ':'))
              = 'preferences:' || tenant_id || ':';
      CREATE TRIGGER canon_records_no_update BEFORE UPDATE ON canon_records
        BEGIN SELECT RAISE(ABORT, 'canon records are append-only'); END;
    `,
  },
  {
    // Collaborative workspaces (IMCU composition): current-state tables beside their `workspace` records.
    // Members hold both joined people and pending invitations; `position` keeps the order they came in.
    version: 4,
    sql: `
      CREATE TABLE workspaces (
        workspace_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
        controller_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        handshake TEXT NOT NULL CHECK (handshake = '55-45-17')
      );
      CREATE INDEX workspaces_owner ON workspaces (tenant_id, owner_id);

      CREATE TABLE workspace_sessions (
        workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
        session_id TEXT NOT NULL REFERENCES sessions (session_id),
        position INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, session_id)
      );
      CREATE INDEX workspace_sessions_session ON workspace_sessions (session_id);

      CREATE TABLE workspace_members (
        workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'participant', 'observer')),
        status TEXT NOT NULL CHECK (status IN ('invited', 'joined')),
        position INTEGER NOT NULL,
        invited_at TEXT NOT NULL,
        joined_at TEXT,
        PRIMARY KEY (workspace_id, user_id)
      );
      CREATE INDEX workspace_members_user ON workspace_members (tenant_id, user_id);
    `,
  },
  {
    // Live sessions without reading finished ones: the sampler, /metrics, the timeout check, metering and the
    // AI monitors list every live session every few seconds, and Genesis lists the user's live sessions.
    version: 5,
    sql: `
      CREATE INDEX sessions_unfinished ON sessions (created_at) WHERE state NOT IN ('terminated', 'failed');
      CREATE INDEX sessions_owner_unfinished ON sessions (tenant_id, user_id, created_at)
        WHERE state NOT IN ('terminated', 'failed');
    `,
  },
  {
    // Each tenant's open allocations, summed as they open and close: Genesis compares the tenant's and the
    // cluster's sums with their limits, and summing every open allocation made a launch cost grow with the
    // number of live sessions (18 ms at 10,000). Triggers keep the sums, so no path that opens, releases or
    // rewrites an allocation can forget them.
    version: 6,
    sql: `
      CREATE TABLE live_tenant_usage (
        tenant_id TEXT PRIMARY KEY,
        sessions INTEGER NOT NULL,
        cpu_millicores INTEGER NOT NULL,
        memory_mib INTEGER NOT NULL,
        storage_gib INTEGER NOT NULL
      );
      INSERT INTO live_tenant_usage (tenant_id, sessions, cpu_millicores, memory_mib, storage_gib)
      SELECT tenant_id, count(*), sum(cpu_millicores), sum(memory_mib), sum(storage_gib)
        FROM allocations WHERE released_at IS NULL GROUP BY tenant_id;

      CREATE TRIGGER allocations_open AFTER INSERT ON allocations WHEN NEW.released_at IS NULL
      BEGIN ${ADD_NEW_TO_LIVE_SUMS} END;
      -- An update takes the old row out of the sums and puts the new one in (a release only does the first).
      CREATE TRIGGER allocations_update_out AFTER UPDATE ON allocations WHEN OLD.released_at IS NULL
      BEGIN ${TAKE_OLD_FROM_LIVE_SUMS} END;
      CREATE TRIGGER allocations_update_in AFTER UPDATE ON allocations WHEN NEW.released_at IS NULL
      BEGIN ${ADD_NEW_TO_LIVE_SUMS} END;
      CREATE TRIGGER allocations_delete AFTER DELETE ON allocations WHEN OLD.released_at IS NULL
      BEGIN ${TAKE_OLD_FROM_LIVE_SUMS} END;
    `,
  },
  {
    // The index on state alone: every transition rewrote an entry in it, and the one query that used it
    // (/metrics' live totals) scanned it over every session ever made; the partial index of unfinished
    // sessions (migration 5) serves that query from the live sessions alone.
    version: 7,
    sql: `
      DROP INDEX IF EXISTS sessions_state;
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
