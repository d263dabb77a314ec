// "Change tier" in Active Sessions: the owner's Active or Paused session moves to another tier the user may
// launch, chosen from a labelled select with the user's rates; the row shows the new tier from the pushed
// session change; refusals stay in the row with a clear sentence and their code; keyboard only works.
import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import '../../../module/active-sessions/active-sessions.ts';
import type { VscActiveSessions } from '../../../module/active-sessions/active-sessions.component.ts';
import type { VscChangeTier } from '../../../module/active-sessions/change-tier.component.ts';
import { LiveEvents } from '../../../module/api/live-events.ts';
import { liveFeed, SessionsStore } from '../../../module/state/sessions-store.ts';
import type { Tier } from '../../../protocol/session.ts';
import { FAKE_TIERS, FakeApi } from './support/fake-api.ts';

interface Rig {
  el: VscActiveSessions;
  store: SessionsStore;
  close(): void;
}

/** The pane on a store fed by the fake's live events, so the row follows what the server pushes. */
async function setup(fake: FakeApi): Promise<Rig> {
  const api = fake.client();
  const live = new LiveEvents({ api });
  const store = new SessionsStore({ api, changeFeed: liveFeed(live) });
  await store.refresh();
  const el = await fixture<VscActiveSessions>(
    html`<vsc-active-sessions .store=${store} .api=${api}></vsc-active-sessions>`,
  );
  await waitUntil(() => el.shadowRoot?.querySelector('.live[data-live="on"]'), 'live events connect');
  return {
    el,
    store,
    close() {
      el.remove();
      store.dispose();
    },
  };
}

const row = (el: VscActiveSessions, id: string): HTMLElement | null =>
  el.shadowRoot?.querySelector<HTMLElement>(`tr[data-session-id="${id}"]`) ?? null;
const button = (el: VscActiveSessions, id: string, action: string): HTMLButtonElement | null =>
  row(el, id)?.querySelector<HTMLButtonElement>(`button[data-action="${action}"]`) ?? null;
const form = (el: VscActiveSessions, id: string): VscChangeTier | null =>
  row(el, id)?.querySelector('vsc-change-tier') ?? null;
const inForm = <T extends Element>(el: VscActiveSessions, id: string, selector: string): T | null =>
  form(el, id)?.shadowRoot?.querySelector<T>(selector) ?? null;
const tierCell = (el: VscActiveSessions, id: string): string =>
  row(el, id)?.querySelector('td.tier')?.textContent?.trim() ?? '';

async function openForm(el: VscActiveSessions, id: string): Promise<HTMLSelectElement> {
  button(el, id, 'change-tier')?.click();
  await waitUntil(() => inForm(el, id, 'select'), 'the tiers are listed');
  const select = inForm<HTMLSelectElement>(el, id, 'select');
  if (!select) throw new Error('no select');
  return select;
}

