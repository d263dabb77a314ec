import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, generateKeyPair } from 'jose';
import type { Session } from '../../../protocol/session.ts';
import { AUDIENCE, LOCAL_ISSUER } from '../../../backend-adapter/auth/local-issuer.ts';
import { processState } from '../../../backend-adapter/runtime/local/process-state.ts';
import { isPortListening } from '../../../backend-adapter/runtime/local/free-port.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';
import { leftBehind } from '../../support/session-processes.ts';

type ErrorBody = { error: { code: string; message: string; details?: { sessionId?: string } } };
const code = (body: unknown): string => (body as ErrorBody).error.code;

describe('session API (real adapter, real Xvnc desktops)', () => {
  let t: TestAdapter;
  let alice: string;
  let bob: string;

  before(async () => {
    t = await startTestAdapter();
    alice = await t.login('alice');
    bob = await t.login('bob');
  });
  after(() => t.close());

  it('serves health without credentials and lists the tiers', async () => {
    assert.equal((await t.api('/healthz')).status, 200);
    const tiers = await t.api('/api/v1/tiers', { token: alice });
    assert.equal(tiers.status, 200);
    assert.deepEqual(
      (tiers.body as { tiers: Array<{ id: string }> }).tiers.map((x) => x.id),
      ['basic', 'standard', 'pro', 'ultra', 'gpu'],
    );
  });

  it('refuses a request without a token, with a bad token, or without the handshake', async () => {
    const none = await t.api('/api/v1/sessions');
    assert.equal(none.status, 401);
    assert.equal(code(none.body), 'AUTH_REQUIRED');

    const garbage = await t.api('/api/v1/sessions', { token: 'not.a.jwt' });
    assert.equal(garbage.status, 401);
    assert.equal(code(garbage.body), 'AUTH_INVALID');

    const noHandshake = await t.api('/api/v1/sessions', {
      token: alice,
      headers: { 'x-n3xus-handshake': '55-45-18' },
    });
    assert.equal(noHandshake.status, 412);
    assert.equal(code(noHandshake.body), 'HANDSHAKE_REQUIRED');
  });

  it('refuses expired tokens, tokens signed by another key, and alg "none"', async () => {
    const expired = await t.issuer.issue({ userId: 'alice', tenantId: 'tenant-a' }, -120);
    assert.equal(code((await t.api('/api/v1/sessions', { token: expired })).body), 'AUTH_INVALID');

    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ tenant: 'tenant-a' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(LOCAL_ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('alice')
      .setExpirationTime('1h')
      .sign(privateKey);
    assert.equal(code((await t.api('/api/v1/sessions', { token: forged })).body), 'AUTH_INVALID');

    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${b64({ alg: 'none' })}.${b64({ sub: 'alice', tenant: 'tenant-a', iss: LOCAL_ISSUER, aud: AUDIENCE, exp: 4e9 })}.`;
    assert.equal((await t.api('/api/v1/sessions', { token: unsigned })).status, 401);
  });

  it('rejects an unknown tier and malformed bodies without creating anything', async () => {
    const unknown = await t.api('/api/v1/sessions', { method: 'POST', token: alice, body: { tier: 'mega' } });
    assert.equal(unknown.status, 400);
    assert.equal(code(unknown.body), 'UNKNOWN_TIER');
    const extra = await t.api('/api/v1/sessions', {
      method: 'POST',
      token: alice,
      body: { tier: 'basic', x: 1 },
    });
    assert.equal(code(extra.body), 'BAD_REQUEST');
    const broken = await t.api('/api/v1/sessions', { method: 'POST', token: alice, body: '{"tier":' });
    assert.equal(code(broken.body), 'BAD_REQUEST');
    const huge = await t.api('/api/v1/sessions', {
      method: 'POST',
      token: alice,
      body: { tier: 'x'.repeat(100_000) },
    });
    assert.equal(huge.status, 413);
    const list = await t.api('/api/v1/sessions', { token: alice });
    assert.deepEqual((list.body as { sessions: Session[] }).sessions, []);
  });

  it('runs the whole lifecycle on a real desktop and records it in Canon Memory', async () => {
    const created = await t.api('/api/v1/sessions', {
      method: 'POST',
      token: alice,
      body: { tier: 'basic' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const session = created.body as Session;
    assert.equal(session.state, 'active');
    assert.equal(session.handshake, '55-45-17');
    assert.equal(session.userId, 'alice');
    assert.equal(session.tier, 'basic');
    assert.deepEqual(session.resources.display, { width: 1280, height: 720 });
    assert.ok(!('runtime' in session) && !JSON.stringify(session).includes('password'));

    const row = await t.adapter.canon.getSession(session.sessionId);
    const handle = row?.runtime;
    assert.ok(handle?.kind === 'local');
    assert.ok(await isPortListening('127.0.0.1', handle.port));

    const paused = await t.api(`/api/v1/sessions/${session.sessionId}/pause`, {
      method: 'POST',
      token: alice,
    });
    assert.equal((paused.body as Session).state, 'paused');
    assert.equal(await processState(handle.pid), 'T');
    const again = await t.api(`/api/v1/sessions/${session.sessionId}/pause`, {
      method: 'POST',
      token: alice,
    });
    assert.equal(again.status, 409);
    assert.equal(code(again.body), 'ILLEGAL_TRANSITION');

    const resumed = await t.api(`/api/v1/sessions/${session.sessionId}/resume`, {
      method: 'POST',
      token: alice,
    });
    assert.equal((resumed.body as Session).state, 'active');
    assert.notEqual(await processState(handle.pid), 'T');

    const ended = await t.api(`/api/v1/sessions/${session.sessionId}`, { method: 'DELETE', token: alice });
    assert.equal((ended.body as Session).state, 'terminated');
    const st = await processState(handle.pid);
    assert.ok(st === undefined || st === 'Z', `Xvnc still alive in state ${st}`);
    assert.equal(await isPortListening('127.0.0.1', handle.port), false);

    const pauseEnded = await t.api(`/api/v1/sessions/${session.sessionId}/pause`, {
      method: 'POST',
      token: alice,
    });
    assert.equal(pauseEnded.status, 409);
    assert.equal(code(pauseEnded.body), 'ILLEGAL_TRANSITION');

    const records = await t.adapter.canon.listRecords(session.sessionId);
    assert.deepEqual(
      records.filter((r) => r.entity === 'session').map((r) => r.toState),
      [
        'requested',
        'provisioning',
        'active',
        'pausing',
        'paused',
        'resuming',
        'active',
        'terminating',
        'terminated',
      ],
    );
    assert.ok(records.every((r) => r.handshake === '55-45-17'));
    const usage = await t.adapter.canon.getUsage(session.sessionId);
    assert.ok(usage);
    assert.equal(usage.canonRecord, true);
    assert.ok(Number.isInteger(usage.cost) && usage.cost > 0);
  });

  it("never shows or touches another user's session", async () => {
    const created = await t.api('/api/v1/sessions', {
      method: 'POST',
      token: alice,
      body: { tier: 'basic' },
    });
    const id = (created.body as Session).sessionId;
    for (const [method, path] of [
      ['GET', `/api/v1/sessions/${id}`],
      ['POST', `/api/v1/sessions/${id}/pause`],
      ['POST', `/api/v1/sessions/${id}/resume`],
      ['DELETE', `/api/v1/sessions/${id}`],
    ] as const) {
      const res = await t.api(path, { method, token: bob });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(code(res.body), 'SESSION_NOT_FOUND');
      assert.ok(!JSON.stringify(res.body).includes('alice'));
    }
    assert.deepEqual(
      ((await t.api('/api/v1/sessions', { token: bob })).body as { sessions: Session[] }).sessions,
      [],
    );
    const still = await t.api(`/api/v1/sessions/${id}`, { token: alice });
    assert.equal((still.body as Session).state, 'active');
    await t.api(`/api/v1/sessions/${id}`, { method: 'DELETE', token: alice });
  });

  it("keeps tenants apart even for the same user id, and lets a tenant's admin see only its own tenant", async () => {
    const created = (
      await t.api('/api/v1/sessions', { method: 'POST', token: alice, body: { tier: 'basic' } })
    ).body as Session;
    const aliceElsewhere = await t.login('alice', 'tenant-b');
    assert.equal(
      (await t.api(`/api/v1/sessions/${created.sessionId}`, { token: aliceElsewhere })).status,
      404,
    );
    assert.deepEqual(
      ((await t.api('/api/v1/sessions', { token: aliceElsewhere })).body as { sessions: Session[] }).sessions,
      [],
    );
    const adminOf = async (tenantId: string) =>
      (
        (
          await t.api('/api/v1/dev/login', {
            method: 'POST',
            body: { userId: 'ada', tenantId, roles: ['admin'] },
          })
        ).body as { token: string }
      ).token;
    const adminA = await adminOf('tenant-a');
    const seen = ((await t.api('/api/v1/sessions', { token: adminA })).body as { sessions: Session[] })
      .sessions;
    assert.ok(seen.some((s) => s.sessionId === created.sessionId && s.userId === 'alice'));
    assert.ok(seen.every((s) => s.tenantId === 'tenant-a'));
    const paused = await t.api(`/api/v1/sessions/${created.sessionId}/pause`, {
      method: 'POST',
      token: adminA,
    });
    assert.equal((paused.body as Session).state, 'paused');
    const adminB = await adminOf('tenant-b');
    assert.equal((await t.api(`/api/v1/sessions/${created.sessionId}`, { token: adminB })).status, 404);
    assert.equal(
      (await t.api(`/api/v1/sessions/${created.sessionId}`, { method: 'DELETE', token: adminB })).status,
      404,
    );
    assert.equal((await t.api(`/api/v1/sessions/${created.sessionId}`, { token: alice })).status, 200);
    await t.api(`/api/v1/sessions/${created.sessionId}`, { method: 'DELETE', token: alice });
  });

  it('reports every 55-45-17 check as holding on a normally configured adapter, each with its evidence', async () => {
    const res = await t.api('/api/v1/handshake', { token: alice });
    assert.equal(res.status, 200);
    const report = res.body as {
      handshake: string;
      ok: boolean;
      checks: Array<{ id: string; ok: boolean; applicable: boolean; group: string; evidence: string }>;
    };
    assert.equal(report.handshake, '55-45-17');
    assert.deepEqual(
      report.checks.map((c) => `${c.group} ${c.id}`),
      [
        '55 kubernetes-health',
        '55 database',
        '55 redis',
        '55 session-isolation',
        '55 resource-limits',
        '45 auth-required',
        '45 billing',
        '45 data-privacy',
        '45 session-timeout',
        '45 resource-quota',
        '17 tenant-registry',
        '17 value-distribution',
        '17 founding-tenant-rights',
        '17 phase-governance',
        '17 n3xus-law',
      ],
    );
    // One replica on the local runtime: neither Kubernetes nor Redis is in use here.
    assert.deepEqual(
      report.checks.filter((c) => !c.applicable).map((c) => c.id),
      ['kubernetes-health', 'redis'],
    );
    for (const c of report.checks.filter((x) => x.applicable)) {
      assert.equal(c.ok, true, `${c.id}: ${c.evidence}`);
      assert.ok(c.evidence.length > 0, `${c.id} has evidence`);
    }
    assert.equal(report.ok, true);
  });

  it('keeps secrets out of the logs', () => {
    const all = t.logs.join('\n');
    assert.ok(!all.includes(alice));
    for (const line of t.logs) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.equal(entry.handshake, '55-45-17');
      assert.equal(entry.module, 'v-supercore');
    }
  });
});

describe('dev login', () => {
  it('does not exist unless dev mode is on', async () => {
    const t = await startTestAdapter({ DEV_MODE: '0' });
    try {
      const res = await t.api('/api/v1/dev/login', { method: 'POST', body: { userId: 'a', tenantId: 'b' } });
      assert.equal(res.status, 404);
      assert.equal(code(res.body), 'DEV_LOGIN_DISABLED');
    } finally {
      await t.close();
    }
  });
});

describe('a desktop that fails to start', () => {
  it('ends the session in failed with a reason and leaves no process behind', async () => {
    const t = await startTestAdapter({ XVNC_BIN: '/bin/false' });
    try {
      const token = await t.login('carol');
      const res = await t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } });
      assert.equal(res.status, 500);
      assert.equal(code(res.body), 'RUNTIME_FAILED');
      const id = (res.body as ErrorBody).error.details?.sessionId;
      assert.ok(id);
      const got = (await t.api(`/api/v1/sessions/${id}`, { token })).body as Session;
      assert.equal(got.state, 'failed');
      assert.match(got.failureReason ?? '', /exited/);
      // No process of that session (agent, launcher, display server) is left running.
      assert.deepEqual(await leftBehind(join(t.dataDir, 'sessions', id)), []);
      const ended = await t.api(`/api/v1/sessions/${id}`, { method: 'DELETE', token });
      assert.equal((ended.body as Session).state, 'terminated');
    } finally {
      await t.close();
    }
  });
});

describe('restarting the adapter', () => {
  it('keeps sessions and their desktops, and marks a desktop that vanished as failed', async () => {
    const t = await startTestAdapter();
    try {
      const token = await t.login('dave');
      const a = (await t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } }))
        .body as Session;
      const b = (await t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: 'basic' } }))
        .body as Session;
      await t.api(`/api/v1/sessions/${a.sessionId}/pause`, { method: 'POST', token });
      const bHandle = (await t.adapter.canon.getSession(b.sessionId))?.runtime;
      assert.ok(bHandle?.kind === 'local');
      await t.adapter.close();
      process.kill(-bHandle.pgid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      await t.restart();
      const list = ((await t.api('/api/v1/sessions', { token })).body as { sessions: Session[] }).sessions;
      const byId = new Map(list.map((s) => [s.sessionId, s]));
      assert.equal(byId.get(a.sessionId)?.state, 'paused');
      assert.equal(byId.get(b.sessionId)?.state, 'failed');
      assert.match(byId.get(b.sessionId)?.failureReason ?? '', /ended while the adapter was down/);
      const resumed = await t.api(`/api/v1/sessions/${a.sessionId}/resume`, { method: 'POST', token });
      assert.equal((resumed.body as Session).state, 'active');
      await t.api(`/api/v1/sessions/${a.sessionId}`, { method: 'DELETE', token });
    } finally {
      await t.close();
    }
  });
});
