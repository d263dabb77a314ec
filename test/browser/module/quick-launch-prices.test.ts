import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { NEVER } from 'rxjs';
import '../../../module/quick-launch/quick-launch.ts';
import type { VscQuickLaunch } from '../../../module/quick-launch/quick-launch.component.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FAKE_TIERS, FakeApi } from './support/fake-api.ts';

/** A founding tenant's catalogue as the server sends it: list prices plus the caller's own (−20 %). */
async function setup(reason: 'founding' | 'tenant' | null): Promise<VscQuickLaunch> {
  const fake = new FakeApi();
  if (reason) {
    fake.tiers = FAKE_TIERS.map((t) => ({
      ...t,
      yourPrice: {
        microNexCoinPerHour: Math.ceil(t.microNexCoinPerHour * 0.8),
        storageMicroNexCoinPerHour: 0,
        discountBasisPoints: 2000,
        reason,
      },
    }));
  }
  const api = fake.client();
  const store = new SessionsStore({ api, changeFeed: () => NEVER });
  const el = await fixture<VscQuickLaunch>(
    html`<vsc-quick-launch .api=${api} .store=${store}></vsc-quick-launch>`,
  );
  await waitUntil(() => el.shadowRoot?.querySelector('.tier'), 'tiers render');
  return el;
}

const q = <T extends Element = HTMLElement>(el: VscQuickLaunch, selector: string): T | null =>
  el.shadowRoot?.querySelector<T>(selector) ?? null;
const text = (node: Element | null | undefined): string =>
  node?.textContent?.replace(/\s+/g, ' ').trim() ?? '';

describe('<vsc-quick-launch> founding-tenant prices', () => {
  it('shows the list price struck through and the founding price with its label', async () => {
    const el = await setup('founding');
    const card = q(el, '[data-tier="standard"]');
    const listPrice = card?.querySelector('s.list-price');
    expect(text(listPrice)).to.equal('List price 1 NexCoin/hour');
    expect(text(card?.querySelector('.your-price'))).to.equal('0.80 NexCoin/hour');
    expect(card?.querySelector('.price')?.getAttribute('data-micro-nexcoin')).to.equal('800000');
    expect(text(card?.querySelector('[data-price-label]'))).to.equal('Founding-tenant price (−20 %)');
    await expect(el).to.be.accessible();
  });

  it('estimates the cost at the founding rate, not the list rate', async () => {
    const el = await setup('founding');
    q(el, '[data-tier="standard"] label')?.click();
    await el.updateComplete;
    const hours = q<HTMLInputElement>(el, '#hours');
    if (!hours) throw new Error('no hours');
    hours.value = '3';
    hours.dispatchEvent(new Event('change'));
    await el.updateComplete;
    const estimate = q(el, '#estimate');
    expect(estimate?.getAttribute('data-micro-nexcoin')).to.equal('2400000');
    expect(text(estimate)).to.contain(
      'Estimated cost: 2.40 NexCoin for 3 hours of Standard (0.80 NexCoin/hour',
    );
    expect(text(estimate)).to.contain('founding-tenant price (−20 %)');
  });

  it('names a non-founding discount as the organisation’s price', async () => {
    const el = await setup('tenant');
    expect(text(q(el, '[data-tier="basic"] [data-price-label]'))).to.equal(
      "Your organisation's price (−20 %)",
    );
  });

  it('without a price of its own the card shows the list price alone, and dark theme stays accessible', async () => {
    const el = await setup(null);
    const card = q(el, '[data-tier="basic"]');
    expect(card?.querySelector('s')).to.equal(null);
    expect(card?.querySelector('[data-price-label]')).to.equal(null);
    expect(text(card?.querySelector('.price'))).to.equal('Price 0.50 NexCoin/hour');
    el.theme = 'dark';
    await el.updateComplete;
    await expect(el).to.be.accessible();
  });
});
