import { Gauge, type Registry } from 'prom-client';
import type { PoolConnections } from '../sql/pool-connections.ts';

export interface NamedPool {
  pool: string;
  connections: PoolConnections;
}

/**
 * `v_supercore_postgres_pool_connections{pool, state}`: each PostgreSQL pool of this process (Canon Memory,
 * the embedded ledger, billing's records) read at scrape time, `total` open, `idle` among them and `waiting`
 * queries (a pool at its limit: requests queue for a connection before any SQL runs). No series on SQLite.
 */
export function registerPoolMetrics(registry: Registry, pools: () => NamedPool[]): void {
  new Gauge({
    name: 'v_supercore_postgres_pool_connections',
    help: 'PostgreSQL pool connections of this replica by pool (canon, wallet, billing) and state (total, idle, waiting).',
    labelNames: ['pool', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { pool, connections } of pools()) {
        this.set({ pool, state: 'total' }, connections.total);
        this.set({ pool, state: 'idle' }, connections.idle);
        this.set({ pool, state: 'waiting' }, connections.waiting);
      }
    },
  });
}

/** Canon Memory's pool, where it has one. */
export function canonPool(canon: { connections?(): PoolConnections }): NamedPool[] {
  return canon.connections ? [{ pool: 'canon', connections: canon.connections() }] : [];
}
