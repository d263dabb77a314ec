import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import '../../../module/active-sessions/active-sessions.ts';
import '../../../module/workspaces/workspace-members.ts';
import type { VscActiveSessions } from '../../../module/active-sessions/active-sessions.component.ts';
import { LiveEvents } from '../../../module/api/live-events.ts';
import { SessionsStore, liveFeed } from '../../../module/state/sessions-store.ts';
import type { VscWorkspaceMembers } from '../../../module/workspaces/workspace-members.component.ts';
import type { Workspace, WorkspaceMember } from '../../../protocol/workspaces.ts';
import { FakeApi } from './support/fake-api.ts';

/** A token the API client can read the user id from (its `sub`), as a v-auth JWT carries it. */
const tokenOf = (userId: string): string => `h.${btoa(JSON.stringify({ sub: userId }))}.s`;

function member(userId: string, role: WorkspaceMember['role'], status: WorkspaceMember['status']) {
  const at = new Date().toISOString();
  return { userId, role, status, invitedAt: at, joinedAt: status === 'joined' ? at : null };
}

function workspaceOf(sessionId: string, members: WorkspaceMember[]): Workspace {
  const at = new Date().toISOString();
  return {
    workspaceId: 'ws-1',
    tenantId: 'tenant-a',
    name: 'Pairing',
    ownerId: 'alice',
    state: 'open',
    sessionIds: [sessionId],
    members,
    controllerId: null,
    createdAt: at,
    updatedAt: at,
    handshake: '55-45-17',
  };
}

/** Active Sessions as the owner alice sees it, with live events connected (polling then stays off). */
async function ownerPane(fake: FakeApi) {
  const alice = tokenOf('alice');
  fake.users.set(alice, 'alice');
  const api = fake.client(async () => alice);
  const live = new LiveEvents({ api });
  const store = new SessionsStore({ api, changeFeed: liveFeed(live) });
  const el = await fixture<VscActiveSessions>(
    html`<vsc-active-sessions .store=${store} .api=${api} .live=${live}></vsc-active-sessions>`,
  );
  await waitUntil(() => live.status$.value === 'open', 'live events connect');
  const members = (): VscWorkspaceMembers | null =>
    el.shadowRoot?.querySelector<VscWorkspaceMembers>('[data-shared-by-me] vsc-workspace-members') ?? null;
  await waitUntil(() => members()?.shadowRoot?.querySelector('li[data-user-id="bob"]'), 'members listed');
  const item = (userId: string): HTMLElement | null =>
    members()?.shadowRoot?.querySelector<HTMLElement>(`li[data-user-id="${userId}"]`) ?? null;
  const action = (userId: string, name: string): HTMLButtonElement | null =>
    item(userId)?.querySelector<HTMLButtonElement>(`button[data-action="${name}"]`) ?? null;
  const announced = (): string =>
    members()?.shadowRoot?.querySelector('[data-announcement]')?.textContent?.trim() ?? '';
  return { el, store, members, item, action, announced };
}

/** DELETE requests that would remove someone from a workspace. */
const deletes = (fake: FakeApi): number =>
  fake.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/workspaces/')).length;

