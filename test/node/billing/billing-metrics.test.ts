// Billing's Prometheus metrics as metering, the gate and reconciliation report them (real SQLite ledger).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import type { Principal } from '../../../backend-adapter/auth/principal.ts';
import { BillingMetrics } from '../../../backend-adapter/billing/billing-metrics.ts';
import { billingRig } from './billing-fixture.ts';

const MIN = 60_000;
const BASIC = 8_334;

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(metric, `${name} is registered`);
  const values = (
    metric.values as Array<{ value: number; labels: Record<string, unknown>; metricName?: string }>
  )
    .filter((v) => v.metricName === undefined || v.metricName === name || v.metricName === `${name}_count`)
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return values.reduce((a, v) => a + v.value, 0);
}

describe('billing metrics', () => {
  it('count charges by tier and tenant, replays, refusals, low-balance pauses, ledger writes and reconciliation differences', async () => {
    const rig = await billingRig();
    const registry = new Registry();
    const metrics = new BillingMetrics(registry);
    rig.metering.metrics = metrics;
    rig.gate.metrics = metrics;
    try {
      const alice: Principal = { userId: 'alice', tenantId: 'civic-commons', subscription: 'enterprise' };
      await rig.ledger.credit(alice, 4 * BASIC - 1, 'fund');
      const s = await rig.lifecycle.create(alice, 'basic');
      rig.advance(2 * MIN);
      await rig.metering.runCycle(); // two periods charged; the balance then covers less than the reserve
      assert.equal(
        await value(registry, 'v_supercore_billing_charges_total', {
          tier: 'basic',
          tenant: 'civic-commons',
        }),
        2,
      );
      assert.equal(await value(registry, 'v_supercore_billing_charged_micronexcoin_total'), 2 * BASIC);
      assert.equal(
        await value(registry, 'v_supercore_billing_ledger_write_seconds'),
        2,
        'two writes observed',
      );
      assert.equal(await value(registry, 'v_supercore_billing_low_balance_total', { action: 'paused' }), 1);
      assert.equal((await rig.lifecycle.get(alice, s.sessionId)).state, 'paused');
      await assert.rejects(rig.lifecycle.resume(alice, s.sessionId), (e: unknown) => e instanceof ApiError);
      assert.equal(
        await value(registry, 'v_supercore_billing_balance_refusals_total', { door: 'resume' }),
        1,
      );
      // A replica that lost the wallet's answer asks again with the same key: a replay, not a charge.
      const db = new Database(rig.backend.file ?? '');
      db.prepare("UPDATE billing_charges SET status = 'pending' WHERE session_id = ? AND period = 0").run(
        s.sessionId,
      );
      db.close();
      await rig.metering.runCycle();
      assert.equal(await value(registry, 'v_supercore_billing_idempotent_replays_total'), 1);
      assert.equal(
        await value(registry, 'v_supercore_billing_charges_total'),
        2,
        'the replay is not a new charge',
      );
      const report = await rig.reconciler.run();
      metrics.reconciled(report);
      assert.equal(await value(registry, 'v_supercore_billing_reconciliations_total'), 1);
      assert.equal(
        await value(registry, 'v_supercore_billing_reconciliation_differences', { kind: 'usage-vs-ledger' }),
        report.differences.filter((d) => d.kind === 'usage-vs-ledger').length,
      );
    } finally {
      await rig.cleanup();
    }
  });
});
