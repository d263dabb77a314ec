import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { NEVER } from 'rxjs';
import '../../../module/active-sessions/active-sessions.ts';
import type { VscActiveSessions } from '../../../module/active-sessions/active-sessions.component.ts';
import { SessionThumbnails } from '../../../module/active-sessions/session-thumbnails.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FakeApi } from './support/fake-api.ts';

const box = (el: VscActiveSessions, id: string): HTMLElement | null =>
  el.shadowRoot?.querySelector<HTMLElement>(`tr[data-session-id="${id}"] .thumb-box`) ?? null;

describe('<vsc-active-sessions> live thumbnails', () => {
  it('shows each live desktop’s picture, a paused one’s last picture with a badge, none for ended ones', async () => {
    const fake = new FakeApi();
    const live = fake.seed({ state: 'active' });
    const paused = fake.seed({ state: 'active' });
    const ended = fake.seed({ state: 'terminated' });
    const api = fake.client();
    const store = new SessionsStore({ api, changeFeed: () => NEVER });
    await store.refresh();
    const el = await fixture<VscActiveSessions>(
      html`<vsc-active-sessions .store=${store} .api=${api} show-ended></vsc-active-sessions>`,
    );
    await waitUntil(() => box(el, live.sessionId)?.dataset['thumbnail'] === 'live', 'the live picture');
    await waitUntil(() => box(el, paused.sessionId)?.dataset['thumbnail'] === 'live');
    const img = box(el, live.sessionId)?.querySelector('img');
    await waitUntil(() => img?.complete && img.naturalWidth === 1, 'the picture decodes');
    expect(img?.getAttribute('alt')).to.match(/^Desktop of session /);
    expect(box(el, ended.sessionId)?.dataset['thumbnail']).to.equal('none');
    expect(fake.thumbnailsTaken.has(ended.sessionId)).to.equal(false, 'an ended session is not asked');

    await store.pause(paused.sessionId);
    await waitUntil(() => box(el, paused.sessionId)?.dataset['thumbnail'] === 'paused', 'marked paused');
    expect(box(el, paused.sessionId)?.querySelector('.thumb-badge')?.textContent).to.equal('Paused');
    expect(box(el, paused.sessionId)?.querySelector('img')?.getAttribute('alt')).to.contain(
      'last picture before the pause',
    );
    await store.terminate(paused.sessionId);
    await waitUntil(() => box(el, paused.sessionId)?.dataset['thumbnail'] === 'none', 'dropped once ended');
    await expect(el).to.be.accessible();
    store.dispose();
  });

  it('refreshes live pictures on a timer without a stream per row, and stops on dispose', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active' });
    const p = fake.seed({ state: 'paused' });
    let changes = 0;
    const thumbnails = new SessionThumbnails(fake.client(), () => changes++, { refreshMs: 50 });
    thumbnails.sync([...fake.sessions.values()]);
    await waitUntil(() => (fake.thumbnailsTaken.get(s.sessionId) ?? 0) >= 3, 'refreshed every 50 ms');
    // A paused session without an earlier picture is asked once (404) and not again.
    expect(fake.requests.filter((r) => r.path === `/sessions/${p.sessionId}/thumbnail`).length).to.equal(1);
    expect(thumbnails.get(p.sessionId)).to.equal(undefined);
    expect(fake.eventStreams.size).to.equal(0);
    const url = thumbnails.get(s.sessionId)?.url ?? '';
    expect(url).to.match(/^blob:/);
    thumbnails.dispose();
    const taken = fake.thumbnailsTaken.get(s.sessionId);
    await new Promise((r) => setTimeout(r, 150));
    expect(fake.thumbnailsTaken.get(s.sessionId)).to.equal(taken, 'no request after dispose');
    expect(thumbnails.get(s.sessionId)).to.equal(undefined);
    expect(changes).to.be.greaterThan(0);
  });
});
