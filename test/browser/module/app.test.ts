import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import { NEVER } from 'rxjs';
import '../../../module/app/app.ts';
import type { VscApp } from '../../../module/app/app.component.ts';
import { parseRoute, routePath } from '../../../module/app/routes.ts';
import { SESSION_CHANGED_EVENT, type SessionChangedDetail } from '../../../module/shared/events.ts';
import { LiveEvents } from '../../../module/api/live-events.ts';
import { PreferencesStore } from '../../../module/state/preferences-store.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FakeApi } from './support/fake-api.ts';
import { fakeWorkerFactory } from './support/fake-decoder-worker.ts';

const originalUrl = location.href;

async function setup(path = '/v-supercore'): Promise<{
  el: VscApp;
  fake: FakeApi;
  store: SessionsStore;
  bus: EventTarget;
  workers: ReturnType<typeof fakeWorkerFactory>['workers'];
}> {
  history.replaceState(null, '', path);
  const fake = new FakeApi();
  const api = fake.client();
  const store = new SessionsStore({ api, changeFeed: () => NEVER });
  const bus = new EventTarget();
  const { factory, workers } = fakeWorkerFactory();
  const live = new LiveEvents({ api });
  const preferences = new PreferencesStore({ api, cache: null, channelName: null });
  const el = await fixture<VscApp>(
    html`<vsc-app
      .api=${api}
      .store=${store}
      .live=${live}
      .preferences=${preferences}
      .eventBus=${bus}
      .workerFactory=${factory}
    ></vsc-app>`,
  );
  return { el, fake, store, bus, workers };
}

const tab = (el: VscApp, id: string): HTMLElement | null =>
  el.shadowRoot?.querySelector<HTMLElement>(`[role="tab"][data-tab="${id}"]`) ?? null;
const panelChild = (el: VscApp): string =>
  el.shadowRoot?.querySelector('[role="tabpanel"]')?.firstElementChild?.localName ?? '';

