import { expect, waitUntil } from '@open-wc/testing';
import { mountRootParcel, type Parcel } from 'single-spa';
import * as parcelLifecycles from '../../../module/session-parcel.ts';
import { mountedParcel } from '../../../module/session-parcel.ts';
import { WORKSPACE_REFRESH_MS } from '../../../module/session-parcel/session-parcel.component.ts';
import type { Workspace, WorkspaceMember } from '../../../protocol/workspaces.ts';
import { FAKE_BASE, FakeApi } from './support/fake-api.ts';
import { fakeWorkerFactory } from './support/fake-decoder-worker.ts';

/**
 * The session parcel's participant list follows `workspace.changed` live events: a change shows as soon as it is
 * pushed, nothing is polled while the event stream is open, and polling comes back only while it is down.
 */

/** A token the API client can read the user id from (its `sub`), as a v-auth JWT carries it. */
const tokenOf = (userId: string): string => `h.${btoa(JSON.stringify({ sub: userId }))}.s`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function member(userId: string, role: WorkspaceMember['role'], status: WorkspaceMember['status']) {
  const at = new Date().toISOString();
  return { userId, role, status, invitedAt: at, joinedAt: status === 'joined' ? at : null };
}

function workspaceOf(workspaceId: string, sessionId: string, members: WorkspaceMember[]): Workspace {
  const at = new Date().toISOString();
  return {
    workspaceId,
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

describe('./session-parcel follows workspace changes live', () => {
  let fake: FakeApi;
  let host: HTMLElement;
  let parcel: Parcel | undefined;
  const realFetch = window.fetch;

  beforeEach(() => {
    fake = new FakeApi();
    window.fetch = (input: RequestInfo | URL, init?: RequestInit) =>
      String(input).startsWith(FAKE_BASE) ? fake.fetch(String(input), init ?? {}) : realFetch(input, init);
    host = document.createElement('section');
    document.body.append(host);
  });

  afterEach(async () => {
    if (parcel && parcel.getStatus() === 'MOUNTED') await parcel.unmount();
    parcel = undefined;
    host.remove();
    window.fetch = realFetch;
  });

  /** Lets the reads started by a (re)connection finish (the open event stream is not in flight). */
  async function settled(): Promise<void> {
    await sleep(150);
    await waitUntil(() => fake.inFlight === 0, 'no request in flight');
  }

  /** Alice's session shared with bob; the parcel mounted as its owner, the workspace listed, the stream open. */
  async function mountShared() {
    const token = tokenOf('alice');
    fake.users.set(token, 'alice');
    const session = fake.seed({ state: 'active' }, 'alice');
    fake.workspaces.push(
      workspaceOf('ws-1', session.sessionId, [
        member('alice', 'owner', 'joined'),
        member('bob', 'participant', 'joined'),
      ]),
    );
    parcel = mountRootParcel(parcelLifecycles, {
      domElement: host,
      apiBase: FAKE_BASE,
      getToken: async () => token,
      sessionId: session.sessionId,
      role: 'owner',
      workerFactory: fakeWorkerFactory().factory,
    });
    await parcel.mountPromise;
    const el = mountedParcel(host);
    if (!el) throw new Error('not mounted');
    const item = (userId: string): HTMLElement | null =>
      el.shadowRoot
        ?.querySelector('vsc-workspace-members')
        ?.shadowRoot?.querySelector<HTMLElement>(`li[data-user-id="${userId}"]`) ?? null;
    await waitUntil(() => el.live?.status$.value === 'open', 'the event stream is open');
    await waitUntil(() => item('bob'), 'the participants are listed');
    await settled();
    const reads = (): number => fake.count('GET', '/workspaces');
    return { el, item, reads };
  }

  it('shows a pushed change at once, and reads nothing in between while the stream is open', async () => {
    const { item, reads } = await mountShared();
    const before = reads();
    await sleep(WORKSPACE_REFRESH_MS + 500);
    expect(reads()).to.equal(before, 'no polling while the stream is open');

    const stored = fake.workspaces[0] as Workspace;
    fake.workspaces[0] = { ...stored, controllerId: 'bob' };
    fake.pushWorkspace(fake.workspaces[0]);
    await waitUntil(() => item('bob')?.hasAttribute('data-has-control'), 'the push is shown', {
      timeout: 1000,
    });
    expect(reads()).to.equal(before + 1, 'one read, on the push');
    expect(item('bob')?.textContent).to.contain('has control');

    // A workspace about another session is not this parcel's business.
    const other = fake.seed({ state: 'active' }, 'alice');
    fake.workspaces.push(workspaceOf('ws-2', other.sessionId, [member('alice', 'owner', 'joined')]));
    fake.pushWorkspace(fake.workspaces[1] as Workspace);
    await sleep(300);
    expect(reads()).to.equal(before + 1, 'no read for an unrelated workspace');

    // The owner removes bob elsewhere (another tab): the parcel drops him as it is pushed.
    fake.workspaces[0] = {
      ...(fake.workspaces[0] as Workspace),
      members: [member('alice', 'owner', 'joined')],
    };
    fake.pushWorkspace(fake.workspaces[0], stored);
    await waitUntil(() => item('bob') === null, 'bob is gone', { timeout: 1000 });
  });

  it('polls while the stream is down, and stops again once it is back', async () => {
    const { el, item, reads } = await mountShared();
    el.workspaceRefreshMs = 150;
    fake.failures.set('/events', 'INTERNAL');
    fake.dropEventStreams();
    await waitUntil(() => el.live?.status$.value === 'down', 'the stream is down');

    // Changed without a push (none can arrive now): the timer finds it.
    const stored = fake.workspaces[0] as Workspace;
    fake.workspaces[0] = { ...stored, members: [...stored.members, member('carol', 'observer', 'invited')] };
    await waitUntil(() => item('carol'), 'the poll shows carol', { timeout: 2000 });
    const polling = reads();
    await sleep(500);
    expect(reads()).to.be.greaterThan(polling, 'still polling while down');

    fake.failures.delete('/events');
    await waitUntil(() => el.live?.status$.value === 'open', 'the stream is back', { timeout: 6000 });
    await settled();
    const reopened = reads();
    await sleep(600);
    expect(reads()).to.equal(reopened, 'polling stopped with the stream open');
  });
});
