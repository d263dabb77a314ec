import { expect, fixture, html, oneEvent, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import { NEVER } from 'rxjs';
import '../../../module/quick-launch/quick-launch.ts';
import type { VscQuickLaunch } from '../../../module/quick-launch/quick-launch.component.ts';
import type { OpenSessionDetail } from '../../../module/shared/events.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FAKE_TOKEN, FakeApi } from './support/fake-api.ts';

interface Setup {
  el: VscQuickLaunch;
  fake: FakeApi;
  store: SessionsStore;
}

/** A quick launch wired to a FakeApi; the store's change feed is silent (the test drives refreshes). */
async function setup(): Promise<Setup> {
  const fake = new FakeApi();
  const api = fake.client();
  const store = new SessionsStore({ api, changeFeed: () => NEVER });
  const el = await fixture<VscQuickLaunch>(
    html`<vsc-quick-launch .api=${api} .store=${store}></vsc-quick-launch>`,
  );
  await waitUntil(() => el.shadowRoot?.querySelector('.tier'), 'tiers render');
  return { el, fake, store };
}

const q = <T extends Element = HTMLElement>(el: VscQuickLaunch, selector: string): T | null =>
  el.shadowRoot?.querySelector<T>(selector) ?? null;

function stepStatus(el: VscQuickLaunch): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const li of el.shadowRoot?.querySelectorAll<HTMLElement>('.launch-steps li') ?? []) {
    out[li.dataset['step'] ?? ''] = li.dataset['status'];
  }
  return out;
}

