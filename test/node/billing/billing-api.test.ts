// Billing through the real adapter (test/support/adapter-fixture.ts): the billing check at Genesis, tiers and
// the handshake report from governance, and one real desktop metered in one-second periods from launch to
// usage record and invoice. A second adapter bills through the HTTP wallet adapter and the test NexCoin service.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InvoiceResponse, UsageResponse } from '../../../protocol/billing.ts';
import type { Session, Tier } from '../../../protocol/session.ts';
import type { HandshakeReport } from '../../../protocol/api.ts';
import { LedgerWallet } from '../../../backend-adapter/wallet/ledger-wallet.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';
import { startNexCoinTestServer, type NexCoinTestServer } from '../wallet/nexcoin-test-server.ts';

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };
const error = (body: unknown) => (body as ErrorBody).error;
const month = (d = new Date()) => d.toISOString().slice(0, 7);

async function token(t: TestAdapter, userId: string, tenantId: string, admin = false): Promise<string> {
  const res = await t.api('/api/v1/dev/login', {
    method: 'POST',
    body: { userId, tenantId, ...(admin ? { roles: ['admin'] } : {}) },
  });
  assert.equal(res.status, 200);
  return (res.body as { token: string }).token;
}

function nothingProvisioned(t: TestAdapter): void {
  const dir = join(t.dataDir, 'sessions');
  assert.ok(!existsSync(dir) || readdirSync(dir).length === 0, 'no session directory was created');
}

