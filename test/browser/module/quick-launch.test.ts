import { expect, fixture, html, oneEvent, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import { NEVER } from 'rxjs';
import '../../../module/quick-launch/quick-launch.ts';
import type { VscQuickLaunch } from '../../../module/quick-launch/quick-launch.component.ts';
import type { OpenSessionDetail } from '../../../module/shared/events.ts';
import { LiveEvents } from '../../../module/api/live-events.ts';
import type { NavigateDetail } from '../../../module/shared/events.ts';
import { PreferencesStore } from '../../../module/state/preferences-store.ts';
import { SessionsStore, liveFeed } from '../../../module/state/sessions-store.ts';
import { FAKE_TIERS, FAKE_TOKEN, FakeApi } from './support/fake-api.ts';

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
    const checked = el.shadowRoot?.querySelectorAll('input[name="tier"]:checked') ?? [];
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
  it('estimates the cost per hour and for the hours chosen (integer micro-NexCoin), within the tier maximum', async () => {
    const { el } = await setup();
    expect(q(el, '#estimate')).to.equal(null, 'no estimate before a tier is chosen');
    q(el, '[data-tier="standard"] label')?.click();
    await el.updateComplete;
    const hours = q<HTMLInputElement>(el, '#hours');
    expect(hours?.max).to.equal('12', 'standard sessions last at most 12 h');
    if (!hours) throw new Error('no hours');
    hours.value = '3';
    hours.dispatchEvent(new Event('change'));
    await el.updateComplete;
    const estimate = q(el, '#estimate');
    expect(estimate?.getAttribute('data-micro-nexcoin')).to.equal('3000000');
    expect(estimate?.textContent?.replace(/\s+/g, ' ')).to.contain(
      'Estimated cost: 3 NexCoin for 3 hours of Standard (1 NexCoin/hour',
    );
    hours.value = '99';
    hours.dispatchEvent(new Event('change'));
    await el.updateComplete;
    expect(el.hours).to.equal(12);
    q(el, '[data-tier="basic"] label')?.click();
    await el.updateComplete;
    expect(el.hours).to.equal(8, 'a shorter tier maximum pulls the hours down');
    expect(q(el, '#estimate')?.getAttribute('data-micro-nexcoin')).to.equal('4000000');
    await expect(el).to.be.accessible();
  });

  it('offers the desktop template and shows what the subscription allows', async () => {
    const fake = new FakeApi();
    fake.tiers = FAKE_TIERS.map((t) => (t.id === 'gpu' ? { ...t, allowed: false } : t));
    const api = fake.client();
    const store = new SessionsStore({ api, changeFeed: () => NEVER });
    const el = await fixture<VscQuickLaunch>(
      html`<vsc-quick-launch .api=${api} .store=${store}></vsc-quick-launch>`,
    );
    await waitUntil(() => q(el, '.tier'));
    const template = q<HTMLInputElement>(el, 'input[name="template"]');
    expect(template?.checked).to.equal(true);
    expect(template?.closest('label')?.textContent).to.contain('Desktop (openbox + terminal)');
    expect(q(el, '[data-tier="basic"] .plan')?.textContent?.trim()).to.equal('Included in your subscription');
    expect(q(el, '[data-tier="gpu"] .plan')?.textContent?.trim()).to.equal('Needs the ultra subscription');
    expect(q<HTMLInputElement>(el, '#tier-gpu')?.disabled).to.equal(true);
    await expect(el).to.be.accessible();
  });

  const refusals = [
    [
      'QUOTA_EXCEEDED',
      403,
      { scope: 'user-sessions', limit: 3, current: 3 },
      /limit of running desktops \(3 of 3 in use\)\. Pause or terminate/,
      'open-sessions',
    ],
    [
      'BALANCE_TOO_LOW',
      402,
      undefined,
      /NexCoin balance is too low to start a Standard desktop\. Top up/,
      'choose-tier',
    ],
    [
      'TIER_NOT_ALLOWED',
      403,
      undefined,
      /subscription does not include the Standard tier\. Choose another tier/,
      'choose-tier',
    ],
  ] as const;
  for (const [code, status, details, sentence, action] of refusals) {
    it(`turns ${code} into a sentence that says what to do`, async () => {
      const { el, fake } = await setup();
      fake.refuseNextCreate = { code, status, message: `server says ${code}`, details };
      el.selected = 'standard';
      await el.updateComplete;
      await el.launch();
      const alert = q(el, '[role="alert"]');
      expect(alert?.getAttribute('data-code')).to.equal(code);
      expect(alert?.textContent?.replace(/\s+/g, ' ')).to.match(sentence);
      expect(stepStatus(el)['billing']).to.equal('failed', 'refused at the billing check');
      expect(q(el, `[data-action="${action}"]`)).to.not.equal(null);
      await expect(el).to.be.accessible();
      if (action === 'open-sessions') {
        const navigate = oneEvent(el, 'vsc-navigate') as Promise<CustomEvent<NavigateDetail>>;
        q<HTMLButtonElement>(el, '[data-action="open-sessions"]')?.click();
        expect((await navigate).detail.view).to.equal('sessions');
      } else {
        q<HTMLButtonElement>(el, '[data-action="choose-tier"]')?.click();
        await el.updateComplete;
        await waitUntil(
          () => el.shadowRoot?.activeElement?.getAttribute('name') === 'tier',
          'focus goes to the tiers',
        );
        expect(q(el, '[role="alert"]')).to.equal(null);
      }
    });
  }

  it('preselects the default tier from the settings', async () => {
    const fake = new FakeApi();
    fake.preferences.set('alice', {
      preferences: {
        defaultTier: 'gpu',
        streamQuality: 'auto',
        scaling: 'fit',
        keyboardLayout: 'us',
        idleTimeoutMinutes: 30,
        notifications: true,
        streamTransport: 'auto',
      },
      updatedAt: '2026-01-12T10:00:00.000Z',
    });
    const api = fake.client();
    const preferences = new PreferencesStore({ api, cache: null, channelName: null });
    const store = new SessionsStore({ api, changeFeed: () => NEVER });
    const el = await fixture<VscQuickLaunch>(
      html`<vsc-quick-launch .api=${api} .store=${store} .preferences=${preferences}></vsc-quick-launch>`,
    );
    await waitUntil(() => el.selected === 'gpu', 'the default tier is selected');
    expect(q<HTMLInputElement>(el, '#tier-gpu')?.checked).to.equal(true);
    preferences.dispose();
  });

  it('follows the launch through the server’s pushes instead of polling the list', async () => {
    const fake = new FakeApi();
    const api = fake.client();
    const live = new LiveEvents({ api });
    const store = new SessionsStore({ api, changeFeed: liveFeed(live) });
    const observing = store.state$.subscribe(); // as the app does while mounted
    const el = await fixture<VscQuickLaunch>(
      html`<vsc-quick-launch .api=${api} .store=${store}></vsc-quick-launch>`,
    );
    await waitUntil(() => q(el, '.tier') && store.value.live);
    const lists = fake.count('GET', '/sessions');
    const release = fake.holdCreates();
    el.selected = 'basic';
    await el.updateComplete;
    const opened = oneEvent(el, 'vsc-open-session');
    q<HTMLButtonElement>(el, '[data-action="launch"]')?.click();
    await waitUntil(() => el.currentStep === 'provisioning', 'provisioning, pushed by the server');
    await new Promise((r) => setTimeout(r, 1200));
    expect(fake.count('GET', '/sessions')).to.equal(lists, 'no list polling while pushed');
    release();
    await opened;
    el.remove();
    observing.unsubscribe();
    store.dispose();
  });
});