describe('<vsc-app>', () => {
  afterEach(() => history.replaceState(null, '', originalUrl));

  it('renders the header, the tabs and Quick Launch at /v-supercore', async () => {
    const { el } = await setup();
    expect(el.shadowRoot?.querySelector('h1')?.textContent).to.equal('Virtual Super PC');
    expect(tab(el, 'launch')?.getAttribute('aria-selected')).to.equal('true');
    expect(tab(el, 'sessions')?.getAttribute('aria-selected')).to.equal('false');
    expect(tab(el, 'sessions')?.getAttribute('tabindex')).to.equal('-1');
    expect(panelChild(el)).to.equal('vsc-quick-launch');
    await waitUntil(() =>
      el.shadowRoot?.querySelector('vsc-quick-launch')?.shadowRoot?.querySelector('.tier'),
    );
    await expect(el).to.be.accessible();
  });

  it('routes /v-supercore/sessions and /v-supercore/sessions/:id from location.pathname', async () => {
    const sessions = await setup('/v-supercore/sessions');
    expect(panelChild(sessions.el)).to.equal('vsc-active-sessions');
    expect(tab(sessions.el, 'sessions')?.getAttribute('aria-selected')).to.equal('true');
    const viewer = await setup('/v-supercore/sessions/abc-123');
    expect(panelChild(viewer.el)).to.equal('vsc-viewer');
    expect(viewer.el.shadowRoot?.querySelector('vsc-viewer')?.sessionId).to.equal('abc-123');
  });

  it('clicking a tab pushes its path onto the history', async () => {
    const { el } = await setup();
    const length = history.length;
    tab(el, 'sessions')?.click();
    await el.updateComplete;
    expect(location.pathname).to.equal('/v-supercore/sessions');
    expect(history.length).to.equal(length + 1);
    expect(panelChild(el)).to.equal('vsc-active-sessions');
    await expect(el).to.be.accessible();
  });

  it('answers a tab click with the selected tab first, and the pane in the frame after', async () => {
    const { el } = await setup();
    tab(el, 'resources')?.click();
    // As single-spa does after every pushState: the URL is the one the click pushed, not a new navigation.
    window.dispatchEvent(new PopStateEvent('popstate'));
    // What the click's next paint shows (the task after the click, before the frame): the tab bar has changed,
    // the old pane is still there (nothing slow to build).
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(tab(el, 'resources')?.getAttribute('aria-selected')).to.equal('true');
    expect(panelChild(el)).to.equal('vsc-quick-launch');
    await el.updateComplete;
    expect(panelChild(el)).to.equal('vsc-resource-monitor');
    // A second switch before the first pane arrived shows only the last one asked for.
    tab(el, 'settings')?.click();
    tab(el, 'sessions')?.click();
    await el.updateComplete;
    expect(panelChild(el)).to.equal('vsc-active-sessions');
    expect(tab(el, 'sessions')?.getAttribute('aria-selected')).to.equal('true');
  });

  it('mounted by a click, answers it with the header and tabs first, and the pane in the frame after', async () => {
    history.replaceState(null, '', '/v-supercore/sessions');
    const fake = new FakeApi();
    const api = fake.client();
    const store = new SessionsStore({ api, changeFeed: () => NEVER });
    const host = await fixture<HTMLButtonElement>(html`<button type="button">Virtual Super PC</button>`);
    let el: VscApp | undefined;
    // What the click's next paint shows, read in the task after the click (before any frame).
    let firstFrame: { selected: string | null; pane: string } | undefined;
    host.addEventListener('click', () => {
      const app = document.createElement('vsc-app');
      Object.assign(app, { api, store, live: new LiveEvents({ api }) });
      document.body.append(app);
      el = app;
      setTimeout(() => {
        firstFrame = {
          selected: tab(app, 'sessions')?.getAttribute('aria-selected') ?? null,
          pane: panelChild(app),
        };
      }, 0);
    });
    // A real click (user activation), as on the shell's navigation link.
    host.focus();
    await sendKeys({ press: 'Enter' });
    await waitUntil(() => el && firstFrame);
    const app = el as VscApp;
    try {
      expect(firstFrame).to.deep.equal({ selected: 'true', pane: '' });
      await app.updateComplete;
      expect(panelChild(app)).to.equal('vsc-active-sessions');
    } finally {
      app.remove();
    }
  });

  it('moves between tabs with the arrow keys, Home and End', async () => {
    const { el } = await setup();
    tab(el, 'launch')?.focus();
    await sendKeys({ press: 'ArrowRight' });
    await el.updateComplete;
    expect(tab(el, 'sessions')?.getAttribute('aria-selected')).to.equal('true');
    await waitUntil(() => el.shadowRoot?.activeElement === tab(el, 'sessions'));
    await sendKeys({ press: 'End' });
    await waitUntil(() => el.shadowRoot?.activeElement === tab(el, 'settings'));
    await sendKeys({ press: 'ArrowRight' });
    await waitUntil(() => el.shadowRoot?.activeElement === tab(el, 'launch'), 'wraps around');
    await sendKeys({ press: 'ArrowLeft' });
    await waitUntil(() => el.shadowRoot?.activeElement === tab(el, 'settings'), 'wraps back');
    await sendKeys({ press: 'ArrowLeft' });
    await waitUntil(() => el.shadowRoot?.activeElement === tab(el, 'resources'));
    expect(location.pathname).to.equal('/v-supercore/resources');
    await sendKeys({ press: 'Home' });
    await waitUntil(() => el.shadowRoot?.activeElement === tab(el, 'launch'));
    expect(location.pathname).to.equal('/v-supercore');
  });

  it('follows popstate (back/forward)', async () => {
    const { el } = await setup();
    history.pushState(null, '', '/v-supercore/sessions');
    window.dispatchEvent(new PopStateEvent('popstate'));
    await el.updateComplete;
    expect(panelChild(el)).to.equal('vsc-active-sessions');
  });

  it('opens the viewer on vsc-open-session and returns to the list on vsc-close-viewer', async () => {
    const { el, fake, store, workers } = await setup('/v-supercore/sessions');
    const { sessionId } = fake.seed({ state: 'active' });
    await store.refresh();
    await el.updateComplete;
    const list = el.shadowRoot?.querySelector('vsc-active-sessions');
    await list?.updateComplete;
    list?.shadowRoot
      ?.querySelector<HTMLButtonElement>(`tr[data-session-id="${sessionId}"] [data-action="open"]`)
      ?.click();
    await el.updateComplete;
    expect(location.pathname).to.equal(`/v-supercore/sessions/${sessionId}`);
    const viewer = el.shadowRoot?.querySelector('vsc-viewer');
    expect(viewer?.sessionId).to.equal(sessionId);
    expect(viewer?.launching).to.equal(false);
    await waitUntil(() => workers[0]?.connected);
    viewer?.shadowRoot?.querySelector<HTMLButtonElement>('[data-action="back"]')?.click();
    await el.updateComplete;
    expect(location.pathname).to.equal('/v-supercore/sessions');
    expect(panelChild(el)).to.equal('vsc-active-sessions');
    await waitUntil(() => workers[0]?.terminated, 'leaving the viewer ends its worker');
  });

  it('hands a launched session to the viewer with the launch steps', async () => {
    const { el } = await setup();
    const launch = el.shadowRoot?.querySelector('vsc-quick-launch');
    await waitUntil(() => launch?.shadowRoot?.querySelector('.tier'));
    if (!launch) throw new Error('no quick launch');
    launch.selected = 'basic';
    await launch.updateComplete;
    await launch.launch();
    await el.updateComplete;
    const viewer = el.shadowRoot?.querySelector('vsc-viewer');
    expect(viewer?.launching).to.equal(true);
    expect(location.pathname).to.match(/^\/v-supercore\/sessions\/[0-9a-f-]+$/);
  });

  it('announces session changes in a live region and on the host event bus', async () => {
    const { el, fake, store, bus } = await setup('/v-supercore/sessions');
    const s = fake.seed({ state: 'active' });
    await store.refresh(); // first listing: the starting point, not announced
    const events: SessionChangedDetail[] = [];
    bus.addEventListener(SESSION_CHANGED_EVENT, (e) =>
      events.push((e as CustomEvent<SessionChangedDetail>).detail),
    );
    await store.pause(s.sessionId);
    await el.updateComplete;
    expect(events[0]).to.deep.equal({
      module: 'v-supercore',
      sessionId: s.sessionId,
      state: 'paused',
      previousState: 'active',
    });
    const live = [...(el.shadowRoot?.querySelectorAll('[aria-live="polite"]') ?? [])].at(-1);
    expect(live?.textContent).to.contain(`Session ${s.sessionId.slice(-8)} is now paused.`);
  });

  it('passes the theme down to the panes', async () => {
    const { el } = await setup();
    el.theme = 'dark';
    await el.updateComplete;
    expect(el.getAttribute('theme')).to.equal('dark');
    expect(el.shadowRoot?.querySelector('vsc-quick-launch')?.getAttribute('theme')).to.equal('dark');
    await waitUntil(() =>
      el.shadowRoot?.querySelector('vsc-quick-launch')?.shadowRoot?.querySelector('.tier'),
    );
    await expect(el).to.be.accessible();
  });

  it('lets the host override the design tokens', async () => {
    const { el } = await setup();
    el.style.setProperty('--vsc-color-accent', 'rgb(1, 2, 3)');
    const launch = el.shadowRoot?.querySelector('vsc-quick-launch');
    await waitUntil(() => launch?.shadowRoot?.querySelector('[data-action="launch"]'));
    const button = launch?.shadowRoot?.querySelector('[data-action="launch"]') as HTMLElement;
    expect(getComputedStyle(button).backgroundColor).to.equal('rgb(1, 2, 3)');
  });

  it('removes its listeners and subscriptions when disconnected', async () => {
    const { el, store } = await setup();
    await el.updateComplete;
    expect(store.observerCount).to.be.greaterThan(0);
    el.remove();
    expect(store.observerCount).to.equal(0);
    history.pushState(null, '', '/v-supercore/sessions');
    window.dispatchEvent(new PopStateEvent('popstate'));
    expect(el.currentRoute.view).to.equal('launch', 'popstate no longer handled');
  });
});

