import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../../protocol/handshake.ts';
import type { LiveEvent, WorkspaceChangedData } from '../../../protocol/live-events.ts';
import type { Session } from '../../../protocol/session.ts';
import type { Workspace } from '../../../protocol/workspaces.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

// `workspace.changed` on GET /api/v1/events (real adapter, SQLite Canon Memory): every member of a workspace,
// and someone invited to it, hears of its changes; a person removed hears it once more; nobody else ever does.

const NO_SUCH_PROCESS = 2_147_483_646;

/** An open event stream that collects `workspace.changed` events. */
async function listen(t: TestAdapter, token: string) {
  const aborter = new AbortController();
  const res = await fetch(`${t.adapter.url}/api/v1/events`, {
    headers: { authorization: `Bearer ${token}`, [HANDSHAKE_HEADER]: HANDSHAKE },
    signal: aborter.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const changes: WorkspaceChangedData[] = [];
  const waiters: Array<() => void> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.includes(': connected')) connected();
          const name = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (name !== 'workspace.changed' || !data) continue;
          const event = { event: name, data: JSON.parse(data) } as LiveEvent;
          if (event.event === 'workspace.changed') changes.push(event.data);
          waiters.splice(0).forEach((w) => w());
        }
      }
    } catch {
      // aborted
    }
  })();
  await ready;
  return {
    changes,
    /** Waits until `count` changes arrived (fails after 5 s). */
    async until(count: number): Promise<void> {
      const deadline = Date.now() + 5000;
      while (changes.length < count) {
        if (Date.now() > deadline) assert.fail(`expected ${count} workspace changes, got ${changes.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close: () => aborter.abort(),
  };
}

describe('workspace changes pushed live over GET /api/v1/events', () => {
  let t: TestAdapter;
  const tokens: Record<string, string> = {};
  const sessionId = 'live-shared-1';

  async function call(who: string, method: string, path: string, body?: unknown): Promise<Workspace> {
    const res = await t.api(`/api/v1${path}`, {
      method,
      token: tokens[who] ?? '',
      ...(body === undefined ? {} : { body }),
    });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Workspace;
  }

  before(async () => {
    t = await startTestAdapter();
    for (const user of ['alice', 'bob', 'carol']) tokens[user] = await t.login(user);
    tokens['mallory'] = await t.login('bob', 'tenant-b');
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
          display: 98,
          host: '127.0.0.1',
          port: 1,
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
  });

  it('tells the owner and the invited of every change, the removed once more, and no one else', async () => {
    const alice = await listen(t, tokens['alice'] ?? '');
    const bob = await listen(t, tokens['bob'] ?? '');
    const carol = await listen(t, tokens['carol'] ?? '');
    const mallory = await listen(t, tokens['mallory'] ?? '');
    try {
      const created = await call('alice', 'POST', '/workspaces', {
        name: 'Live',
        sessionIds: [sessionId],
        invite: [{ userId: 'bob', role: 'participant' }],
      });
      const id = created.workspaceId;
      await alice.until(1);
      await bob.until(1);
      assert.equal(bob.changes[0]?.workspace.workspaceId, id);
      assert.equal(bob.changes[0]?.workspace.members.find((m) => m.userId === 'bob')?.status, 'invited');

      await call('bob', 'POST', `/workspaces/${id}/accept`);
      await call('alice', 'PUT', `/workspaces/${id}/control`, { userId: 'bob' });
      await alice.until(3);
      await bob.until(3);
      assert.equal(alice.changes.at(-1)?.workspace.controllerId, 'bob');
      assert.equal(bob.changes.at(-1)?.workspace.controllerId, 'bob');

      await call('alice', 'DELETE', `/workspaces/${id}/members/bob`);
      await alice.until(4);
      await bob.until(4);
      const removed = bob.changes.at(-1)?.workspace;
      assert.ok(removed && !removed.members.some((m) => m.userId === 'bob'), 'bob sees himself gone');
      assert.equal(removed.controllerId, null);

      // After that, bob no longer hears of the workspace.
      await call('alice', 'POST', `/workspaces/${id}/invitations`, { userId: 'carol', role: 'observer' });
      await alice.until(5);
      await carol.until(1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(bob.changes.length, 4);
      assert.equal(mallory.changes.length, 0, 'the same user id in another tenant hears nothing');
    } finally {
      for (const l of [alice, bob, carol, mallory]) l.close();
    }
  });
});
