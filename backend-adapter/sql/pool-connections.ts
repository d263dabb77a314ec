import type pg from 'pg';

/** A PostgreSQL pool's connections now: open, idle among them, and queries waiting for one. */
export interface PoolConnections {
  total: number;
  idle: number;
  waiting: number;
}

export function poolConnections(pool: pg.Pool): PoolConnections {
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}
