import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { PostgresCanonStore } from '../../../backend-adapter/canon/postgres-canon-store.ts';
import {
  canonPool,
  registerPoolMetrics,
} from '../../../backend-adapter/observability/postgres-pool-metrics.ts';
import { PostgresSqlDb, write } from '../../../backend-adapter/sql/sql-db.ts';
import { useTestDatabase } from '../canon/postgres-fixture.ts';

const url = useTestDatabase();

async function scrape(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('v_supercore_postgres_pool_connections')?.get();
  return Object.fromEntries(
    (metric?.values ?? []).map((v) => [`${String(v.labels.pool)}/${String(v.labels.state)}`, v.value]),
  );
}

/** `{pool: value}` of a counter by pool. */
async function sentBy(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric(name)?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.pool), v.value]));
}

describe('v_supercore_postgres_pool_connections (real PostgreSQL)', () => {
  it('shows a pool at its limit: open and idle connections, and the queries waiting for one', async () => {
    const canon = await PostgresCanonStore.open(url(), { maxConnections: 1 });
    const billing = await PostgresSqlDb.open(url(), { maxConnections: 2 });
    const registry = new Registry();
    registerPoolMetrics(registry, () => [
      ...canonPool(canon),
      { pool: 'billing', connections: billing.connections() },
    ]);
    try {
      assert.deepEqual(await scrape(registry), {
        'canon/total': 1,
        'canon/idle': 1,
        'canon/waiting': 0,
        'billing/total': 1,
        'billing/idle': 1,
        'billing/waiting': 0,
      });
      // Four reads at once on a pool of one: one runs, the others queue for its connection.
      const reads = Array.from({ length: 4 }, () => canon.getSession('no-such-session'));
      const busy = await scrape(registry);
      assert.equal(busy['canon/total'], 1, 'never more than its limit');
      // Four until the pool hands its connection to the first (on its next turn), three after.
      assert.ok((busy['canon/waiting'] ?? 0) >= 3, `waiting: ${busy['canon/waiting']}`);
      assert.deepEqual(await Promise.all(reads), [undefined, undefined, undefined, undefined]);
      const slow = [billing.query('SELECT pg_sleep(0.2)'), billing.query('SELECT pg_sleep(0.2)')];
      await new Promise((r) => setTimeout(r, 100));
      const both = await scrape(registry);
      assert.equal(both['billing/total'], 2, 'the pool opened a second connection');
      assert.equal(both['billing/idle'], 0);
      await Promise.all(slow);
      assert.equal((await scrape(registry))['canon/waiting'], 0);
    } finally {
      await canon.close();
      await billing.close();
    }
  });

  it('counts the statements each pool sends and the socket writes that carry them', async () => {
    const canon = await PostgresCanonStore.open(url());
    const billing = await PostgresSqlDb.open(url());
    const registry = new Registry();
    registerPoolMetrics(registry, () => [
      ...canonPool(canon),
      { pool: 'billing', connections: billing.connections() },
    ]);
    const totals = async () => ({
      statements: await sentBy(registry, 'v_supercore_postgres_statements_total'),
      writes: await sentBy(registry, 'v_supercore_postgres_socket_writes_total'),
    });
    try {
      const before = await totals();
      // BEGIN, two writes nobody reads and COMMIT leave together: four statements, one write.
      await billing.transaction(function* () {
        yield* write('SELECT 1');
        yield* write('SELECT 2');
      });
      await billing.query('SELECT 3');
      assert.equal(await canon.getSession('no-such-session'), undefined);
      const after = await totals();
      const grew = (what: 'statements' | 'writes', pool: string) =>
        (after[what][pool] ?? NaN) - (before[what][pool] ?? NaN);
      assert.equal(grew('statements', 'billing'), 5);
      assert.equal(grew('writes', 'billing'), 2);
      assert.equal(grew('statements', 'canon'), 1);
      assert.equal(grew('writes', 'canon'), 1);
      // A scrape reports the totals; it adds nothing to them.
      assert.deepEqual(await totals(), after);
    } finally {
      await canon.close();
      await billing.close();
    }
  });

  it('has no series where Canon Memory has no pool (SQLite)', async () => {
    const registry = new Registry();
    registerPoolMetrics(registry, () => canonPool({}));
    assert.deepEqual(await scrape(registry), {});
    assert.deepEqual(await sentBy(registry, 'v_supercore_postgres_statements_total'), {});
  });
});