describe('<vsc-quick-launch>', () => {
  it('renders a card per tier with cores, memory, storage, GPU and NexCoin per hour', async () => {
    const { el } = await setup();
    const cards = el.shadowRoot?.querySelectorAll<HTMLElement>('.tier') ?? [];
    expect([...cards].map((c) => c.dataset['tier'])).to.deep.equal(['basic', 'standard', 'gpu']);
    const gpu = q(el, '[data-tier="gpu"]')?.textContent?.replace(/\s+/g, ' ') ?? '';
    expect(gpu).to.contain('GPU');
    expect(gpu).to.contain('CPU 8 cores');
    expect(gpu).to.contain('Memory 32 GiB');
    expect(gpu).to.contain('Storage 200 GiB');
    expect(gpu).to.contain('GPU 1');
    expect(gpu).to.contain('15 NexCoin/hour');
    const basic = q(el, '[data-tier="basic"]')?.textContent?.replace(/\s+/g, ' ') ?? '';
    expect(basic).to.contain('CPU 1 core');
    expect(basic).to.contain('GPU None');
    expect(basic).to.contain('0.50 NexCoin/hour');
    await expect(el).to.be.accessible();
  });

  it('selects one tier at a time, by click and by arrow keys (radio semantics)', async () => {
    const { el } = await setup();
    const launch = q<HTMLButtonElement>(el, '[data-action="launch"]');
    expect(launch?.disabled).to.equal(true, 'nothing selected yet');
    q(el, '[data-tier="basic"] label')?.click();
    await el.updateComplete;
    expect(el.selected).to.equal('basic');
    expect(launch?.disabled).to.equal(false);
    q<HTMLInputElement>(el, '#tier-basic')?.focus();
    await sendKeys({ press: 'ArrowRight' });
    await el.updateComplete;
    expect(el.selected).to.equal('standard');
    const checked = el.shadowRoot?.querySelectorAll('input[type="radio"]:checked') ?? [];
    expect(checked.length).to.equal(1);
    expect(q(el, '[data-tier="standard"]')?.hasAttribute('data-selected')).to.equal(true);
    await expect(el).to.be.accessible();
  });

  it('shows the real steps and opens the viewer when the session is active', async () => {
    const { el, fake } = await setup();
    el.selected = 'standard';
    await el.updateComplete;
    const release = fake.holdCreates();
    const opened = oneEvent(el, 'vsc-open-session') as Promise<CustomEvent<OpenSessionDetail>>;
    q<HTMLButtonElement>(el, '[data-action="launch"]')?.click();
    await waitUntil(() => el.currentStep === 'billing', 'billing check while the request is in flight');
    expect(stepStatus(el)).to.deep.equal({
      authenticating: 'done',
      billing: 'current',
      provisioning: 'pending',
      connecting: 'pending',
    });
    await waitUntil(() => el.currentStep === 'provisioning', 'provisioning once the server lists it so', {
      timeout: 4000,
    });
    expect(q<HTMLButtonElement>(el, '[data-action="launch"]')?.disabled).to.equal(true);
    expect(q<HTMLFieldSetElement>(el, 'fieldset')?.disabled).to.equal(true);
    await expect(el).to.be.accessible();
    release();
    const event = await opened;
    expect(event.detail.launching).to.equal(true);
    expect(event.bubbles && event.composed).to.equal(true);
    expect(fake.sessions.get(event.detail.sessionId)?.state).to.equal('active');
    expect(el.currentStep).to.equal('connecting');
    expect(stepStatus(el)['connecting']).to.equal('current');
  });

  it('shows Authenticating until getToken resolves', async () => {
    const fake = new FakeApi();
    let release: () => void = () => undefined;
    let gate: Promise<void> | null = null;
    const api = fake.client(async () => {
      if (gate) await gate;
      return FAKE_TOKEN;
    });
    const store = new SessionsStore({ api, changeFeed: () => NEVER });
    const el = await fixture<VscQuickLaunch>(
      html`<vsc-quick-launch .api=${api} .store=${store} selected="basic"></vsc-quick-launch>`,
    );
    await waitUntil(() => q(el, '.tier'));
    gate = new Promise<void>((r) => (release = r));
    q<HTMLButtonElement>(el, '[data-action="launch"]')?.click();
    await el.updateComplete;
    expect(el.currentStep).to.equal('authenticating');
    expect(stepStatus(el)['authenticating']).to.equal('current');
    expect(q(el, '[role="status"]')?.textContent).to.contain('Step 1 of 4: Authenticating');
    expect(fake.count('POST', '/sessions')).to.equal(0);
    gate = null;
    release();
    await oneEvent(el, 'vsc-open-session');
    expect(fake.count('POST', '/sessions')).to.equal(1);
  });

  it('waits in Provisioning when the server answers before the desktop is up', async () => {
    const { el, fake } = await setup();
    fake.asyncCreate = true;
    fake.pollsToActive = 2;
    el.selected = 'basic';
    await el.updateComplete;
    const opened = oneEvent(el, 'vsc-open-session');
    q<HTMLButtonElement>(el, '[data-action="launch"]')?.click();
    await waitUntil(() => el.currentStep === 'provisioning');
    await opened;
    expect(
      fake.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/sessions/')).length,
    ).to.equal(2);
  });

  it('shows UNKNOWN_TIER with its message and code', async () => {
    const { el } = await setup();
    el.selected = 'quantum';
    await el.updateComplete;
    await el.launch();
    const alert = q(el, '[role="alert"]');
    expect(alert?.textContent).to.contain('There is no resource tier called "quantum".');
    expect(alert?.textContent).to.contain('UNKNOWN_TIER');
    expect(stepStatus(el)['billing']).to.equal('failed');
    await expect(el).to.be.accessible();
  });

  it('shows RUNTIME_FAILED at Provisioning, and Try again launches again', async () => {
    const { el, fake } = await setup();
    fake.failNextCreate = 'Xvnc exited with code 1';
    el.selected = 'standard';
    await el.updateComplete;
    await el.launch();
    const alert = q(el, '[role="alert"]');
    expect(alert?.getAttribute('data-code')).to.equal('RUNTIME_FAILED');
    expect(alert?.textContent).to.contain('Xvnc exited with code 1');
    expect(stepStatus(el)['provisioning']).to.equal('failed');
    expect(q(el, '[role="status"]')?.textContent).to.contain('Launch failed at Provisioning');
    const opened = oneEvent(el, 'vsc-open-session');
    q<HTMLButtonElement>(el, '[data-action="retry-launch"]')?.click();
    await opened;
    expect(fake.count('POST', '/sessions')).to.equal(2);
  });

  it('shows a tier loading error with a working Retry', async () => {
    const fake = new FakeApi();
    fake.failures.set('/tiers', 'INTERNAL');
    const api = fake.client();
    const el = await fixture<VscQuickLaunch>(html`<vsc-quick-launch .api=${api}></vsc-quick-launch>`);
    await waitUntil(() => q(el, '[role="alert"]'));
    expect(q(el, '[role="alert"]')?.textContent).to.contain('INTERNAL');
    await expect(el).to.be.accessible();
    fake.failures.clear();
    q<HTMLButtonElement>(el, '[data-action="retry-tiers"]')?.click();
    await waitUntil(() => q(el, '.tier'));
  });

  it('stops a launch when removed from the page', async () => {
    const { el, fake } = await setup();
    const release = fake.holdCreates();
    el.selected = 'basic';
    await el.updateComplete;
    let opened = false;
    el.addEventListener('vsc-open-session', () => (opened = true));
    const launching = el.launch();
    await waitUntil(() => fake.inFlight > 0 && el.currentStep === 'billing');
    el.remove();
    await launching;
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(opened).to.equal(false);
    expect(fake.inFlight).to.equal(0);
  });

  it('renders in the dark theme and stays accessible', async () => {
    const { el } = await setup();
    el.theme = 'dark';
    await el.updateComplete;
    expect(getComputedStyle(el).colorScheme).to.equal('dark');
    await expect(el).to.be.accessible();
  });
});