describe('<vsc-workspace-members> in Active Sessions (the owner’s view of a shared session)', () => {
  it('lists each person with role, invitation state and control; the owner gives and takes control by keyboard', async () => {
    const fake = new FakeApi();
    const { sessionId } = fake.seed({ state: 'active' }, 'alice');
    fake.workspaces.push(
      workspaceOf(sessionId, [
        member('alice', 'owner', 'joined'),
        member('bob', 'participant', 'joined'),
        member('carol', 'observer', 'invited'),
      ]),
    );
    const pane = await ownerPane(fake);
    try {
      expect(pane.item('alice')?.textContent).to.contain('(you)').and.to.contain('Owner');
      expect(pane.item('bob')?.dataset['status']).to.equal('joined');
      expect(pane.item('carol')?.dataset['status']).to.equal('invited');
      expect(pane.item('carol')?.textContent).to.contain('Observer · invited');
      expect(pane.action('alice', 'remove-member'), 'the owner cannot remove themself').to.equal(null);
      expect(pane.action('carol', 'grant-control'), 'an observer is never given control').to.equal(null);
      expect(pane.action('carol', 'remove-member')?.getAttribute('aria-label')).to.equal(
        'Withdraw the invitation of carol',
      );
      await expect(pane.members()).to.be.accessible();

      const grant = pane.action('bob', 'grant-control');
      expect(grant?.getAttribute('aria-label')).to.equal('Give control to bob');
      grant?.focus();
      await sendKeys({ press: 'Enter' });
      await waitUntil(() => pane.item('bob')?.hasAttribute('data-has-control'), 'bob holds control');
      expect(fake.workspaces[0]?.controllerId).to.equal('bob');
      expect(pane.item('bob')?.textContent).to.contain('has control');
      expect(pane.announced()).to.equal('bob now has control of the desktop.');
      const revoke = pane.action('bob', 'revoke-control');
      expect(pane.members()?.shadowRoot?.activeElement, 'focus stays on bob’s control').to.equal(revoke);

      await sendKeys({ press: 'Space' });
      await waitUntil(() => !pane.item('bob')?.hasAttribute('data-has-control'), 'control taken back');
      expect(fake.workspaces[0]?.controllerId).to.equal(null);
      expect(pane.announced()).to.equal('You took control back from bob.');
      expect(pane.members()?.shadowRoot?.activeElement?.getAttribute('data-action')).to.equal(
        'grant-control',
      );
    } finally {
      pane.store.dispose();
    }
  });

  it('removes a participant after the owner confirms (their control goes with them), by keyboard alone', async () => {
    const fake = new FakeApi();
    const { sessionId } = fake.seed({ state: 'active' }, 'alice');
    fake.workspaces.push({
      ...workspaceOf(sessionId, [member('alice', 'owner', 'joined'), member('bob', 'participant', 'joined')]),
      controllerId: 'bob',
    });
    const pane = await ownerPane(fake);
    try {
      pane.action('bob', 'remove-member')?.focus();
      await sendKeys({ press: 'Enter' });
      await waitUntil(() => pane.action('bob', 'confirm-remove'), 'the question is asked');
      expect(deletes(fake)).to.equal(0, 'nothing is removed on the first press');
      expect(pane.members()?.shadowRoot?.activeElement?.getAttribute('data-action')).to.equal(
        'cancel-remove',
        'focus moves into the question, on the safe choice',
      );
      // Shift+Tab reaches Remove; Enter confirms.
      await sendKeys({ press: 'Shift+Tab' });
      expect(pane.members()?.shadowRoot?.activeElement?.getAttribute('data-action')).to.equal(
        'confirm-remove',
      );
      await sendKeys({ press: 'Enter' });
      await waitUntil(() => pane.item('bob') === null, 'bob is gone');
      expect(deletes(fake)).to.equal(1);
      expect(fake.workspaces[0]?.members.map((m) => m.userId)).to.deep.equal(['alice']);
      expect(fake.workspaces[0]?.controllerId).to.equal(null);
      expect(pane.announced()).to.equal('bob was removed from the workspace.');
      expect(pane.members()?.shadowRoot?.activeElement?.tagName).to.equal('UL');
    } finally {
      pane.store.dispose();
    }
  });

  it('asks before removing: Cancel and Escape keep the person and send nothing; it is accessible', async () => {
    const fake = new FakeApi();
    const { sessionId } = fake.seed({ state: 'active' }, 'alice');
    fake.workspaces.push(
      workspaceOf(sessionId, [
        member('alice', 'owner', 'joined'),
        member('bob', 'participant', 'joined'),
        member('carol', 'observer', 'invited'),
      ]),
    );
    const pane = await ownerPane(fake);
    try {
      pane.action('bob', 'remove-member')?.click();
      await waitUntil(() => pane.action('bob', 'confirm-remove'), 'the question is asked');
      const group = pane.item('bob')?.querySelector('[role="group"]');
      expect(group?.getAttribute('aria-label')).to.equal('Confirm removal of bob');
      expect(group?.textContent).to.contain('Remove bob from the workspace?');
      expect(pane.action('bob', 'remove-member'), 'the question replaces the buttons').to.equal(null);
      expect(pane.action('bob', 'grant-control')).to.equal(null);
      await expect(pane.members()).to.be.accessible();

      pane.action('bob', 'cancel-remove')?.click();
      await waitUntil(() => pane.action('bob', 'remove-member'), 'the question is gone');
      expect(pane.members()?.shadowRoot?.activeElement, 'focus back on Remove').to.equal(
        pane.action('bob', 'remove-member'),
      );

      await sendKeys({ press: 'Enter' });
      await waitUntil(() => pane.action('bob', 'cancel-remove'), 'asked again');
      await sendKeys({ press: 'Escape' });
      await waitUntil(() => pane.action('bob', 'remove-member'), 'Escape cancels');
      expect(pane.members()?.shadowRoot?.activeElement).to.equal(pane.action('bob', 'remove-member'));

      expect(deletes(fake)).to.equal(0, 'no request was sent');
      expect(fake.workspaces[0]?.members.map((m) => m.userId)).to.deep.equal(['alice', 'bob', 'carol']);
      expect(pane.item('bob')).not.to.equal(null);

      // An invitation is withdrawn the same way, in its own words.
      pane.action('carol', 'remove-member')?.click();
      await waitUntil(() => pane.action('carol', 'confirm-remove'));
      expect(pane.item('carol')?.querySelector('[role="group"]')?.getAttribute('aria-label')).to.equal(
        'Confirm withdrawing the invitation of carol',
      );
      expect(pane.action('carol', 'confirm-remove')?.textContent?.trim()).to.equal('Withdraw');
      pane.action('carol', 'confirm-remove')?.click();
      await waitUntil(() => pane.item('carol') === null, 'the invitation is withdrawn');
      expect(pane.announced()).to.equal('Invitation of carol withdrawn.');
      expect(deletes(fake)).to.equal(1);
    } finally {
      pane.store.dispose();
    }
  });

  it('a refused removal closes the question, says why and keeps the person', async () => {
    const fake = new FakeApi();
    const { sessionId } = fake.seed({ state: 'active' }, 'alice');
    fake.workspaces.push(
      workspaceOf(sessionId, [member('alice', 'owner', 'joined'), member('bob', 'participant', 'joined')]),
    );
    const pane = await ownerPane(fake);
    try {
      pane.action('bob', 'remove-member')?.click();
      await waitUntil(() => pane.action('bob', 'confirm-remove'));
      fake.failures.set(`/workspaces/ws-1/members/bob`, 'INTERNAL');
      pane.action('bob', 'confirm-remove')?.click();
      const alert = () => pane.members()?.shadowRoot?.querySelector('[role="alert"]');
      await waitUntil(() => alert(), 'the refusal is shown');
      expect(alert()?.textContent).to.contain("Could not change bob's access");
      expect(pane.item('bob')).not.to.equal(null);
      expect(pane.action('bob', 'remove-member'), 'Remove is back').not.to.equal(null);
      expect(pane.members()?.shadowRoot?.activeElement?.getAttribute('data-user-id')).to.equal('bob');
    } finally {
      pane.store.dispose();
    }
  });

  it('shows changes made elsewhere as they are pushed (an invitation accepted, control handed over)', async () => {
    const fake = new FakeApi();
    const { sessionId } = fake.seed({ state: 'active' }, 'alice');
    fake.workspaces.push(
      workspaceOf(sessionId, [member('alice', 'owner', 'joined'), member('bob', 'participant', 'invited')]),
    );
    const pane = await ownerPane(fake);
    try {
      expect(pane.action('bob', 'grant-control'), 'no control for a pending invitation').to.equal(null);
      const accepted = workspaceOf(sessionId, [
        member('alice', 'owner', 'joined'),
        member('bob', 'participant', 'joined'),
      ]);
      fake.workspaces[0] = { ...accepted, controllerId: 'bob' };
      fake.pushWorkspace(fake.workspaces[0]);
      // Pushed, not polled: well within the pane's polling period.
      await waitUntil(() => pane.item('bob')?.hasAttribute('data-has-control'), 'the push is shown', {
        timeout: 1000,
      });
      expect(pane.item('bob')?.dataset['status']).to.equal('joined');
      expect(pane.action('bob', 'revoke-control')).not.to.equal(null);

      // The workspace closes elsewhere: it leaves "Shared by me".
      fake.workspaces[0] = { ...fake.workspaces[0], state: 'closed' };
      fake.pushWorkspace(fake.workspaces[0]);
      await waitUntil(() => pane.members() === null, 'a closed workspace is no longer listed', {
        timeout: 1000,
      });
    } finally {
      pane.store.dispose();
    }
  });

  it('says why when the server refuses, and keeps the list as it was', async () => {
    const fake = new FakeApi();
    const { sessionId } = fake.seed({ state: 'active' }, 'alice');
    fake.workspaces.push(
      workspaceOf(sessionId, [member('alice', 'owner', 'joined'), member('bob', 'participant', 'joined')]),
    );
    const pane = await ownerPane(fake);
    try {
      // Bob left meanwhile, and the pane has not heard yet: the server refuses to give him control.
      const stored = fake.workspaces[0];
      if (stored) fake.workspaces[0] = { ...stored, members: stored.members.slice(0, 1) };
      pane.action('bob', 'grant-control')?.click();
      const alert = () => pane.members()?.shadowRoot?.querySelector('[role="alert"]');
      await waitUntil(() => alert(), 'the refusal is shown');
      expect(alert()?.textContent).to.contain("Could not change bob's access");
      expect(alert()?.textContent).to.contain('Only a joined participant can be given control.');
      expect(pane.item('bob')?.hasAttribute('data-has-control')).to.equal(false);
    } finally {
      pane.store.dispose();
    }
  });

  it('shows no owner controls to anyone but the owner', async () => {
    const fake = new FakeApi();
    const w = {
      ...workspaceOf('s-1', [member('alice', 'owner', 'joined'), member('bob', 'participant', 'joined')]),
      controllerId: 'bob',
    };
    const el = await fixture<VscWorkspaceMembers>(
      html`<vsc-workspace-members .api=${fake.client()} .workspace=${w} me="bob"></vsc-workspace-members>`,
    );
    expect(el.shadowRoot?.querySelectorAll('button').length).to.equal(0);
    expect(el.shadowRoot?.querySelector('li[data-user-id="bob"]')?.textContent).to.contain('(you)');
    expect(el.shadowRoot?.querySelector('li[data-user-id="bob"]')?.textContent).to.contain('has control');
    await expect(el).to.be.accessible();
  });
});
