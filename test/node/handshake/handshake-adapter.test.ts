// GET /api/v1/handshake on real adapters: every check holds on a normally configured one, and each check that
// breaks reports false with its reason — a real Redis that goes away, a stopped timeout pass, a closed Canon
// Memory, a cluster ceiling that live sessions exceed or that a tier does not fit, desktops that share secrets.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HandshakeCheck, HandshakeReport } from '../../../protocol/api.ts';
import type { Session, SessionState } from '../../../protocol/session.ts';
import type { SessionRow } from '../../../backend-adapter/canon/canon-store.ts';
import type { LocalRuntimeHandle } from '../../../backend-adapter/runtime/runtime-provider.ts';
import { findFreePort } from '../../../backend-adapter/runtime/local/free-port.ts';
import { TIER_CATALOGUE } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

async function report(t: TestAdapter, token: string): Promise<HandshakeReport> {
  const res = await t.api('/api/v1/handshake', { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as HandshakeReport;
}

function byId(r: HandshakeReport, id: string): HandshakeCheck {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id}`);
  return c;
}

/** Polls the report until `check` has `ok`; returns that check. */
async function until(
  t: TestAdapter,
  token: string,
  id: string,
  ok: boolean,
  ms = 8000,
): Promise<HandshakeCheck> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = byId(await report(t, token), id);
    if (c.ok === ok) return c;
    if (Date.now() > deadline) assert.fail(`${id} did not become ${ok} within ${ms} ms: ${c.evidence}`);
    await sleep(100);
  }
}

const basic = TIER_CATALOGUE[0]?.resources as Session['resources'];

/** A live session written straight into Canon Memory (as another replica, or a broken runtime, would leave it). */
function liveRow(
  t: TestAdapter,
  id: string,
  runtime: LocalRuntimeHandle | null,
  state: SessionState = 'active',
): SessionRow {
  const at = new Date().toISOString();
  return {
    session: {
      sessionId: id,
      userId: 'mallory',
      tenantId: 'tenant-a',
      tier: 'basic',
      resources: basic,
      state,
      createdAt: at,
      canonTimestamp: at,
      handshake: '55-45-17',
    },
    runtime,
    lastActivityAt: at,
  };
}

describe('handshake on a normally configured adapter', () => {
  let t: TestAdapter;
  let alice: string;
  before(async () => {
    t = await startTestAdapter({ TIMEOUT_CHECK_INTERVAL_MS: '200' });
    alice = await t.login('alice');
  });
  after(() => t.close());

  it('holds every applicable check, each on evidence read from the running adapter', async () => {
    await sleep(300); // a timeout pass has run
    const created = await t.api('/api/v1/sessions', {
      method: 'POST',
      token: alice,
      body: { tier: 'basic' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const session = created.body as Session;
    try {
      const r = await report(t, alice);
      const failing = r.checks.filter((c) => c.applicable && !c.ok);
      assert.deepEqual(failing, [], 'every applicable check holds');
      assert.equal(r.ok, true);
      assert.deepEqual(
        r.checks.filter((c) => !c.applicable).map((c) => c.id),
        ['kubernetes-health', 'redis'],
        'only what this deployment does not use is not applicable',
      );
      assert.match(
        byId(r, 'auth-required').evidence,
        /probe GET \/api\/v1\/sessions without a token → 401 AUTH_REQUIRED, with an unsigned token → 401 AUTH_INVALID/,
      );
      assert.match(byId(r, 'data-privacy').evidence, /export \(GET \/api\/v1\/privacy\/export\) and erasure/);
      assert.match(
        byId(r, 'session-isolation').evidence,
        /^1 live desktops, each in its own process group and owner-only directory/,
      );
      assert.match(
        byId(r, 'session-timeout').evidence,
        /^last pass completed \d+\.\d s ago \(every 0\.2 s\)/,
      );
      assert.match(byId(r, 'resource-quota').evidence, /cluster ceiling 50 sessions/);
      assert.match(
        byId(r, 'resource-quota').evidence,
        /live now: 1 sessions, 1 CPU, 2 GiB memory, 10 GiB storage$/,
      );
      assert.match(byId(r, 'resource-limits').evidence, /^5 tiers \(basic 1 CPU\/2 GiB\/10 GiB/);
    } finally {
      await t.api(`/api/v1/sessions/${session.sessionId}`, { method: 'DELETE', token: alice });
    }
  });

  it('does not count its own probes as users’ failed sign-ins', async () => {
    const attempts = async () => {
      const text = await (await fetch(`${t.adapter.url}/metrics`)).text();
      return [...text.matchAll(/^v_supercore_auth_attempts_total\{result="(\w+)"\} (\d+)/gm)]
        .map((m) => `${m[1]}=${m[2]}`)
        .filter((s) => !s.startsWith('success='));
    };
    const before = await attempts();
    await report(t, alice);
    await report(t, alice);
    assert.deepEqual(await attempts(), before);
  });

  it('session-timeout: false with the reason once the timeout pass stops, true again when it runs', async () => {
    t.adapter.timeouts.stop();
    const stopped = await until(t, alice, 'session-timeout', false);
    assert.match(stopped.evidence, /^the timeout enforcer is not running \(last pass \d+\.\d s ago\)/);
    assert.equal((await report(t, alice)).ok, false);
    t.adapter.timeouts.start();
    await until(t, alice, 'session-timeout', true);
  });
});

describe('handshake on a misconfigured adapter', () => {
  let t: TestAdapter;
  let token: string;
  before(async () => {
    // One pod for the whole cluster, and 4 CPU: less than the ultra and GPU tiers need.
    t = await startTestAdapter({ CLUSTER_QUOTA_PODS: '1', CLUSTER_QUOTA_CPU_MILLICORES: '4000' });
    token = await t.login('alice');
  });
  after(async () => {
    // The rows written below have no desktops; end them so nothing is left to reclaim.
    for (const row of await t.adapter.canon.listUnfinished()) {
      await t.adapter.canon.transition({
        sessionId: row.session.sessionId,
        from: [row.session.state],
        to: 'failed',
        action: 'test.cleanup',
        actor: 'test',
        at: new Date(),
        runtime: null,
      });
    }
    await t.close();
  });

  it('resource-limits: false, naming the tiers that do not fit the cluster ceiling', async () => {
    const c = byId(await report(t, token), 'resource-limits');
    assert.equal(c.ok, false);
    assert.equal(
      c.evidence,
      "tier ultra needs 8 CPU, more than the cluster's 4 CPU; tier gpu needs 8 CPU, more than the cluster's 4 CPU",
    );
  });

  it('resource-quota: false once live sessions exceed the cluster ceiling', async () => {
    assert.equal(byId(await report(t, token), 'resource-quota').ok, true);
    await t.adapter.canon.createSession(liveRow(t, 'quota-1', null), 'mallory');
    assert.equal(byId(await report(t, token), 'resource-quota').ok, true, 'one session fits a ceiling of 1');
    await t.adapter.canon.createSession(liveRow(t, 'quota-2', null), 'mallory');
    const c = byId(await report(t, token), 'resource-quota');
    assert.equal(c.ok, false);
    assert.equal(c.evidence, '2 live sessions exceed the cluster ceiling of 1');
  });

  it('session-isolation: false when two live desktops share a VNC password and a process group', async () => {
    const handle = (id: string, password: string): LocalRuntimeHandle => ({
      kind: 'local',
      pgid: 2_000_000_000, // no such process group: nothing real is signalled
      pid: 2_000_000_000,
      display: 90,
      host: '127.0.0.1',
      port: 5990,
      password,
      workDir: join(t.dataDir, 'sessions', id),
      agentToken: `token-${id}`,
    });
    await t.adapter.canon.createSession(liveRow(t, 'iso-1', handle('iso-1', 'same')), 'mallory');
    await t.adapter.canon.createSession(liveRow(t, 'iso-2', handle('iso-2', 'same')), 'mallory');
    const c = byId(await report(t, token), 'session-isolation');
    assert.equal(c.ok, false);
    assert.equal(
      c.evidence,
      'sessions iso-1 and iso-2 share a VNC password; sessions iso-1 and iso-2 share a process group',
    );
  });
});

describe('handshake when a dependency goes away', () => {
  it('database: false when Canon Memory does not answer, and what depends on reading it says so', async () => {
    const t = await startTestAdapter();
    try {
      const token = await t.login('alice');
      assert.equal(byId(await report(t, token), 'database').ok, true);
      await t.adapter.canon.close();
      const r = await report(t, token);
      assert.deepEqual(
        [byId(r, 'database'), byId(r, 'resource-quota'), byId(r, 'session-isolation')].map((c) => [
          c.ok,
          c.evidence,
        ]),
        [
          [false, 'Canon Memory did not answer'],
          [false, 'Canon Memory could not be read'],
          [false, 'Canon Memory could not be read'],
        ],
      );
      assert.equal(r.ok, false);
    } finally {
      // Canon Memory is closed already: the fixture's own close would read it.
      await t.adapter.close();
      await rm(t.dataDir, { recursive: true, force: true });
    }
  });

  it('redis: true while the configured Redis answers, false with the reason while it is gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vsc-redis-'));
    const port = await findFreePort('127.0.0.1');
    const startRedis = async (): Promise<ChildProcess> => {
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 10_000;
      while (!out.includes('Ready to accept connections')) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`redis-server did not start: ${out}`);
        await sleep(20);
      }
      return child;
    };
    let redis = await startRedis();
    let t: TestAdapter | undefined;
    try {
      t = await startTestAdapter({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PREFIX: `vsc-hs-${port}:` });
      const token = await t.login('alice');
      const up = byId(await report(t, token), 'redis');
      assert.deepEqual([up.applicable, up.ok], [true, true]);
      assert.match(up.evidence, /^Redis answered PING/);

      redis.kill('SIGKILL');
      await once(redis, 'exit');
      const down = await until(t, token, 'redis', false);
      assert.match(down.evidence, /^Redis did not answer/);

      redis = await startRedis();
      await until(t, token, 'redis', true, 15_000);
    } finally {
      await t?.close();
      if (redis.exitCode === null) {
        redis.kill('SIGKILL');
        await once(redis, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
