import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { loadConfig, type AdapterConfig } from '../../backend-adapter/config.ts';
import { startAdapter, type RunningAdapter } from '../../backend-adapter/start-adapter.ts';
import { InertRuntime } from './inert-runtime.ts';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database.ts';

export type StoreKind = 'sqlite' | 'postgres';

export interface BenchAdapter {
  adapter: RunningAdapter;
  token(userId: string): Promise<string>;
  /**
   * On PostgreSQL, VACUUM ANALYZE of the bench database where the server runs without autovacuum (true when
   * it ran): what autovacuum would have done between two measurements. Without it a prepared statement keeps
   * the plan it got on the tables as they were at its sixth call, and each line would pay for the rows the
   * lines before it left. SQLite plans without statistics: nothing to do.
   */
  upkeep(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The real adapter (API, lifecycle, Canon Memory on SQLite or a fresh PostgreSQL database) with the inert
 * runtime and limits raised out of the way, logging nothing.
 */
export async function startBenchAdapter(
  store: StoreKind,
  tune: (c: AdapterConfig) => void = () => undefined,
): Promise<BenchAdapter> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vsc-bench-'));
  let database: ScratchDatabase | undefined;
  const env: NodeJS.ProcessEnv = {
    PORT: '0',
    DATA_DIR: dataDir,
    DEV_MODE: '1',
    LOG_LEVEL: 'silent',
    MAX_SESSIONS_PER_USER: '100000',
    MAX_USER_CPU_MILLICORES: '1000000000',
    MAX_USER_MEMORY_MIB: '1000000000',
    MAX_SESSIONS_PER_TENANT: '1000000',
    MAX_TENANT_CPU_MILLICORES: '1000000000',
    MAX_TENANT_MEMORY_MIB: '1000000000',
    RATE_LIMIT_PER_MINUTE: '1000000',
  };
  if (store === 'postgres') {
    database = await createScratchDatabase('vsc_bench');
    env.CANON_DATABASE_URL = database.url;
  }
  const config = loadConfig(env);
  config.policy.limits.cluster = {
    maxCpuMillicores: 1e12,
    maxMemoryMiB: 1e12,
    maxStorageGiB: 1e12,
    maxSessions: 1e9,
  };
  config.timeoutCheckIntervalMs = 3_600_000;
  tune(config);
  const silent = new Writable({ write: (_c, _e, done) => done() });
  const adapter = await startAdapter(config, { runtime: new InertRuntime(), logDestination: silent });
  return {
    adapter,
    async token(userId) {
      if (!adapter.issuer) throw new Error('no embedded issuer');
      return adapter.issuer.issue({ userId, tenantId: 'bench', subscription: 'enterprise' });
    },
    async upkeep() {
      if (!env.CANON_DATABASE_URL) return false;
      const client = new pg.Client({ connectionString: env.CANON_DATABASE_URL });
      await client.connect();
      try {
        const { rows } = await client.query<{ autovacuum: string }>('SHOW autovacuum');
        if (rows[0]?.autovacuum === 'on') return false;
        await client.query('VACUUM ANALYZE');
        return true;
      } finally {
        await client.end();
      }
    },
    async close() {
      await adapter.close();
      await rm(dataDir, { recursive: true, force: true });
      await database?.drop();
    },
  };
}
