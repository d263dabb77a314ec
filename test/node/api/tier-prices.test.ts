// The tier catalogue tells each caller their own price: founding tenants (and tenants with their own agreement)
// see their discounted rates beside the list price; everyone else sees the list price alone. Real adapter.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Tier } from '../../../protocol/session.ts';
import { discountedRate } from '../../../backend-adapter/billing/pricing.ts';
import { TIER_CATALOGUE } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

describe('GET /api/v1/tiers: the caller’s own price', () => {
  let t: TestAdapter;
  const tiersOf = async (tenantId: string): Promise<Tier[]> => {
    const token = await t.login(`user-${tenantId}`, tenantId);
    const res = await t.api('/api/v1/tiers', { token });
    assert.equal(res.status, 200);
    return (res.body as { tiers: Tier[] }).tiers;
  };

  before(async () => {
    t = await startTestAdapter();
  });
  after(() => t.close());

  it('a founding tenant sees its discounted rates, labelled founding, next to the list price', async () => {
    const tiers = await tiersOf('puabo'); // founding, −20 %
    const basic = tiers.find((x) => x.id === 'basic');
    assert.equal(basic?.microNexCoinPerHour, 500_000, 'the list price is unchanged');
    assert.deepEqual(basic?.yourPrice, {
      microNexCoinPerHour: 400_000,
      storageMicroNexCoinPerHour: 40_000,
      discountBasisPoints: 2000,
      reason: 'founding',
    });
    for (const tier of tiers) {
      const list = TIER_CATALOGUE.find((c) => c.id === tier.id);
      assert.equal(
        tier.yourPrice?.microNexCoinPerHour,
        discountedRate(list?.microNexCoinPerHour ?? -1, 2000),
      );
    }
  });

  it('a tenant with its own (non-founding) discount sees it labelled as the tenant’s', async () => {
    const tiers = await tiersOf('imvu-lab'); // not founding, −5 %
    assert.deepEqual(tiers.find((x) => x.id === 'standard')?.yourPrice, {
      microNexCoinPerHour: 950_000,
      storageMicroNexCoinPerHour: 95_000,
      discountBasisPoints: 500,
      reason: 'tenant',
    });
  });

  it('a tenant without a discount (or not in the registry) gets no separate price', async () => {
    for (const tenant of ['civic-commons', 'some-unlisted-tenant']) {
      const tiers = await tiersOf(tenant);
      assert.ok(tiers.length > 0);
      assert.ok(
        tiers.every((x) => x.yourPrice === undefined),
        `${tenant} sees only list prices`,
      );
    }
  });

  it('rounds a discounted rate up to the micro-NexCoin and refuses nonsense', () => {
    assert.equal(discountedRate(333_333, 2500), 250_000); // 249,999.75 → 250,000
    assert.equal(discountedRate(1_000_000, 0), 1_000_000);
    assert.equal(discountedRate(1_000_000, 10_000), 0);
    assert.throws(() => discountedRate(1.5, 10), RangeError);
    assert.throws(() => discountedRate(100, 10_001), RangeError);
  });
});
