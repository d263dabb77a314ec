import type { PoolClient } from 'pg';

/**
 * Versioned schema of the PostgreSQL Canon Memory, the same semantics as the SQLite one (sqlite-migrations.ts)
 * in PostgreSQL's types: timestamps are timestamptz, JSON is jsonb, money is BIGINT micro-NexCoin. Statements
 * are unqualified: they land in the store's schema through the connection's search_path. A released
 * migration is never edited: a change is a new version.
 */
export const POSTGRES_MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE canon_records (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        record_id UUID NOT NULL UNIQUE,
        entity TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        action TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT,
        actor TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        payload JSONB NOT NULL,
        canon_timestamp TIMESTAMPTZ NOT NULL,
        handshake TEXT NOT NULL CHECK (handshake = '55-45-17')
      );
      CREATE INDEX canon_records_entity ON canon_records (entity_id, seq);

      -- Append-only, enforced by the database itself (not only by this code).
      CREATE FUNCTION canon_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'canon records are append-only' USING ERRCODE = 'integrity_constraint_violation';
        END
      $$;
      CREATE TRIGGER canon_records_no_update_delete BEFORE UPDATE OR DELETE ON canon_records
        FOR EACH ROW EXECUTE FUNCTION canon_records_append_only();
      CREATE TRIGGER canon_records_no_truncate BEFORE TRUNCATE ON canon_records
        FOR EACH STATEMENT EXECUTE FUNCTION canon_records_append_only();

      CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        resources JSONB NOT NULL,
        state TEXT NOT NULL,
        failure_reason TEXT,
        runtime JSONB,
        created_at TIMESTAMPTZ NOT NULL,
        canon_timestamp TIMESTAMPTZ NOT NULL,
        handshake TEXT NOT NULL CHECK (handshake = '55-45-17')
      );
      CREATE INDEX sessions_owner ON sessions (tenant_id, user_id, created_at);
      CREATE INDEX sessions_state ON sessions (state);

      CREATE TABLE usage (
        session_id TEXT PRIMARY KEY REFERENCES sessions (session_id),
        user_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        start_time TIMESTAMPTZ NOT NULL,
        end_time TIMESTAMPTZ NOT NULL,
        resource_consumption JSONB NOT NULL,
        cost BIGINT NOT NULL CHECK (cost >= 0),
        canon_record BOOLEAN NOT NULL DEFAULT TRUE CHECK (canon_record)
      );
    `,
  },
  {
    // As SQLite's version 2: idle clock, preferences, allocation history (a current-state table whose rows
    // open at genesis and close at terminated/failed, with numeric columns the genesis quota check sums).
    version: 2,
    sql: `
      ALTER TABLE sessions ADD COLUMN last_activity_at TIMESTAMPTZ;
      UPDATE sessions SET last_activity_at = canon_timestamp;
      ALTER TABLE sessions ALTER COLUMN last_activity_at SET NOT NULL;

      ALTER TABLE canon_records ADD CONSTRAINT canon_records_entity
        CHECK (entity IN ('session', 'usage', 'preferences'));

      CREATE TABLE preferences (
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        preferences JSONB NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (tenant_id, user_id)
      );

      CREATE TABLE allocations (
        allocation_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (session_id),
        user_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        tier TEXT NOT NULL,
        resources JSONB NOT NULL,
        cpu_millicores INTEGER NOT NULL CHECK (cpu_millicores >= 0),
        memory_mib INTEGER NOT NULL CHECK (memory_mib >= 0),
        storage_gib INTEGER NOT NULL CHECK (storage_gib >= 0),
        gpus INTEGER NOT NULL CHECK (gpus >= 0),
        allocated_at TIMESTAMPTZ NOT NULL,
        released_at TIMESTAMPTZ
      );
      CREATE INDEX allocations_owner ON allocations (tenant_id, user_id, allocated_at);
      CREATE INDEX allocations_live ON allocations (tenant_id, user_id) WHERE released_at IS NULL;
      CREATE UNIQUE INDEX allocations_one_open ON allocations (session_id) WHERE released_at IS NULL;

      INSERT INTO allocations (session_id, user_id, tenant_id, tier, resources, cpu_millicores, memory_mib,
                               storage_gib, gpus, allocated_at, released_at)
      SELECT s.session_id, s.user_id, s.tenant_id, s.tier, s.resources,
             (s.resources ->> 'cpuMillicores')::int, (s.resources ->> 'memoryMiB')::int,
             (s.resources ->> 'storageGiB')::int, (s.resources ->> 'gpus')::int, s.created_at,
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
    // As SQLite's version 3: pseudonymous subjects (subjects.ts). Canon records are rewritten to carry subject
    // references instead of user ids, with the append-only trigger disabled only inside this migration's
    // transaction (ALTER TABLE takes an exclusive lock, so no other session sees it disabled).
    version: 3,
    sql: `
      CREATE TABLE subjects (
        subject_ref TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        user_id TEXT,
        erased_at TIMESTAMPTZ,
        UNIQUE (tenant_id, user_id)
      );

      INSERT INTO subjects (subject_ref, tenant_id, user_id)
      SELECT 'subj_' || replace(gen_random_uuid()::text, '-', ''), tenant_id, user_id FROM (
        SELECT tenant_id, actor AS user_id FROM canon_records WHERE actor NOT LIKE 'system:%'
        UNION
        SELECT tenant_id, payload ->> 'userId' FROM canon_records WHERE jsonb_typeof(payload -> 'userId') = 'string'
        UNION
        SELECT tenant_id, substr(entity_id, length('preferences:' || tenant_id || ':') + 1) FROM canon_records
         WHERE entity = 'preferences' AND starts_with(entity_id, 'preferences:' || tenant_id || ':')
      ) AS people;

      ALTER TABLE canon_records DISABLE TRIGGER canon_records_no_update_delete;
      UPDATE canon_records r SET actor = s.subject_ref FROM subjects s
       WHERE s.tenant_id = r.tenant_id AND s.user_id = r.actor AND r.actor NOT LIKE 'system:%';
      UPDATE canon_records r SET payload = jsonb_set(r.payload, '{userId}', to_jsonb(s.subject_ref)) FROM subjects s
       WHERE jsonb_typeof(r.payload -> 'userId') = 'string' AND s.tenant_id = r.tenant_id
         AND s.user_id = r.payload ->> 'userId';
      UPDATE canon_records r SET entity_id = 'preferences:' || r.tenant_id || ':' || s.subject_ref FROM subjects s
       WHERE r.entity = 'preferences' AND starts_with(r.entity_id, 'preferences:' || r.tenant_id || ':')
         AND s.tenant_id = r.tenant_id
         AND s.user_id = substr(r.entity_id, length('preferences:' || r.tenant_id || ':') + 1);
      ALTER TABLE canon_records ENABLE TRIGGER canon_records_no_update_delete;

      ALTER TABLE canon_records DROP CONSTRAINT canon_records_entity;
      ALTER TABLE canon_records ADD CONSTRAINT canon_records_entity
        CHECK (entity IN ('session', 'usage', 'preferences', 'privacy'));
    `,
  },
  {
    // As SQLite's version 4: collaborative workspaces, and `workspace` records in the Canon log.
    version: 4,
    sql: `
      CREATE TABLE workspaces (
        workspace_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
        controller_id TEXT,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
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
        invited_at TIMESTAMPTZ NOT NULL,
        joined_at TIMESTAMPTZ,
        PRIMARY KEY (workspace_id, user_id)
      );
      CREATE INDEX workspace_members_user ON workspace_members (tenant_id, user_id);

      ALTER TABLE canon_records DROP CONSTRAINT canon_records_entity;
      ALTER TABLE canon_records ADD CONSTRAINT canon_records_entity
        CHECK (entity IN ('session', 'usage', 'preferences', 'privacy', 'workspace'));
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
    // cluster's sums with their limits under the Genesis lock, and summing every open allocation there made
    // a launch cost (and the lock's hold) grow with the number of live sessions. A trigger keeps the sums, so
    // no path that opens, releases or rewrites an allocation can forget them. A release updates its tenant's
    // row: concurrent releases of one tenant queue on that row for the length of their transactions.
    version: 6,
    sql: `
      CREATE TABLE live_tenant_usage (
        tenant_id TEXT PRIMARY KEY,
        sessions BIGINT NOT NULL,
        cpu_millicores BIGINT NOT NULL,
        memory_mib BIGINT NOT NULL,
        storage_gib BIGINT NOT NULL
      );
      INSERT INTO live_tenant_usage (tenant_id, sessions, cpu_millicores, memory_mib, storage_gib)
      SELECT tenant_id, count(*), sum(cpu_millicores), sum(memory_mib), sum(storage_gib)
        FROM allocations WHERE released_at IS NULL GROUP BY tenant_id;

      CREATE FUNCTION allocations_live_usage() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'INSERT' AND OLD.released_at IS NULL THEN
          UPDATE live_tenant_usage SET sessions = sessions - 1, cpu_millicores = cpu_millicores - OLD.cpu_millicores,
            memory_mib = memory_mib - OLD.memory_mib, storage_gib = storage_gib - OLD.storage_gib
          WHERE tenant_id = OLD.tenant_id;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.released_at IS NULL THEN
          INSERT INTO live_tenant_usage (tenant_id, sessions, cpu_millicores, memory_mib, storage_gib)
          VALUES (NEW.tenant_id, 1, NEW.cpu_millicores, NEW.memory_mib, NEW.storage_gib)
          ON CONFLICT (tenant_id) DO UPDATE SET sessions = live_tenant_usage.sessions + 1,
            cpu_millicores = live_tenant_usage.cpu_millicores + excluded.cpu_millicores,
            memory_mib = live_tenant_usage.memory_mib + excluded.memory_mib,
            storage_gib = live_tenant_usage.storage_gib + excluded.storage_gib;
        END IF;
        RETURN NULL;
      END
      $$;
      CREATE TRIGGER allocations_live_usage AFTER INSERT OR UPDATE OR DELETE ON allocations
        FOR EACH ROW EXECUTE FUNCTION allocations_live_usage();
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

/** Session-level advisory lock key (per schema) held while migrating. */
const MIGRATION_LOCK = "hashtext('v-supercore:canon:migrate:' || $1)";

/**
 * Creates the schema if needed and applies the pending `migrations`, each in its own transaction with its
 * schema_migrations row. Holds a session-level advisory lock on the schema meanwhile, so when two replicas
 * start at once one migrates and the other waits, then finds nothing left to do. The client's search_path
 * must already point at `schema`. Refuses a database written by newer code.
 */
export async function applyPostgresMigrations(
  client: PoolClient,
  schema: string,
  migrations: ReadonlyArray<{ version: number; sql: string }> = POSTGRES_MIGRATIONS,
): Promise<void> {
  await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`, [schema]);
  try {
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const applied = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    const known = Math.max(0, ...POSTGRES_MIGRATIONS.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      throw new Error(`the Canon database is at schema version ${newest}, newer than this code (${known})`);
    }
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`, [schema]);
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names are restricted to plain lower-case identifiers, so they can be quoted without surprises. */
export function quoteIdent(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new Error(`"${name}" is not a plain identifier (lower-case letters, digits, underscore)`);
  }
  return `"${name}"`;
}