describe('<vsc-active-sessions> change tier', () => {
  it('offers the owner’s Active and Paused sessions only', async () => {
    const fake = new FakeApi();
    const active = fake.seed({ state: 'active' });
    const paused = fake.seed({ state: 'paused' });
    const hibernated = fake.seed({ state: 'hibernated' });
    const failed = fake.seed({ state: 'failed' });
    const rig = await setup(fake);
    expect(button(rig.el, active.sessionId, 'change-tier')?.getAttribute('aria-label')).to.equal(
      `Change tier of session ${active.sessionId.slice(-8)}`,
    );
    expect(button(rig.el, paused.sessionId, 'change-tier')).to.not.equal(null);
    expect(button(rig.el, hibernated.sessionId, 'change-tier')).to.equal(null);
    expect(button(rig.el, failed.sessionId, 'change-tier')).to.equal(null);
    rig.close();
  });

  it('lists the other tiers the user may launch with their rates; Change moves the row to the new tier (pushed)', async () => {
    const fake = new FakeApi();
    const locked: Tier = { ...(FAKE_TIERS[2] as Tier), allowed: false, notAllowedReason: 'Needs ultra.' };
    fake.tiers = [
      FAKE_TIERS[0] as Tier,
      { ...(FAKE_TIERS[1] as Tier), yourPrice: { ...priceOf(FAKE_TIERS[1]), microNexCoinPerHour: 800_000 } },
      locked,
    ];
    const s = fake.seed({ state: 'active', tier: 'basic' });
    const rig = await setup(fake);
    const select = await openForm(rig.el, s.sessionId);
    const options = [...select.options].map((o) => [o.value, o.textContent?.trim()]);
    expect(options).to.deep.equal([['standard', 'Standard · 0.80 NexCoin/hour']], 'the user’s own rate');
    expect(select.closest('label')?.textContent).to.contain('New tier (now Basic)');
    expect(form(rig.el, s.sessionId)?.shadowRoot?.activeElement).to.equal(select, 'focus on the select');
    await expect(form(rig.el, s.sessionId)).to.be.accessible();

    inForm<HTMLButtonElement>(rig.el, s.sessionId, '[data-action="confirm-tier"]')?.click();
    await waitUntil(() => tierCell(rig.el, s.sessionId) === 'Standard', 'the row shows the new tier');
    expect(form(rig.el, s.sessionId)).to.equal(null, 'the form closes');
    expect(fake.sessions.get(s.sessionId)?.tier).to.equal('standard');
    const request = fake.requests.find((r) => r.path === `/sessions/${s.sessionId}/tier`);
    expect(request?.method).to.equal('POST');
    expect(request?.body).to.deep.equal({ tier: 'standard' });
    await waitUntil(() => rig.el.shadowRoot?.activeElement === button(rig.el, s.sessionId, 'change-tier'));
    await waitUntil(() =>
      rig.el.shadowRoot?.querySelector('[role="status"][aria-live]')?.textContent?.includes('Standard tier'),
    );
    rig.close();
  });

  it('shows each row’s tier by its label, and by its id when the catalogue cannot be read', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active', tier: 'gpu' });
    const rig = await setup(fake);
    await waitUntil(() => tierCell(rig.el, s.sessionId) === 'GPU', 'the label');
    rig.close();

    const broken = new FakeApi();
    broken.failures.set('/tiers', 'INTERNAL');
    const t = broken.seed({ state: 'active', tier: 'gpu' });
    const rig2 = await setup(broken);
    await waitUntil(() => broken.count('GET', '/tiers') > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(tierCell(rig2.el, t.sessionId)).to.equal('gpu');
    rig2.close();
  });

  it('a change made elsewhere reaches the row through the pushed session change', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'paused', tier: 'standard' });
    const rig = await setup(fake);
    const changed = fake.sessions.get(s.sessionId);
    if (!changed) throw new Error('seeded');
    fake.set({ ...changed, tier: 'basic' }, 'paused');
    await waitUntil(() => tierCell(rig.el, s.sessionId) === 'Basic');
    expect(row(rig.el, s.sessionId)?.dataset['state']).to.equal('paused');
    rig.close();
  });

  for (const [code, sentence] of [
    ['BALANCE_TOO_LOW', /balance does not cover the new tier/],
    ['QUOTA_EXCEEDED', /would exceed a resource quota/],
    ['TRANSITION_IN_PROGRESS', /Another change to this session is in progress/],
  ] as const) {
    it(`a refusal (${code}) stays in the row with what to do; the tier is unchanged`, async () => {
      const fake = new FakeApi();
      const s = fake.seed({ state: 'paused', tier: 'standard' });
      const rig = await setup(fake);
      await openForm(rig.el, s.sessionId);
      fake.refuseNextTierChange = code;
      inForm<HTMLButtonElement>(rig.el, s.sessionId, '[data-action="confirm-tier"]')?.click();
      await waitUntil(() => inForm(rig.el, s.sessionId, '[role="alert"]'), 'the refusal is shown');
      const alert = inForm<HTMLElement>(rig.el, s.sessionId, '[role="alert"]');
      expect(alert?.dataset['code']).to.equal(code);
      expect(alert?.textContent).to.match(sentence);
      expect(alert?.textContent).to.contain(code);
      expect(tierCell(rig.el, s.sessionId)).to.equal('Standard');
      expect(fake.sessions.get(s.sessionId)?.tier).to.equal('standard');
      await expect(form(rig.el, s.sessionId)).to.be.accessible();
      rig.close();
    });
  }

  it('TIER_NOT_ALLOWED carries the server’s reason', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active', tier: 'basic' });
    const rig = await setup(fake);
    const select = await openForm(rig.el, s.sessionId);
    select.value = 'gpu';
    // The tier closes between listing and confirming (e.g. the phase or the subscription changed).
    fake.tiers = fake.tiers.map((t) =>
      t.id === 'gpu' ? { ...t, allowed: false, notAllowedReason: 'GPU tiers open at phase 3.5.' } : t,
    );
    inForm<HTMLButtonElement>(rig.el, s.sessionId, '[data-action="confirm-tier"]')?.click();
    await waitUntil(() => inForm(rig.el, s.sessionId, '[role="alert"]'));
    const alert = inForm<HTMLElement>(rig.el, s.sessionId, '[role="alert"]');
    expect(alert?.dataset['code']).to.equal('TIER_NOT_ALLOWED');
    expect(alert?.textContent).to.contain('That tier is not open to you: GPU tiers open at phase 3.5.');
    expect(tierCell(rig.el, s.sessionId)).to.equal('Basic');
    rig.close();
  });

  it('is operable with the keyboard: Enter opens, arrows choose, Enter confirms; Escape cancels and returns focus', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active', tier: 'basic' });
    const rig = await setup(fake);
    button(rig.el, s.sessionId, 'change-tier')?.focus();
    await sendKeys({ press: 'Enter' });
    await waitUntil(() => form(rig.el, s.sessionId)?.shadowRoot?.activeElement?.tagName === 'SELECT');
    await sendKeys({ press: 'Escape' });
    await waitUntil(
      () => rig.el.shadowRoot?.activeElement === button(rig.el, s.sessionId, 'change-tier'),
      'Escape closes the form and focus goes back to its button',
    );
    expect(form(rig.el, s.sessionId)).to.equal(null);

    await sendKeys({ press: 'Space' });
    await waitUntil(() => form(rig.el, s.sessionId)?.shadowRoot?.activeElement?.tagName === 'SELECT');
    const select = inForm<HTMLSelectElement>(rig.el, s.sessionId, 'select');
    expect(select?.value).to.equal('standard');
    await sendKeys({ press: 'ArrowDown' });
    expect(select?.value).to.equal('gpu');
    await sendKeys({ press: 'Tab' });
    expect(form(rig.el, s.sessionId)?.shadowRoot?.activeElement?.getAttribute('data-action')).to.equal(
      'confirm-tier',
    );
    await sendKeys({ press: 'Enter' });
    await waitUntil(() => tierCell(rig.el, s.sessionId) === 'GPU');
    rig.close();
  });
});

function priceOf(tier: Tier | undefined): NonNullable<Tier['yourPrice']> {
  return {
    microNexCoinPerHour: tier?.microNexCoinPerHour ?? 0,
    storageMicroNexCoinPerHour: tier?.storageMicroNexCoinPerHour ?? 0,
    discountBasisPoints: 2000,
    reason: 'founding',
  };
}
