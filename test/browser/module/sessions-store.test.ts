import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { LitElement } from 'lit';
import { Subject } from 'rxjs';
import {
  SessionsStore,
  diffSessions,
  pollingFeed,
  type SessionsState,
} from '../../../module/state/sessions-store.ts';
import { StoreController } from '../../../module/state/store-controller.ts';
import { ApiError } from '../../../module/api/api-client.ts';
import { FakeApi } from './support/fake-api.ts';

/** A change feed the test drives by hand. */
function manualFeed(): { feed: () => Subject<void>; subscribed: () => boolean; subject: Subject<void> } {
  const subject = new Subject<void>();
  return { subject, feed: () => subject, subscribed: () => subject.observed };
}

describe('SessionsStore', () => {
  let fake: FakeApi;

  beforeEach(() => {
    fake = new FakeApi();
  });

  it('starts with an empty, idle state', () => {
    const store = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed });
    expect(store.value).to.deep.equal({
      sessions: [],
      loading: false,
      error: null,
      updatedAt: null,
      live: false,
    });
  });

  it('refresh() lists the sessions newest first and marks loading while in flight', async () => {
    const older = fake.seed({ state: 'paused' });
    const newer = fake.seed({ state: 'active' });
    const store = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed });
    const seen: SessionsState[] = [];
    const sub = store.state$.subscribe((s) => seen.push(s));
    await store.refresh();
    sub.unsubscribe();
    expect(seen.some((s) => s.loading)).to.equal(true);
    expect(store.value.loading).to.equal(false);
    expect(store.value.sessions.map((s) => s.sessionId)).to.deep.equal([newer.sessionId, older.sessionId]);
    expect(store.value.updatedAt).to.be.a('number');
  });

  it('keeps the last list and records the error when a refresh fails, then clears it', async () => {
    fake.seed({ state: 'active' });
    const store = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed });
    await store.refresh();
    fake.failures.set('/sessions', 'INTERNAL');
    await store.refresh();
    expect(store.value.error).to.be.instanceOf(ApiError);
    expect(store.value.error?.code).to.equal('INTERNAL');
    expect(store.value.sessions).to.have.length(1);
    fake.failures.clear();
    await store.refresh();
    expect(store.value.error).to.equal(null);
  });

  it('actions call the API, update the session at once, then refresh', async () => {
    const { sessionId } = fake.seed({ state: 'active' });
    const store = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed });
    await store.refresh();
    const before = fake.count('GET', '/sessions');
    const paused = await store.pause(sessionId);
    expect(paused?.state).to.equal('paused');
    expect(store.find(sessionId)?.state).to.equal('paused');
    await waitUntil(() => fake.count('GET', '/sessions') === before + 1, 'refreshes after the action');
    await store.resume(sessionId);
    await store.terminate(sessionId);
    expect(store.find(sessionId)?.state).to.equal('terminated');
  });

  it('a rejected action rejects with the ApiError and still refreshes', async () => {
    const { sessionId } = fake.seed({ state: 'paused' });
    const store = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed });
    try {
      await store.pause(sessionId);
      expect.fail('should reject');
    } catch (error) {
      expect((error as ApiError).code).to.equal('ILLEGAL_TRANSITION');
    }
    await waitUntil(() => fake.count('GET', '/sessions') === 1);
  });

  it('create() adds the new session to the list', async () => {
    const store = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed });
    const session = await store.create('basic');
    expect(store.find(session.sessionId)?.state).to.equal('active');
  });

  it('waitForSession() polls one session until the predicate holds', async () => {
    fake.asyncCreate = true;
    fake.pollsToActive = 3;
    const store = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed, waitIntervalMs: 5 });
    const created = await store.create('standard');
    expect(created.state).to.equal('provisioning');
    const active = await store.waitForSession(created.sessionId, (s) => s.state === 'active');
    expect(active.state).to.equal('active');
    expect(fake.count('GET', `/sessions/${created.sessionId}`)).to.equal(3);
    expect(store.find(created.sessionId)?.state).to.equal('active');
  });

  it('waitForSession() stops on abort', async () => {
    fake.asyncCreate = true;
    fake.pollsToActive = 1000;
    const store = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed, waitIntervalMs: 5 });
    const created = await store.create('standard');
    const controller = new AbortController();
    const waiting = store.waitForSession(created.sessionId, () => false, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    try {
      await waiting;
      expect.fail('should reject');
    } catch (error) {
      expect((error as DOMException).name).to.equal('AbortError');
    }
  });

  it('runs the change feed only while observed, and counts observers', async () => {
    const manual = manualFeed();
    const store = new SessionsStore({ api: fake.client(), changeFeed: manual.feed });
    expect(manual.subscribed()).to.equal(false);
    const a = store.state$.subscribe();
    const b = store.state$.subscribe();
    expect(store.observerCount).to.equal(2);
    expect(manual.subscribed()).to.equal(true, 'one shared feed');
    a.unsubscribe();
    expect(manual.subscribed()).to.equal(true);
    b.unsubscribe();
    expect(store.observerCount).to.equal(0);
    expect(manual.subscribed()).to.equal(false);
  });

  it('polls every period while observed (default feed), and stops when the last observer leaves', async () => {
    fake.seed({ state: 'active' });
    const store = new SessionsStore({ api: fake.client(), changeFeed: pollingFeed(20) });
    const sub = store.state$.subscribe();
    await waitUntil(() => fake.count('GET', '/sessions') >= 3, 'polls', { timeout: 2000 });
    sub.unsubscribe();
    const after = fake.count('GET', '/sessions');
    await new Promise((r) => setTimeout(r, 80));
    expect(fake.count('GET', '/sessions')).to.be.at.most(after + 1);
  });

  it('dispose() completes observers, stops the feed and ignores later calls', async () => {
    const manual = manualFeed();
    const store = new SessionsStore({ api: fake.client(), changeFeed: manual.feed });
    let completed = false;
    store.state$.subscribe({ complete: () => (completed = true) });
    store.dispose();
    expect(completed).to.equal(true);
    expect(store.observerCount).to.equal(0);
    expect(manual.subscribed()).to.equal(false);
    await store.refresh();
    expect(fake.requests).to.have.length(0);
  });

  it('diffSessions() reports new sessions and state changes', () => {
    const a = fake.seed({ state: 'active' });
    const b = fake.seed({ state: 'paused' });
    const changes = diffSessions([a], [{ ...a, state: 'pausing' }, b]);
    expect(changes.map((c) => [c.sessionId, c.previousState, c.state])).to.deep.equal([
      [a.sessionId, 'active', 'pausing'],
      [b.sessionId, null, 'paused'],
    ]);
    expect(diffSessions([a, b], [a, b])).to.deep.equal([]);
  });
});

