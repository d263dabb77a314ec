import type { StoreKind } from './bench-adapter.ts';

/** The statements the adapter's PostgreSQL pools sent. */
export const POSTGRES_STATEMENTS = 'v_supercore_postgres_statements_total';

/**
 * The SQL a request costs, from the adapter's own counters on /metrics: on SQLite the write transactions,
 * the group commits they shared and the WAL flushes; on PostgreSQL the statements sent and the socket
 * writes that carried them, summed over its pools. Unlike latency and CPU time these hardly move with what
 * else the shared machine is doing (batched work, final metering above all, shares statements a little
 * differently as timing changes: ±0.4 statements per request between runs of the same code), so they show
 * whether a change altered the work itself. The window also holds the adapter's own background work (the
 * metrics sampler, reconciliation): a small share at load.
 */
const COUNTED: Record<StoreKind, ReadonlyArray<readonly [metric: string, label: string]>> = {
  sqlite: [
    ['v_supercore_canon_writes_total', 'writes'],
    ['v_supercore_canon_write_batches_total', 'commits'],
    ['v_supercore_canon_wal_flushes_total', 'flushes'],
  ],
  postgres: [
    [POSTGRES_STATEMENTS, 'statements'],
    ['v_supercore_postgres_socket_writes_total', 'socket writes'],
  ],
};

export type SqlTotals = ReadonlyMap<string, number>;

/** The counters' totals now (every label set summed), read from `${url}/metrics`. */
export async function sqlTotals(url: string, store: StoreKind): Promise<SqlTotals> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  const wanted = new Set(COUNTED[store].map(([metric]) => metric));
  const totals = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const match = /^([a-z_]+)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || !wanted.has(match[1] ?? '')) continue;
    const name = match[1] as string;
    totals.set(name, (totals.get(name) ?? 0) + Number(match[2]));
  }
  return totals;
}

/** e.g. "SQL/req 2.51 writes 0.32 commits 0.32 flushes": what each request cost between two readings. */
export function sqlPerRequest(
  store: StoreKind,
  before: SqlTotals,
  after: SqlTotals,
  requests: number,
): string {
  if (requests === 0) return 'SQL/req n/a';
  const parts = COUNTED[store].map(([metric, label]) => {
    const grew = (after.get(metric) ?? NaN) - (before.get(metric) ?? NaN);
    return `${(grew / requests).toFixed(2)} ${label}`;
  });
  return `SQL/req ${parts.join(' ')}`;
}
