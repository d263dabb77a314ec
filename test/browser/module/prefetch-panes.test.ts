import { expect, waitUntil } from '@open-wc/testing';
import { mount, unmount, type LifecycleProps } from '../../../module/index.ts';
import { FAKE_BASE, FakeApi } from './support/fake-api.ts';

// Its own page (web-test-runner runs each file in one): no pane has been defined before this test.
describe('panes the user has not opened yet', () => {
  const realFetch = window.fetch;
  const originalUrl = location.href;
  afterEach(() => {
    window.fetch = realFetch;
    history.replaceState(null, '', originalUrl);
  });

  it('are downloaded and defined right after the mounted pane has painted, so a first tab switch need not wait', async () => {
    const fake = new FakeApi();
    window.fetch = (input: RequestInfo | URL, init?: RequestInit) =>
      String(input).startsWith(FAKE_BASE) ? fake.fetch(String(input), init ?? {}) : realFetch(input, init);
    const props: LifecycleProps = {
      name: 'v-supercore-prefetch',
      apiBase: FAKE_BASE,
      getToken: async () => 'token-alice',
    };
    history.replaceState(null, '', '/v-supercore/sessions');
    await mount(props);
    try {
      expect(customElements.get('vsc-active-sessions'), 'the pane on screen').to.not.equal(undefined);
      await waitUntil(
        () =>
          ['vsc-quick-launch', 'vsc-resource-monitor', 'vsc-settings'].every((t) => customElements.get(t)),
        'the other tabs are ready without being opened',
        { timeout: 5000 },
      );
      expect(
        customElements.get('vsc-viewer'),
        'the viewer (heavy, with its worker) waits for a session',
      ).to.equal(undefined);
    } finally {
      await unmount(props);
    }
  });
});
