import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ErrorBody } from '../../../protocol/errors.ts';
import type { Session } from '../../../protocol/session.ts';
import { StreamCloseCode } from '../../../protocol/stream.ts';
import type { Workspace, WorkspaceListResponse } from '../../../protocol/workspaces.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';
import { startRecordingRfbServer, type RecordingRfbServer } from './recording-rfb-server.ts';
import { openViewer, type TestViewer } from './stream-helpers.ts';

// The backend adapter for real (SQLite Canon Memory, routes, gateway, event bus), with the session's desktop
// replaced by a VNC server that records what reaches it: the proof that gated input never gets there.
// test/node/workspaces/workspace-stream.real-xvnc.test.ts runs the same path against a real Xvnc.

/** The `access` messages a viewer got, in order (role and input permission). */
function accessOf(viewer: TestViewer): Array<{ role: string; input: boolean }> {
  return viewer.messages.flatMap((m) => (m.t === 'access' ? [{ role: m.role, input: m.input }] : []));
}

const NO_SUCH_PROCESS = 2_147_483_646; // above any pid_max: the fixture's cleanup kill finds nothing

describe('collaborative workspaces over the API (real adapter, recording VNC server)', () => {
  let t: TestAdapter;
  let vnc: RecordingRfbServer;
  const tokens: Record<string, string> = {};
  const sessionId = 'shared-session-1';
  let workspaceId: string;

  async function call<T = Workspace>(
    who: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const token = tokens[who];
    const res = await t.api(`/api/v1${path}`, {
      method,
      ...(token ? { token } : {}),
      ...(body === undefined ? {} : { body }),
    });
    return res as { status: number; body: T };
  }
  const code = (res: { body: unknown }) => (res.body as ErrorBody).error.code;

  /** Opens `who`'s stream and waits for `init`; returns the viewer and the index of its VNC connection. */
  async function watch(who: string): Promise<{ viewer: TestViewer; connection: number }> {
    const connection = vnc.connections.length;
    const { viewer, refusedWith } = await openViewer(t.adapter.url, sessionId, tokens[who] ?? '');
    assert.ok(viewer, `${who}'s stream was refused with ${String(refusedWith)}`);
    await viewer.next('init');
    return { viewer, connection };
  }

  /**
   * Sends key, pointer and clipboard input as `viewer`, then a quality change: that one is always
   * forwarded (as SetEncodings, on the viewer's own connection), so once it has arrived everything sent
   * before it has been handled. Returns the input messages that reached the VNC server.
   */
  async function typeAndMark(v: { viewer: TestViewer; connection: number }, keysym: number) {
    const log = () => vnc.connections[v.connection] ?? [];
    const encodingsBefore = log().filter((m) => m.type === 'setEncodings').length;
    v.viewer.send({ t: 'key', keysym, down: true });
    v.viewer.send({ t: 'key', keysym, down: false });
    v.viewer.send({ t: 'pointer', x: 10, y: 10, buttons: 1 });
    v.viewer.send({ t: 'clipboard', text: `clip-${keysym}` });
    v.viewer.send({ t: 'quality', jpeg: 3, compression: 4 });
    await vnc.waitFor(
      (_m, i) =>
        i === v.connection && log().filter((m) => m.type === 'setEncodings').length > encodingsBefore,
    );
    return log().filter((m) => m.type === 'key' || m.type === 'pointer' || m.type === 'cutText');
  }

  before(async () => {
    t = await startTestAdapter();
    vnc = await startRecordingRfbServer();
    for (const user of ['alice', 'bob', 'dave', 'erin']) tokens[user] = await t.login(user);
    tokens['mallory'] = await t.login('bob', 'tenant-b'); // the same user id in another tenant
    const now = new Date().toISOString();
    const session: Session = {
      sessionId,
      userId: 'alice',
      tenantId: 'tenant-a',
      tier: 'basic',
      resources: {
        cpuMillicores: 1000,
        memoryMiB: 2048,
        storageGiB: 10,
        gpus: 0,
        display: { width: 640, height: 480 },
      },
      state: 'active',
      createdAt: now,
      canonTimestamp: now,
      handshake: '55-45-17',
    };
    await t.adapter.canon.createSession(
      {
        session,
        runtime: {
          kind: 'local',
          pgid: NO_SUCH_PROCESS,
          pid: NO_SUCH_PROCESS,
          display: 99,
          host: '127.0.0.1',
          port: vnc.port,
          password: 'unused',
          workDir: '/nonexistent',
        },
        lastActivityAt: now,
      },
      'alice',
    );
  });
  after(async () => {
    await t.close();
    await vnc.close();
  });

  it('creates a workspace from the owner’s session with invitations; only the owner’s sessions can be shared', async () => {
    const refused = await call('bob', 'POST', '/workspaces', { name: 'Not mine', sessionIds: [sessionId] });
    assert.equal(refused.status, 404);
    assert.equal(code(refused), 'SESSION_NOT_FOUND');
    const created = await call('alice', 'POST', '/workspaces', {
      name: 'Pairing',
      sessionIds: [sessionId],
      invite: [{ userId: 'bob', role: 'observer' }],
    });
    assert.equal(created.status, 201);
    workspaceId = created.body.workspaceId;
    assert.deepEqual(
      created.body.members.map((m) => [m.userId, m.role, m.status]),
      [
        ['alice', 'owner', 'joined'],
        ['bob', 'observer', 'invited'],
      ],
    );
    assert.equal(created.body.controllerId, null);
    const bobsList = await call<WorkspaceListResponse>('bob', 'GET', '/workspaces');
    assert.deepEqual(
      bobsList.body.workspaces.map((w) => w.workspaceId),
      [workspaceId],
    );
  });

  it('needs an invitation: the uninvited, the not-yet-accepted and another tenant cannot watch or join', async () => {
    assert.equal((await openViewer(t.adapter.url, sessionId, tokens['dave'] ?? '')).refusedWith, 404);
    // Bob is invited but has not accepted yet.
    assert.equal((await openViewer(t.adapter.url, sessionId, tokens['bob'] ?? '')).refusedWith, 404);
    assert.equal(code(await call('dave', 'GET', `/workspaces/${workspaceId}`)), 'WORKSPACE_NOT_FOUND');
    // Without an invitation the workspace does not exist for them (its existence is not disclosed).
    assert.equal(
      code(await call('dave', 'POST', `/workspaces/${workspaceId}/accept`)),
      'WORKSPACE_NOT_FOUND',
    );
    // "bob" of tenant-b is not tenant-a's bob: the workspace does not exist for them.
    const foreign = await call('mallory', 'POST', `/workspaces/${workspaceId}/accept`);
    assert.equal(foreign.status, 404);
    assert.equal(code(foreign), 'WORKSPACE_NOT_FOUND');
    assert.equal((await openViewer(t.adapter.url, sessionId, tokens['mallory'] ?? '')).refusedWith, 404);
    // Only the owner invites.
    const notOwner = await call('bob', 'POST', `/workspaces/${workspaceId}/invitations`, {
      userId: 'dave',
      role: 'participant',
    });
    assert.equal(code(notOwner), 'WORKSPACE_OWNER_REQUIRED');
    assert.equal(notOwner.status, 403);
  });

  it('an observer watches, but their keys, pointer and clipboard never reach the VNC server', async () => {
    const accepted = await call('bob', 'POST', `/workspaces/${workspaceId}/accept`);
    assert.equal(accepted.status, 200);
    // Accepting twice: there is no pending invitation any more.
    assert.equal(
      code(await call('bob', 'POST', `/workspaces/${workspaceId}/accept`)),
      'INVITATION_NOT_FOUND',
    );
    const owner = await watch('alice');
    const bob = await watch('bob');
    assert.notEqual(owner.connection, bob.connection, 'each viewer has its own RFB connection');
    assert.deepEqual(await typeAndMark(bob, 0x61), []);
    // The owner's input on the same desktop does arrive.
    assert.deepEqual(
      (await typeAndMark(owner, 0x62)).map((m) => m.type),
      ['key', 'key', 'pointer', 'cutText'],
    );
    // The gateway tells each workspace viewer what it may do; the owner's own stream needs no such word.
    assert.deepEqual(accessOf(bob.viewer), [{ role: 'observer', input: false }]);
    assert.deepEqual(accessOf(owner.viewer), []);
    owner.viewer.ws.close();
    bob.viewer.ws.close();
    await Promise.all([owner.viewer.closed, bob.viewer.closed]);
  });

  it('hands control over and back: input flows only while the participant holds it, on the open stream', async () => {
    const bob = await watch('bob');
    assert.equal(
      (await call('alice', 'PUT', `/workspaces/${workspaceId}/control`, { userId: 'bob' })).status,
      409,
      'an observer cannot be given control',
    );
    const promoted = await call('alice', 'PUT', `/workspaces/${workspaceId}/members/bob/role`, {
      role: 'participant',
    });
    assert.equal(promoted.body.members[1]?.role, 'participant');
    assert.deepEqual(await typeAndMark(bob, 0x63), [], 'a participant without control cannot type');
    assert.deepEqual(accessOf(bob.viewer).at(-1), { role: 'participant', input: false });

    const granted = await call('alice', 'PUT', `/workspaces/${workspaceId}/control`, { userId: 'bob' });
    assert.equal(granted.body.controllerId, 'bob');
    const typed = await typeAndMark(bob, 0x64);
    assert.deepEqual(
      typed.filter((m) => m.type === 'key'),
      [
        { type: 'key', keysym: 0x64, down: true },
        { type: 'key', keysym: 0x64, down: false },
      ],
    );
    assert.ok(typed.some((m) => m.type === 'cutText' && m.text === 'clip-100'));
    assert.deepEqual(
      accessOf(bob.viewer).at(-1),
      { role: 'participant', input: true },
      'told at once, on the open stream',
    );

    const revoked = await call('alice', 'DELETE', `/workspaces/${workspaceId}/control`);
    assert.equal(revoked.body.controllerId, null);
    const after = await typeAndMark(bob, 0x65);
    assert.equal(after.filter((m) => m.type === 'key' && m.keysym === 0x65).length, 0);
    assert.deepEqual(accessOf(bob.viewer), [
      { role: 'observer', input: false },
      { role: 'participant', input: false },
      { role: 'participant', input: true },
      { role: 'participant', input: false },
    ]);
    bob.viewer.ws.close();
    await bob.viewer.closed;
  });

  it('removing a participant closes their stream at once with 4403 and refuses them afterwards', async () => {
    const bob = await watch('bob');
    const removed = await call('alice', 'DELETE', `/workspaces/${workspaceId}/members/bob`);
    assert.equal(removed.status, 200);
    assert.deepEqual(
      removed.body.members.map((m) => m.userId),
      ['alice'],
    );
    const closed = await bob.viewer.closed;
    assert.equal(closed.code, StreamCloseCode.Removed);
    assert.equal(closed.code, 4403);
    assert.equal((await openViewer(t.adapter.url, sessionId, tokens['bob'] ?? '')).refusedWith, 404);
  });

  it('leaving closes one’s own stream; closing the workspace closes everyone’s and ends sharing', async () => {
    await call('alice', 'POST', `/workspaces/${workspaceId}/invitations`, {
      userId: 'dave',
      role: 'participant',
    });
    await call('alice', 'POST', `/workspaces/${workspaceId}/invitations`, {
      userId: 'erin',
      role: 'observer',
    });
    await call('dave', 'POST', `/workspaces/${workspaceId}/accept`);
    await call('erin', 'POST', `/workspaces/${workspaceId}/accept`);
    const dave = await watch('dave');
    const erin = await watch('erin');
    const owner = await watch('alice');
    assert.equal((await call('dave', 'POST', `/workspaces/${workspaceId}/leave`)).status, 204);
    assert.equal((await dave.viewer.closed).code, 4403);
    const closedWs = await call('alice', 'DELETE', `/workspaces/${workspaceId}`);
    assert.equal(closedWs.body.state, 'closed');
    assert.equal((await erin.viewer.closed).code, 4403);
    // The owner streams as the session's owner, not through the workspace: unaffected.
    assert.equal(owner.viewer.ws.readyState, owner.viewer.ws.OPEN);
    owner.viewer.ws.close();
    assert.equal((await openViewer(t.adapter.url, sessionId, tokens['erin'] ?? '')).refusedWith, 404);
    assert.equal(
      code(
        await call('alice', 'POST', `/workspaces/${workspaceId}/invitations`, {
          userId: 'bob',
          role: 'observer',
        }),
      ),
      'WORKSPACE_CONFLICT',
    );
  });

  it('keeps the workspace’s lifecycle in Canon Memory', async () => {
    const actions = (await t.adapter.canon.listRecords(workspaceId)).map((r) => r.action);
    assert.deepEqual(actions, [
      'workspace.created',
      'workspace.invited',
      'workspace.joined',
      'workspace.role-changed',
      'workspace.control-granted',
      'workspace.control-revoked',
      'workspace.removed',
      'workspace.invited',
      'workspace.invited',
      'workspace.joined',
      'workspace.joined',
      'workspace.left',
      'workspace.closed',
    ]);
  });
});
