// A throw-away PostgreSQL database for the tests of one file: created in `before`, dropped in `after`.
// PostgreSQL must be reachable (CI starts it); if it is not, the hook fails with a clear message.
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';

export const POSTGRES_ADMIN_URL =
  process.env.CANON_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export function randomName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL} (${error instanceof Error ? error.message : String(error)}). ` +
        'Start it (CI does) or point CANON_TEST_DATABASE_URL at a server where this user may CREATE DATABASE.',
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates `vsc_test_<random>` and returns its URL; `drop()` removes it, closing leftover connections. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = randomName('vsc_test');
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/**
 * A database for the tests of the calling suite (or file): created in its `before`, dropped in its `after`.
 * Returns its URL for use inside the tests, or throws if the `before` hook failed.
 */
export function useTestDatabase(): () => string {
  let db: TestDatabase | undefined;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });
  return () => {
    if (!db) throw new Error('the test database was not created (see the before hook)');
    return db.url;
  };
}

/** Raw SQL on `url` with `schema` first on the search_path, through a connection of its own. */
export function rawPostgres(
  url: string,
  schema: string,
): (statement: string) => Promise<Array<Record<string, unknown>>> {
  return async (statement) => {
    const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      return (await client.query<Record<string, unknown>>(statement)).rows;
    } finally {
      await client.end();
    }
  };
}
