import { expect, fixture, html, oneEvent, waitUntil } from '@open-wc/testing';
import { NEVER } from 'rxjs';
import '../../../module/active-sessions/active-sessions.ts';
import type { VscActiveSessions } from '../../../module/active-sessions/active-sessions.component.ts';
import type { OpenSessionDetail } from '../../../module/shared/events.ts';
import { SessionsStore } from '../../../module/state/sessions-store.ts';
import { FakeApi } from './support/fake-api.ts';

/** A token the API client can read the user id from (its `sub`), as a v-auth JWT carries it. */
const tokenOf = (userId: string): string => `h.${btoa(JSON.stringify({ sub: userId }))}.s`;

describe('<vsc-active-sessions> shared with me', () => {
  it('a participant with no session of their own still sees, accepts and opens what was shared', async () => {
    const fake = new FakeApi();
    const { sessionId } = fake.seed({ state: 'active' }, 'alice');
    const bob = tokenOf('bob');
    fake.users.set(bob, 'bob');
    const at = new Date().toISOString();
    fake.workspaces.push({
      workspaceId: 'ws-1',
      tenantId: 'tenant-a',
      name: 'Pairing',
      ownerId: 'alice',
      state: 'open',
      sessionIds: [sessionId],
      members: [
        { userId: 'alice', role: 'owner', status: 'joined', invitedAt: at, joinedAt: at },
        { userId: 'bob', role: 'participant', status: 'joined', invitedAt: at, joinedAt: at },
      ],
      controllerId: null,
      createdAt: at,
      updatedAt: at,
      handshake: '55-45-17',
    });
    const api = fake.client(async () => bob);
    const store = new SessionsStore({ api, changeFeed: () => NEVER });
    await store.refresh();
    const el = await fixture<VscActiveSessions>(
      html`<vsc-active-sessions .store=${store} .api=${api}></vsc-active-sessions>`,
    );
    const open = (): HTMLButtonElement | null =>
      el.shadowRoot?.querySelector<HTMLButtonElement>(
        `[data-shared-with-me] [data-action="open-shared"][data-session-id="${sessionId}"]`,
      ) ?? null;
    await waitUntil(() => open() !== null, 'the shared session is listed beside the empty state');
    expect(el.shadowRoot?.querySelector('[data-action="quick-launch"]')).not.to.equal(null);
    setTimeout(() => open()?.click());
    const event = (await oneEvent(el, 'vsc-open-session')) as CustomEvent<OpenSessionDetail>;
    expect(event.detail.sessionId).to.equal(sessionId);
  });
});
