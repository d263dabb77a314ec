import { expect, fixture, html, oneEvent, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import { NEVER } from 'rxjs';
import '../../../module/active-sessions/active-sessions.ts';
import {
  FIRST_FRAME_ROWS,
  type VscActiveSessions,
} from '../../../module/active-sessions/active-sessions.component.ts';
import type { NavigateDetail, OpenSessionDetail } from '../../../module/shared/events.ts';
import { LiveEvents } from '../../../module/api/live-events.ts';
import { SessionsStore, liveFeed } from '../../../module/state/sessions-store.ts';
import { FakeApi } from './support/fake-api.ts';

async function setup(
  fake = new FakeApi(),
  refresh = true,
): Promise<{ el: VscActiveSessions; store: SessionsStore }> {
  const api = fake.client();
  const store = new SessionsStore({ api, changeFeed: () => NEVER });
  if (refresh) await store.refresh();
  const el = await fixture<VscActiveSessions>(
    html`<vsc-active-sessions .store=${store} .api=${api}></vsc-active-sessions>`,
  );
  return { el, store };
}

const minutesAgo = (m: number): string => new Date(Date.now() - m * 60_000).toISOString();

const row = (el: VscActiveSessions, id: string): HTMLElement | null =>
  el.shadowRoot?.querySelector<HTMLElement>(`tr[data-session-id="${id}"]`) ?? null;

const actions = (el: VscActiveSessions, id: string): string[] =>
  [...(row(el, id)?.querySelectorAll<HTMLButtonElement>('button[data-action]') ?? [])].map(
    (b) => b.dataset['action'] ?? '',
  );

const button = (el: VscActiveSessions, id: string, action: string): HTMLButtonElement | null =>
  row(el, id)?.querySelector<HTMLButtonElement>(`button[data-action="${action}"]`) ?? null;

describe('<vsc-active-sessions>', () => {
  it('shows a loading state until the first list arrives', async () => {
    const { el, store } = await setup(new FakeApi(), false);
    expect(el.shadowRoot?.querySelector('[role="status"]')?.textContent).to.contain('Loading sessions');
    await store.refresh();
    await el.updateComplete;
    expect(el.shadowRoot?.textContent).to.contain('You have no running sessions.');
  });

  it('shows the empty state with a way to Quick Launch', async () => {
    const { el } = await setup();
    const navigate = oneEvent(el, 'vsc-navigate') as Promise<CustomEvent<NavigateDetail>>;
    el.shadowRoot?.querySelector<HTMLButtonElement>('[data-action="quick-launch"]')?.click();
    expect((await navigate).detail.view).to.equal('launch');
    await expect(el).to.be.accessible();
  });

  it('lists sessions with short id, tier, state badge and created time, and the actions each state allows', async () => {
    const fake = new FakeApi();
    const active = fake.seed({ state: 'active', tier: 'gpu' });
    const paused = fake.seed({ state: 'paused' });
    const failed = fake.seed({ state: 'failed', failureReason: 'Xvnc exited' });
    const provisioning = fake.seed({ state: 'provisioning' });
    const terminated = fake.seed({ state: 'terminated' });
    const { el } = await setup(fake);

    const cells = row(el, active.sessionId)?.querySelectorAll('th, td') ?? [];
    expect(cells[0]?.textContent?.trim()).to.equal(active.sessionId.slice(-8));
    expect(cells[1]?.classList.contains('thumb')).to.equal(true, 'the desktop’s thumbnail beside its id');
    expect(cells[2]?.textContent?.trim()).to.equal('gpu');
    expect(cells[3]?.querySelector('.badge')?.textContent?.trim()).to.equal('Active');
    expect(cells[4]?.querySelector('time')?.getAttribute('datetime')).to.equal(active.createdAt);

    expect(actions(el, active.sessionId)).to.deep.equal([
      'open',
      'pause',
      'change-tier',
      'share',
      'terminate',
    ]);
    expect(actions(el, paused.sessionId)).to.deep.equal(['resume', 'change-tier', 'share', 'terminate']);
    expect(actions(el, failed.sessionId)).to.deep.equal(['terminate']);
    expect(actions(el, provisioning.sessionId)).to.deep.equal(['terminate']);
    expect(row(el, failed.sessionId)?.textContent).to.contain('Xvnc exited');
    expect(row(el, terminated.sessionId)).to.equal(null, 'terminated sessions are hidden by default');

    el.showEnded = true;
    await el.updateComplete;
    expect(actions(el, terminated.sessionId)).to.deep.equal([]);
    await expect(el).to.be.accessible();
  });

  it('Open dispatches vsc-open-session with the session id', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active' });
    const { el } = await setup(fake);
    const opened = oneEvent(el, 'vsc-open-session') as Promise<CustomEvent<OpenSessionDetail>>;
    button(el, s.sessionId, 'open')?.click();
    const event = await opened;
    expect(event.detail.sessionId).to.equal(s.sessionId);
    expect(event.composed).to.equal(true);
  });

  it('Pause and Resume call the API and the row follows the new state', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active' });
    const { el } = await setup(fake);
    button(el, s.sessionId, 'pause')?.click();
    await waitUntil(() => row(el, s.sessionId)?.dataset['state'] === 'paused');
    expect(fake.count('POST', `/sessions/${s.sessionId}/pause`)).to.equal(1);
    button(el, s.sessionId, 'resume')?.click();
    await waitUntil(() => row(el, s.sessionId)?.dataset['state'] === 'active');
    expect(fake.count('POST', `/sessions/${s.sessionId}/resume`)).to.equal(1);
  });

  it('Terminate asks for confirmation in the row; Cancel (or Escape) keeps the session', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active' });
    const { el } = await setup(fake);
    button(el, s.sessionId, 'terminate')?.click();
    await el.updateComplete;
    expect(actions(el, s.sessionId)).to.deep.equal(['confirm-terminate', 'cancel-terminate']);
    expect(el.shadowRoot?.activeElement?.getAttribute('data-action')).to.equal('cancel-terminate');
    await expect(el).to.be.accessible();
    await sendKeys({ press: 'Escape' });
    await waitUntil(() => button(el, s.sessionId, 'terminate'));
    await el.updateComplete;
    expect(el.shadowRoot?.activeElement?.getAttribute('data-action')).to.equal('terminate', 'focus returns');
    button(el, s.sessionId, 'terminate')?.click();
    await el.updateComplete;
    button(el, s.sessionId, 'cancel-terminate')?.click();
    await el.updateComplete;
    expect(fake.count('DELETE', `/sessions/${s.sessionId}`)).to.equal(0);
  });

  it('Confirm terminates the session (DELETE) and it leaves the list', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'paused' });
    const { el } = await setup(fake);
    button(el, s.sessionId, 'terminate')?.click();
    await el.updateComplete;
    button(el, s.sessionId, 'confirm-terminate')?.click();
    await waitUntil(() => row(el, s.sessionId) === null);
    expect(fake.count('DELETE', `/sessions/${s.sessionId}`)).to.equal(1);
    expect(fake.sessions.get(s.sessionId)?.state).to.equal('terminated');
  });

  it('shows an action error with its code (stale list → ILLEGAL_TRANSITION)', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active' });
    const { el } = await setup(fake);
    fake.set(s, 'paused'); // changed elsewhere; our list still says active
    button(el, s.sessionId, 'pause')?.click();
    await waitUntil(() => el.shadowRoot?.querySelector('[role="alert"]'));
    const alert = el.shadowRoot?.querySelector('[role="alert"]');
    expect(alert?.getAttribute('data-code')).to.equal('ILLEGAL_TRANSITION');
    expect(alert?.textContent).to.contain('A paused session cannot pause.');
    await waitUntil(() => row(el, s.sessionId)?.dataset['state'] === 'paused', 'the list refreshes');
    await expect(el).to.be.accessible();
  });

  it('shows a list error with Retry', async () => {
    const fake = new FakeApi();
    fake.failures.set('/sessions', 'AUTH_INVALID');
    const { el, store } = await setup(fake);
    await el.updateComplete;
    const alert = el.shadowRoot?.querySelector('[role="alert"]');
    expect(alert?.getAttribute('data-code')).to.equal('AUTH_INVALID');
    await expect(el).to.be.accessible();
    fake.failures.clear();
    fake.seed({ state: 'active' });
    el.shadowRoot?.querySelector<HTMLButtonElement>('[data-action="retry"]')?.click();
    await waitUntil(() => store.value.sessions.length === 1);
    await el.updateComplete;
    expect(el.shadowRoot?.querySelector('[role="alert"]')).to.equal(null);
  });

  it('releases its store subscription when removed', async () => {
    const { el, store } = await setup();
    expect(store.observerCount).to.equal(1);
    el.remove();
    expect(store.observerCount).to.equal(0);
  });

  it('is accessible in the dark theme', async () => {
    const fake = new FakeApi();
    fake.seed({ state: 'active' });
    fake.seed({ state: 'failed', failureReason: 'boom' });
    fake.seed({ state: 'paused' });
    const { el } = await setup(fake);
    el.theme = 'dark';
    await el.updateComplete;
    await expect(el).to.be.accessible();
  });
  it('shows uptime and the server’s cost so far (a dash until the server gives one)', async () => {
    const fake = new FakeApi();
    const running = fake.seed({
      state: 'active',
      tier: 'standard',
      createdAt: minutesAgo(90),
      costSoFarMicroNexCoin: 1_500_000,
    });
    const paused = fake.seed({
      state: 'paused',
      tier: 'gpu',
      createdAt: minutesAgo(120),
      canonTimestamp: minutesAgo(100),
      costSoFarMicroNexCoin: 4_000_000, // founding price: less than the list rate × time
    });
    const starting = fake.seed({ state: 'provisioning', createdAt: minutesAgo(0) });
    const { el } = await setup(fake);
    const cell = (id: string, cls: string): string =>
      row(el, id)?.querySelector(`.${cls}`)?.textContent?.trim() ?? '';
    expect(cell(running.sessionId, 'uptime')).to.match(/^1 h 3\d min$/);
    expect(
      row(el, running.sessionId)?.querySelector('[data-micro-nexcoin]')?.getAttribute('data-micro-nexcoin'),
    ).to.equal('1500000');
    expect(cell(running.sessionId, 'cost')).to.equal('1.50 NexCoin');
    expect(cell(paused.sessionId, 'uptime')).to.equal('20 min 00 s', 'a paused session stops at its pause');
    expect(cell(paused.sessionId, 'cost')).to.equal('4 NexCoin', 'the server’s figure, not an estimate');
    expect(cell(starting.sessionId, 'uptime')).to.equal('Starting');
    expect(cell(starting.sessionId, 'cost')).to.equal('—');
  });

  it('moves the cost so far when the server pushes it (session.cost), keeping it across state changes', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active', costSoFarMicroNexCoin: 100_000 });
    const api = fake.client();
    const live = new LiveEvents({ api });
    const store = new SessionsStore({ api, changeFeed: liveFeed(live) });
    const el = await fixture<VscActiveSessions>(
      html`<vsc-active-sessions .store=${store} .api=${api}></vsc-active-sessions>`,
    );
    const cost = (): string => row(el, s.sessionId)?.querySelector('.cost')?.textContent?.trim() ?? '';
    await waitUntil(() => cost() === '0.10 NexCoin', 'the listed cost');
    await waitUntil(() => fake.eventStreams.size > 0, 'the live stream is open');
    fake.pushCost(s.sessionId, 116_667);
    await waitUntil(() => cost() === '0.116667 NexCoin', 'the pushed cost');
    // A state change pushed without a cost (e.g. billing not attached to that event) keeps the last one.
    const current = fake.sessions.get(s.sessionId);
    if (!current) throw new Error('no session');
    const { costSoFarMicroNexCoin: _dropped, ...withoutCost } = current;
    fake.sessions.set(s.sessionId, withoutCost);
    fake.set(withoutCost, 'paused');
    await waitUntil(() => row(el, s.sessionId)?.dataset['state'] === 'paused', 'the pause arrives');
    expect(cost()).to.equal('0.116667 NexCoin');
    store.dispose();
  });

  it('draws a long list in two steps: the first rows in the frame of the interaction, the rest right after', async () => {
    const fake = new FakeApi();
    for (let i = 0; i < 50; i++) fake.seed({ state: i % 2 ? 'terminated' : 'failed', failureReason: 'gone' });
    const { el } = await setup(fake);
    const rows = (): number => el.shadowRoot?.querySelectorAll('tbody tr').length ?? 0;
    await waitUntil(() => rows() === 25, 'every failed session is listed');
    const toggle = el.shadowRoot?.querySelector<HTMLInputElement>('[data-action="show-ended"]');
    toggle?.click();
    await el.updateComplete;
    expect(rows()).to.equal(FIRST_FRAME_ROWS, 'the first rows in the same frame');
    await waitUntil(() => rows() === 50, 'the rest follow');
    await expect(el).to.be.accessible();
  });

  it('ticks the uptime while a session runs', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active', createdAt: new Date(Date.now() - 3000).toISOString() });
    const { el } = await setup(fake);
    const text = (): string => row(el, s.sessionId)?.querySelector('.uptime')?.textContent?.trim() ?? '';
    const first = text();
    expect(first).to.match(/^\d s$/);
    await waitUntil(() => text() !== first, 'the clock moves', { timeout: 2500 });
  });

  it('Share opens an invite form that creates a workspace for the session and announces the invitation', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active' });
    const { el } = await setup(fake);
    const share = button(el, s.sessionId, 'share');
    expect(share?.getAttribute('aria-disabled')).to.equal(null);
    share?.focus();
    await sendKeys({ press: 'Enter' });
    await el.updateComplete;
    expect(share?.getAttribute('aria-expanded')).to.equal('true');
    const form = el.shadowRoot?.querySelector<HTMLFormElement>(`form[data-share-for="${s.sessionId}"]`);
    expect(form, 'the share form').to.not.equal(null);
    const input = form?.querySelector<HTMLInputElement>('[data-field="invite-user"]');
    const role = form?.querySelector<HTMLSelectElement>('[data-field="invite-role"]');
    if (!input || !role) throw new Error('the share form has no fields');
    input.value = 'bob';
    role.value = 'observer';
    await expect(el).to.be.accessible();
    form?.querySelector<HTMLButtonElement>('[data-action="send-invite"]')?.click();
    await waitUntil(
      () => el.shadowRoot?.querySelector('[aria-live="polite"]')?.textContent === 'Invited bob as observer.',
    );
    const created = fake.requests.find((r) => r.method === 'POST' && r.path === '/workspaces');
    expect(created?.body).to.deep.equal({
      name: `Session ${s.sessionId.slice(-8)}`,
      sessionIds: [s.sessionId],
      invite: [{ userId: 'bob', role: 'observer' }],
    });
    expect(fake.workspaces[0]?.members.map((m) => [m.userId, m.role, m.status])).to.deep.equal([
      ['alice', 'owner', 'joined'],
      ['bob', 'observer', 'invited'],
    ]);
  });

  it('follows the server’s pushes (no polling per row) and says whether updates are live', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active' });
    const api = fake.client();
    const live = new LiveEvents({ api, initialBackoffMs: 20, maxBackoffMs: 40 });
    const store = new SessionsStore({ api, changeFeed: liveFeed(live, 40) });
    const el = await fixture<VscActiveSessions>(
      html`<vsc-active-sessions .store=${store} .api=${api}></vsc-active-sessions>`,
    );
    await waitUntil(() => el.shadowRoot?.querySelector('.live[data-live="on"]'), 'live');
    const lists = fake.count('GET', '/sessions');
    fake.set(s, 'paused');
    await waitUntil(() => row(el, s.sessionId)?.dataset['state'] === 'paused', 'pushed');
    expect(fake.count('GET', '/sessions')).to.equal(lists, 'no list request for a pushed change');
    expect(fake.requests.some((r) => r.method === 'GET' && r.path === `/sessions/${s.sessionId}`)).to.equal(
      false,
    );
    fake.failures.set('/events', 'INTERNAL');
    fake.dropEventStreams();
    await waitUntil(() => el.shadowRoot?.querySelector('.live[data-live="off"]'), 'down');
    expect(el.shadowRoot?.querySelector('.live')?.textContent).to.contain('Reconnecting');
    await expect(el).to.be.accessible();
    el.remove();
    store.dispose();
  });

  it('is operable with the keyboard: Tab to a row’s actions, Enter/Space act, Escape cancels', async () => {
    const fake = new FakeApi();
    const s = fake.seed({ state: 'active' });
    const { el } = await setup(fake);
    el.shadowRoot?.querySelector<HTMLInputElement>('[data-action="show-ended"]')?.focus();
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await sendKeys({ press: 'Tab' });
      order.push(el.shadowRoot?.activeElement?.getAttribute('data-action') ?? '');
    }
    expect(order).to.deep.equal(['refresh', 'open', 'pause', 'change-tier', 'share', 'terminate']);
    button(el, s.sessionId, 'pause')?.focus();
    await sendKeys({ press: 'Space' });
    await waitUntil(() => row(el, s.sessionId)?.dataset['state'] === 'paused');
    button(el, s.sessionId, 'terminate')?.focus();
    await sendKeys({ press: 'Enter' });
    await el.updateComplete;
    expect(el.shadowRoot?.activeElement?.getAttribute('data-action')).to.equal('cancel-terminate');
    await sendKeys({ press: 'Escape' });
    await waitUntil(() => el.shadowRoot?.activeElement?.getAttribute('data-action') === 'terminate');
  });
});
