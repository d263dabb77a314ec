import type pg from 'pg';
import type { PreparingClientConfig } from './postgres-prepared-client.ts';

/**
 * A PostgreSQL pool's connections now: open, idle among them, and queries waiting for one; and what its
 * connections have sent since it opened (pool-traffic.ts), where the pool counts it.
 */
export interface PoolConnections {
  total: number;
  idle: number;
  waiting: number;
  statements?: number;
  writes?: number;
}

export function poolConnections(pool: pg.Pool): PoolConnections {
  const now = { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  // The pool hands its options to every client it makes: the clients count into this object.
  const traffic = (pool.options as PreparingClientConfig).traffic;
  return traffic ? { ...now, statements: traffic.statements, writes: traffic.writes } : now;
}