describe('billing API (real adapter, embedded ledger, phase 3.0, one-second periods)', () => {
  let t: TestAdapter;
  let alice: string; // puabo: founding, −20 %
  let bob: string; // civic-commons: no discount
  let puaboAdmin: string;
  let startedAt: number;

  before(async () => {
    startedAt = Date.now();
    t = await startTestAdapter({
      WALLET_OPENING_BALANCE_MICRO: '0',
      BILLING_PERIOD_SECONDS: '1',
      BILLING_CYCLE_INTERVAL_MS: '200',
      BILLING_SETTLE_DELAY_MS: '0',
      DEPLOYMENT_PHASE: '3.0',
    });
    alice = await token(t, 'alice', 'puabo');
    bob = await token(t, 'bob', 'civic-commons');
    puaboAdmin = await token(t, 'root', 'puabo', true);
  });
  after(() => t.close());

  it('reconciles one metering cycle after start, not a whole interval (a day) later', async () => {
    // RECONCILIATION_INTERVAL_MS is left at its default of 24 h: a replica restarted daily never reached it.
    const deadline = Date.now() + 10_000;
    while (!t.adapter.billing.lastReconciliation && Date.now() < deadline) await sleep(50);
    const report = t.adapter.billing.lastReconciliation;
    assert.ok(report, 'no reconciliation ran within 10 s of start');
    assert.ok(Date.parse(report.to) - startedAt < 10_000, `it ran at ${report.to}`);
    assert.equal(Date.parse(report.to) - Date.parse(report.from), 2 * 24 * 3_600_000);
    assert.deepEqual(report.differences, []);
  });

  it('refuses Genesis with 402 BALANCE_TOO_LOW and provisions nothing', async () => {
    const res = await t.api('/api/v1/sessions', { method: 'POST', token: bob, body: { tier: 'basic' } });
    assert.equal(res.status, 402);
    assert.equal(error(res.body).code, 'BALANCE_TOO_LOW');
    assert.deepEqual(error(res.body).details, {
      balanceMicroNexCoin: 0,
      outstandingMicroNexCoin: 0,
      requiredMicroNexCoin: 2 * 139, // two one-second periods of Basic: ceil(500,000 / 3,600)
      periodSeconds: 1,
    });
    const list = await t.api('/api/v1/sessions', { token: bob });
    assert.deepEqual((list.body as { sessions: Session[] }).sessions, []);
    assert.deepEqual(await t.adapter.canon.listUnfinished(), []);
    nothingProvisioned(t);
  });

  it('shows per tier whether the caller may launch it and why not (GPU needs phase 3.5)', async () => {
    const res = await t.api('/api/v1/tiers', { token: alice });
    const tiers = (res.body as { tiers: Tier[] }).tiers;
    const gpu = tiers.find((x) => x.id === 'gpu');
    assert.equal(gpu?.allowed, false);
    assert.equal(
      gpu?.notAllowedReason,
      'GPU tiers arrive in deployment phase 3.5; this deployment is phase 3.0.',
    );
    assert.equal(gpu?.earlyAccess, true);
    assert.equal(tiers.find((x) => x.id === 'basic')?.storageMicroNexCoinPerHour, 50_000);
    const refused = await t.api('/api/v1/sessions', { method: 'POST', token: alice, body: { tier: 'gpu' } });
    assert.equal(refused.status, 403);
    assert.equal(error(refused.body).code, 'TIER_NOT_ALLOWED');
  });

  it('evaluates the 45 billing and 17 governance checks from the wallet and the tenant registry', async () => {
    const res = await t.api('/api/v1/handshake', { token: alice });
    const checks = (res.body as HandshakeReport).checks;
    const byId = (id: string) => checks.find((c) => c.id === id);
    assert.equal(byId('billing')?.ok, true);
    assert.match(byId('billing')?.evidence ?? '', /embedded-ledger/);
    assert.match(byId('tenant-registry')?.evidence ?? '', /13 canonical tenants/);
    assert.match(byId('value-distribution')?.evidence ?? '', /80% to tenant:\{tenantId\}:creator-pool/);
    assert.match(byId('phase-governance')?.evidence ?? '', /phase 3\.0 .*at most 100 concurrent sessions/);
    assert.match(
      byId('resource-quota')?.evidence ?? '',
      /cluster ceiling 50 sessions \(the lower of phase 3\.0's 100 and the ResourceQuota's pods\)/,
    );
    for (const id of [
      'tenant-registry',
      'value-distribution',
      'founding-tenant-rights',
      'phase-governance',
      'n3xus-law',
    ]) {
      assert.equal(byId(id)?.ok, true, id);
      assert.equal(byId(id)?.group, '17');
    }
  });

  it('meters a real desktop per started period: cost so far, usage record, ledger and invoice agree', async () => {
    const wallet = t.adapter.billing.wallet;
    assert.ok(wallet instanceof LedgerWallet);
    await wallet.credit({ tenantId: 'puabo', userId: 'alice' }, 1_000_000, 'test-fund-alice');
    const created = await t.api('/api/v1/sessions', {
      method: 'POST',
      token: alice,
      body: { tier: 'basic' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = (created.body as Session).sessionId;
    await sleep(2_500);
    const listed = (await t.api('/api/v1/sessions', { token: alice })).body as { sessions: Session[] };
    const soFar = listed.sessions[0]?.costSoFarMicroNexCoin ?? 0;
    assert.ok(soFar >= 2 * 112, `cost so far ${soFar}`); // 112 = ceil(139 × 0.8) per second
    const live = (await t.api('/api/v1/usage', { token: alice })).body as UsageResponse;
    assert.equal(live.scope, 'user');
    assert.equal(live.records[0]?.final, false);
    assert.ok((live.records[0]?.chargedMicroNexCoin ?? 0) > 0, 'charged while running');

    assert.equal((await t.api(`/api/v1/sessions/${id}/pause`, { method: 'POST', token: alice })).status, 200);
    await sleep(1_200);
    assert.equal((await t.api(`/api/v1/sessions/${id}`, { method: 'DELETE', token: alice })).status, 200);
    let usage: UsageResponse | undefined;
    for (let i = 0; i < 50; i++) {
      usage = (await t.api('/api/v1/usage', { token: alice })).body as UsageResponse;
      const r = usage.records[0];
      if (r?.final && r.chargedMicroNexCoin === r.costMicroNexCoin) break;
      await sleep(100);
    }
    const record = usage?.records[0];
    assert.ok(record?.final, 'the SuperCoreUsage record is written');
    assert.ok((record?.costMicroNexCoin ?? 0) > soFar);
    assert.equal(record?.chargedMicroNexCoin, record?.costMicroNexCoin, 'billed cost = charged');
    assert.equal(record?.outstandingMicroNexCoin, 0);
    assert.equal(usage?.balanceMicroNexCoin, 1_000_000 - (record?.costMicroNexCoin ?? 0));
    const canonUsage = await t.adapter.canon.getUsage(id);
    assert.equal(canonUsage?.cost, record?.costMicroNexCoin);
    const ledger = (await wallet.listEntries({ tenantId: 'puabo', userId: 'alice' })).filter(
      (e) => e.kind === 'deduct',
    );
    assert.equal(
      ledger.reduce((a, e) => a + e.amount, 0),
      canonUsage?.cost,
    );
    assert.ok(
      ledger.some((e) => e.metadata.kind === 'paused'),
      'paused seconds at the storage rate',
    );

    const invoice = (await t.api(`/api/v1/invoices?month=${month()}`, { token: alice }))
      .body as InvoiceResponse;
    assert.equal(invoice.currency, 'micro-NexCoin');
    assert.equal(invoice.periodSeconds, 1);
    assert.equal(invoice.lines.length, 1);
    assert.equal(invoice.lines[0]?.discountBasisPoints, 2_000);
    assert.equal(invoice.totals.totalMicroNexCoin, canonUsage?.cost);
    assert.ok(invoice.totals.discountMicroNexCoin > 0);
    assert.equal(
      invoice.distribution.reduce((a, d) => a + d.amountMicroNexCoin, 0),
      invoice.totals.totalMicroNexCoin,
    );
    assert.deepEqual(
      invoice.distribution.map((d) => d.account),
      ['tenant:puabo:creator-pool', 'n3xus:platform-treasury'],
    );

    // The tenant admin sees the tenant's usage and invoice; another tenant's user sees none of it.
    const tenant = (await t.api('/api/v1/usage', { token: puaboAdmin })).body as UsageResponse;
    assert.equal(tenant.scope, 'tenant');
    assert.deepEqual(
      tenant.records.map((r) => r.sessionId),
      [id],
    );
    const tenantInvoice = (await t.api(`/api/v1/invoices?month=${month()}`, { token: puaboAdmin }))
      .body as InvoiceResponse;
    assert.equal(tenantInvoice.totals.totalMicroNexCoin, canonUsage?.cost);
    assert.deepEqual(((await t.api('/api/v1/usage', { token: bob })).body as UsageResponse).records, []);
    assert.deepEqual(
      ((await t.api(`/api/v1/invoices?month=${month()}`, { token: bob })).body as InvoiceResponse).lines,
      [],
    );
    const report = await t.adapter.billing.reconciler.run();
    assert.deepEqual(
      report.differences.filter((d) => d.sessionId === id),
      [],
    );
  });

  it('refuses a malformed month', async () => {
    for (const bad of ['2026-13', '26-01', '2026-1', '']) {
      const res = await t.api(`/api/v1/invoices?month=${bad}`, { token: alice });
      assert.equal(res.status, 400, bad);
      assert.equal(error(res.body).code, 'BAD_REQUEST');
    }
    assert.equal((await t.api('/api/v1/invoices', { token: alice })).status, 400);
    assert.equal((await t.api('/api/v1/usage?month=2026-02', { token: alice })).status, 200);
  });

  it('changes a running session’s tier: 200 with the new tier, 402 when the balance cannot cover it, 400 on a bad body', async () => {
    const carol = await token(t, 'carol', 'civic-commons');
    const wallet = t.adapter.billing.wallet;
    assert.ok(wallet instanceof LedgerWallet);
    // Basic's reserve (2 × 139) and Standard's (2 × 278), not Ultra's (2 × 1,667).
    await wallet.credit({ tenantId: 'civic-commons', userId: 'carol' }, 2 * 278 + 50, 'test-fund-carol');
    const created = await t.api('/api/v1/sessions', {
      method: 'POST',
      token: carol,
      body: { tier: 'basic' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = (created.body as Session).sessionId;
    try {
      const bad = await t.api(`/api/v1/sessions/${id}/tier`, {
        method: 'POST',
        token: carol,
        body: { size: 'x' },
      });
      assert.equal(bad.status, 400);
      const low = await t.api(`/api/v1/sessions/${id}/tier`, {
        method: 'POST',
        token: carol,
        body: { tier: 'ultra' },
      });
      assert.equal(low.status, 402, JSON.stringify(low.body));
      assert.equal(error(low.body).code, 'BALANCE_TOO_LOW');
      const res = await t.api(`/api/v1/sessions/${id}/tier`, {
        method: 'POST',
        token: carol,
        body: { tier: 'standard' },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual([(res.body as Session).tier, (res.body as Session).state], ['standard', 'active']);
      const other = await t.api(`/api/v1/sessions/${id}/tier`, {
        method: 'POST',
        token: bob,
        body: { tier: 'pro' },
      });
      assert.equal(other.status, 404, 'another user’s session is not disclosed');
      const records = await t.adapter.canon.listRecords(id);
      assert.ok(records.some((r) => r.action === 'tier.changed' && r.payload.tier === 'standard'));
    } finally {
      await t.api(`/api/v1/sessions/${id}`, { method: 'DELETE', token: carol });
    }
  });
});

describe('billing API with the HTTP wallet adapter (test NexCoin service)', () => {
  let t: TestAdapter;
  let server: NexCoinTestServer;
  let carol: string;

  before(async () => {
    server = await startNexCoinTestServer();
    t = await startTestAdapter({
      NEXCOIN_WALLET_URL: server.url,
      NEXCOIN_WALLET_TIMEOUT_MS: '200',
      NEXCOIN_WALLET_RETRIES: '1',
    });
    carol = await token(t, 'carol', 'v-suite');
  });
  after(async () => {
    await t.close();
    await server.close();
  });

  it('asks the NexCoin service at Genesis: too low is 402, unreachable is 503, and nothing is provisioned', async () => {
    server.fund({ tenantId: 'v-suite', userId: 'carol' }, 100);
    const low = await t.api('/api/v1/sessions', { method: 'POST', token: carol, body: { tier: 'basic' } });
    assert.equal(low.status, 402);
    assert.equal(error(low.body).details?.balanceMicroNexCoin, 100);
    server.inject({ kind: 'fail-500' }, (method) => method === 'GET');
    server.inject({ kind: 'fail-500' }, (method) => method === 'GET');
    const down = await t.api('/api/v1/sessions', { method: 'POST', token: carol, body: { tier: 'basic' } });
    assert.equal(down.status, 503);
    assert.equal(error(down.body).code, 'NOT_READY');
    assert.match(error(down.body).message, /NexCoin wallet did not answer/);
    assert.deepEqual(await t.adapter.canon.listUnfinished(), []);
    nothingProvisioned(t);
    const report = (await t.api('/api/v1/handshake', { token: carol })).body as HandshakeReport;
    assert.match(
      report.checks.find((c) => c.id === 'billing')?.evidence ?? '',
      /NexCoin wallet \(http\) answered/,
    );
  });
});