class StoreHost extends LitElement {
  store?: SessionsStore;
  readonly controller = new StoreController<SessionsState>(this, () => this.store?.state$);
  override render(): string {
    return `${this.controller.value?.sessions.length ?? '-'}`;
  }
}
customElements.define('test-store-host', StoreHost);

describe('StoreController', () => {
  it('subscribes on connect, renders values and unsubscribes on disconnect', async () => {
    const fake = new FakeApi();
    fake.seed({ state: 'active' });
    const store = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed });
    const el = document.createElement('test-store-host') as StoreHost;
    el.store = store;
    const parent = await fixture(html`<div></div>`);
    parent.append(el);
    await el.updateComplete;
    expect(store.observerCount).to.equal(1);
    expect(el.controller.subscribed).to.equal(true);
    await store.refresh();
    await el.updateComplete;
    expect(el.shadowRoot?.textContent).to.equal('1');
    el.remove();
    expect(store.observerCount).to.equal(0);
    expect(el.controller.subscribed).to.equal(false);
    parent.append(el);
    await el.updateComplete;
    expect(store.observerCount).to.equal(1, 'resubscribes when reattached');
    el.remove();
    expect(store.observerCount).to.equal(0);
  });

  it('switches to a new source when the store is replaced', async () => {
    const fake = new FakeApi();
    const first = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed });
    const second = new SessionsStore({ api: fake.client(), changeFeed: manualFeed().feed });
    const el = document.createElement('test-store-host') as StoreHost;
    el.store = first;
    const parent = await fixture(html`<div></div>`);
    parent.append(el);
    await el.updateComplete;
    el.store = second;
    el.requestUpdate();
    await el.updateComplete;
    expect(first.observerCount).to.equal(0);
    expect(second.observerCount).to.equal(1);
    el.remove();
    expect(second.observerCount).to.equal(0);
  });
});
