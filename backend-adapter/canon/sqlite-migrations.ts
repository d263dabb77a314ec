/** Versioned schema of the SQLite Canon Memory; applied in order at start, each in its own transaction. */
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
];