describe('<vsc-app> panes', () => {
  afterEach(() => history.replaceState(null, '', originalUrl));

  it('routes /v-supercore/resources and /v-supercore/settings, each pane accessible', async () => {
    const resources = await setup('/v-supercore/resources');
    expect(panelChild(resources.el)).to.equal('vsc-resource-monitor');
    expect(tab(resources.el, 'resources')?.getAttribute('aria-selected')).to.equal('true');
    await expect(resources.el).to.be.accessible();
    const settings = await setup('/v-supercore/settings');
    expect(panelChild(settings.el)).to.equal('vsc-settings');
    const pane = settings.el.shadowRoot?.querySelector('vsc-settings');
    await waitUntil(() => pane?.shadowRoot?.querySelector('form'), 'settings loaded');
    await expect(settings.el).to.be.accessible();
  });

  it('every tab is a URL, and the back button walks back through them', async () => {
    const { el } = await setup();
    for (const [id, path, pane] of [
      ['sessions', '/v-supercore/sessions', 'vsc-active-sessions'],
      ['resources', '/v-supercore/resources', 'vsc-resource-monitor'],
      ['settings', '/v-supercore/settings', 'vsc-settings'],
    ] as const) {
      tab(el, id)?.click();
      await el.updateComplete;
      expect(location.pathname).to.equal(path);
      expect(panelChild(el)).to.equal(pane);
    }
    history.back();
    await waitUntil(() => location.pathname === '/v-supercore/resources');
    await el.updateComplete;
    expect(panelChild(el)).to.equal('vsc-resource-monitor');
    history.back();
    await waitUntil(() => location.pathname === '/v-supercore/sessions');
    await el.updateComplete;
    expect(panelChild(el)).to.equal('vsc-active-sessions');
    expect(tab(el, 'sessions')?.getAttribute('aria-selected')).to.equal('true');
  });

  it('opens Active Sessions from Quick Launch’s quota error', async () => {
    const { el } = await setup();
    el.shadowRoot
      ?.querySelector('vsc-quick-launch')
      ?.dispatchEvent(
        new CustomEvent('vsc-navigate', { detail: { view: 'sessions' }, bubbles: true, composed: true }),
      );
    await el.updateComplete;
    expect(location.pathname).to.equal('/v-supercore/sessions');
  });
});

