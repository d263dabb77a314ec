import { Counter, Gauge, type Registry } from 'prom-client';
import type { PoolConnections } from '../sql/pool-connections.ts';

export interface NamedPool {
  pool: string;
  connections: PoolConnections;
}

/**
 * `v_supercore_postgres_pool_connections{pool, state}`: each PostgreSQL pool of this process (Canon Memory,
 * the embedded ledger, billing's records) read at scrape time, `total` open, `idle` among them and `waiting`
 * queries (a pool at its limit: requests queue for a connection before any SQL runs). With them, the
 * statements each pool has sent and the socket writes that carried them (pool-traffic.ts). No series on SQLite.
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
  const sent = (name: string, help: string, value: (c: PoolConnections) => number | undefined) =>
    new Counter({
      name,
      help,
      labelNames: ['pool'],
      registers: [registry],
      collect() {
        // The pool's clients count; the counter only reports the figure.
        this.reset();
        for (const { pool, connections } of pools()) {
          const n = value(connections);
          if (n !== undefined) this.inc({ pool }, n);
        }
      },
    });
  sent(
    'v_supercore_postgres_statements_total',
    'Statements this replica sent to PostgreSQL, by pool (canon, wallet, billing).',
    (c) => c.statements,
  );
  sent(
    'v_supercore_postgres_socket_writes_total',
    'Socket writes that carried them, by pool: a pipelined transaction sends several statements in one.',
    (c) => c.writes,
  );
}

/** Canon Memory's pool, where it has one. */
export function canonPool(canon: { connections?(): PoolConnections }): NamedPool[] {
  return canon.connections ? [{ pool: 'canon', connections: canon.connections() }] : [];
}