describe('routes', () => {
  it('parses and builds the pane paths', () => {
    expect(parseRoute('/v-supercore/resources')).to.deep.equal({ view: 'resources' });
    expect(parseRoute('/v-supercore/settings/')).to.deep.equal({ view: 'settings' });
    expect(parseRoute('/v-supercore/unknown')).to.deep.equal({ view: 'launch' });
    expect(routePath({ view: 'resources' })).to.equal('/v-supercore/resources');
    expect(routePath({ view: 'settings' }, '/apps/vsc')).to.equal('/apps/vsc/settings');
  });

  it('parses and builds the module paths', () => {
    expect(parseRoute('/v-supercore')).to.deep.equal({ view: 'launch' });
    expect(parseRoute('/v-supercore/')).to.deep.equal({ view: 'launch' });
    expect(parseRoute('/v-supercore/sessions')).to.deep.equal({ view: 'sessions' });
    expect(parseRoute('/v-supercore/sessions/a%20b')).to.deep.equal({ view: 'viewer', sessionId: 'a b' });
    expect(parseRoute('/v-supercore/sessions/a/extra')).to.deep.equal({ view: 'sessions' });
    expect(parseRoute('/elsewhere')).to.deep.equal({ view: 'launch' });
    expect(parseRoute('/v-supercorex/sessions')).to.deep.equal({ view: 'launch' });
    expect(parseRoute('/apps/vsc/sessions', '/apps/vsc/')).to.deep.equal({ view: 'sessions' });
    expect(routePath({ view: 'viewer', sessionId: 'a b' })).to.equal('/v-supercore/sessions/a%20b');
    expect(routePath({ view: 'launch' }, '/')).to.equal('/');
  });
});
