import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { Session } from '../../../protocol/session.ts';
import type { MetricsSample } from '../../../protocol/live-events.ts';
import type { QuotaResponse } from '../../../protocol/resources.ts';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../../protocol/handshake.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

type ErrorBody = { error: { code: string; message: string } };
const code = (body: unknown): string => (body as ErrorBody).error.code;

/** Reads server-sent events from a fetch stream until `until` says stop or the time runs out. */
async function readEvents(
  url: string,
  token: string,
  until: (events: Array<{ event: string; data: unknown }>) => boolean,
  whileOpen: () => Promise<void>,
  timeoutMs = 10_000,
): Promise<Array<{ event: string; data: unknown }>> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, [HANDSHAKE_HEADER]: HANDSHAKE },
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events: Array<{ event: string; data: unknown }> = [];
  assert.ok(res.body, 'the event stream has a body');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  void whileOpen();
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (name && data) events.push({ event: name, data: JSON.parse(data) as unknown });
      }
    }
  } catch {
    // aborted by the timeout: return what arrived
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

describe('platform API: live events, preferences, quota, metrics, OpenAPI, rate limits', () => {
  let t: TestAdapter;
  let alice: string;
  let bob: string;

  before(async () => {
    t = await startTestAdapter({ RATE_LIMIT_PER_MINUTE: '40' });
    alice = await t.login('alice');
    bob = await t.login('bob');
  });
  after(() => t.close());

  it('pushes the caller’s own session changes as server-sent events, and nobody else’s', async () => {
    let created: Session | undefined;
    const seen = await readEvents(
      `${t.adapter.url}/api/v1/events`,
      alice,
      (events) =>
        events.some(
          (e) => e.event === 'session.changed' && (e.data as { session: Session }).session.state === 'active',
        ),
      async () => {
        await new Promise((r) => setTimeout(r, 100));
        await t.api('/api/v1/sessions', { method: 'POST', token: bob, body: { tier: 'basic' } });
        created = (await t.api('/api/v1/sessions', { method: 'POST', token: alice, body: { tier: 'basic' } }))
          .body as Session;
      },
    );
    const states = seen
      .filter((e) => e.event === 'session.changed')
      .map((e) => (e.data as { session: Session }).session);
    assert.ok(
      states.every((s) => s.userId === 'alice'),
      'only alice’s sessions',
    );
    assert.deepEqual(
      states.map((s) => s.state),
      ['requested', 'provisioning', 'active'],
    );
    assert.equal(states[0]?.sessionId, created?.sessionId);
  });

  it('samples live desktops for the Resource Monitor, for their owner only', async () => {
    const s = (await t.api('/api/v1/sessions', { method: 'POST', token: bob, body: { tier: 'basic' } }))
      .body as Session;
    await t.adapter.sampler.tick();
    await new Promise((r) => setTimeout(r, 300));
    await t.adapter.sampler.tick();
    const res = await t.api(`/api/v1/sessions/${s.sessionId}/metrics?windowSeconds=60`, { token: bob });
    assert.equal(res.status, 200);
    const samples = (res.body as { samples: MetricsSample[] }).samples;
    assert.ok(samples.length >= 1);
    assert.ok((samples[0]?.memoryMiB ?? 0) > 1, 'the desktop uses memory');
    assert.equal((await t.api(`/api/v1/sessions/${s.sessionId}/metrics`, { token: alice })).status, 404);
    assert.equal(
      code((await t.api(`/api/v1/sessions/${s.sessionId}/metrics?windowSeconds=5`, { token: bob })).body),
      'BAD_REQUEST',
    );
  });

  it('stores preferences in Canon Memory, validates them, and keeps the last write', async () => {
    const initial = await t.api('/api/v1/preferences', { token: alice });
    assert.equal((initial.body as { updatedAt: null }).updatedAt, null);
    const prefs = {
      defaultTier: 'pro',
      streamQuality: 'high',
      scaling: '1:1',
      keyboardLayout: 'de',
      idleTimeoutMinutes: 45,
      notifications: false,
    };
    const saved = await t.api('/api/v1/preferences', { method: 'PUT', token: alice, body: prefs });
    assert.equal(saved.status, 200);
    const second = await t.api('/api/v1/preferences', {
      method: 'PUT',
      token: alice,
      body: { ...prefs, keyboardLayout: 'fr' },
    });
    const got = (await t.api('/api/v1/preferences', { token: alice })).body as {
      preferences: typeof prefs;
      updatedAt: string;
    };
    assert.equal(got.preferences.keyboardLayout, 'fr');
    assert.equal(got.updatedAt, (second.body as { updatedAt: string }).updatedAt);
    const bad = await t.api('/api/v1/preferences', {
      method: 'PUT',
      token: alice,
      body: { ...prefs, idleTimeoutMinutes: 1 },
    });
    assert.equal(code(bad.body), 'BAD_REQUEST');
    assert.equal(
      ((await t.api('/api/v1/preferences', { token: bob })).body as { updatedAt: null }).updatedAt,
      null,
    );
  });

  it('reports quota usage against the limits, the user’s own CPU and memory included', async () => {
    const res = await t.api('/api/v1/quota', { token: alice });
    const body = res.body as QuotaResponse;
    assert.equal(body.limits.maxLiveSessionsPerUser, 3);
    // The documented defaults (MAX_USER_CPU_MILLICORES, MAX_USER_MEMORY_MIB): 16 CPU, 64 GiB.
    assert.equal(body.limits.maxCpuMillicoresPerUser, 16_000);
    assert.equal(body.limits.maxMemoryMiBPerUser, 65_536);
    const live = (await t.adapter.canon.listSessions({ userId: 'alice', tenantId: 'tenant-a' }))
      .map((r) => r.session)
      .filter((s) => s.state !== 'terminated' && s.state !== 'failed');
    assert.ok(live.length > 0, 'alice has a live session to count');
    assert.equal(body.usage.liveSessionsOfUser, live.length);
    assert.equal(
      body.usage.cpuMillicoresOfUser,
      live.reduce((a, s) => a + s.resources.cpuMillicores, 0),
    );
    assert.equal(
      body.usage.memoryMiBOfUser,
      live.reduce((a, s) => a + s.resources.memoryMiB, 0),
    );
  });

  it('refuses a launch past the per-user quota with QUOTA_EXCEEDED and writes nothing', async () => {
    const before = (await t.adapter.canon.listSessions({ userId: 'bob', tenantId: 'tenant-a' })).length;
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push(await t.api('/api/v1/sessions', { method: 'POST', token: bob, body: { tier: 'basic' } }));
    const refused = results.filter((r) => r.status === 403);
    assert.ok(refused.length >= 1);
    assert.equal(code(refused[0]?.body), 'QUOTA_EXCEEDED');
    const live = (await t.adapter.canon.listSessions({ userId: 'bob', tenantId: 'tenant-a' })).filter(
      (r) => r.session.state === 'active',
    );
    assert.equal(live.length, 3);
    assert.equal(
      (await t.adapter.canon.listSessions({ userId: 'bob', tenantId: 'tenant-a' })).length,
      before + 3 - refused.length,
    );
  });

  it('limits tiers to the subscription', async () => {
    const res = await t.api('/api/v1/dev/login', {
      method: 'POST',
      body: { userId: 'frida', tenantId: 'tenant-a', subscription: 'free' },
    });
    const free = (res.body as { token: string }).token;
    const tiers = (await t.api('/api/v1/tiers', { token: free })).body as {
      tiers: Array<{ id: string; allowed: boolean }>;
    };
    assert.deepEqual(
      tiers.tiers.filter((x) => x.allowed).map((x) => x.id),
      ['basic'],
    );
    const refused = await t.api('/api/v1/sessions', { method: 'POST', token: free, body: { tier: 'pro' } });
    assert.equal(refused.status, 403);
    assert.equal(code(refused.body), 'TIER_NOT_ALLOWED');
  });

  it('forwards Core Web Vitals as analytics events', async () => {
    const res = await t.api('/api/v1/vitals', {
      method: 'POST',
      token: alice,
      body: { name: 'LCP', value: 812.5, rating: 'good', id: 'v1-1' },
    });
    assert.equal(res.status, 202);
    assert.equal(
      code(
        (
          await t.api('/api/v1/vitals', {
            method: 'POST',
            token: alice,
            body: { name: 'XYZ', value: 1, rating: 'good', id: 'x' },
          })
        ).body,
      ),
      'BAD_REQUEST',
    );
    await t.adapter.analytics.flush();
    const lines = (await readFile(join(t.dataDir, 'analytics', 'events.jsonl'), 'utf8')).trim().split('\n');
    const vital = lines
      .map((l) => JSON.parse(l) as { event: string; userId: string; properties: { value: number } })
      .find((e) => e.event === 'supercore.web-vitals');
    assert.equal(vital?.userId, 'alice');
    assert.equal(vital?.properties.value, 812.5);
  });

  it('exports the spec’s Prometheus metrics and the KPI counters', async () => {
    const res = await fetch(`${t.adapter.url}/metrics`);
    const text = await res.text();
    for (const name of [
      'v_supercore_active_sessions',
      'v_supercore_session_creation_duration',
      'v_supercore_resource_allocation_cpu',
      'v_supercore_resource_allocation_memory',
      'v_supercore_resource_allocation_gpu',
      'v_supercore_stream_latency_ms',
      'v_supercore_stream_quality_score',
      'v_supercore_auth_attempts_total',
      'v_supercore_handshake_checks_total',
      'v_supercore_http_requests_total',
      'v_supercore_process_cpu_user_seconds_total',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, /^v_supercore_active_sessions\{state="active",tier="basic"\} [1-9]/m);
    assert.match(text, /^v_supercore_auth_attempts_total\{result="success"\} [1-9]/m);
  });

  it('serves readiness and an OpenAPI 3.1 document of every route', async () => {
    const ready = await fetch(`${t.adapter.url}/readyz`);
    assert.equal(ready.status, 200);
    const doc = (await (await fetch(`${t.adapter.url}/api/v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    assert.equal(doc.openapi, '3.1.0');
    for (const path of [
      '/api/v1/sessions',
      '/api/v1/sessions/{id}',
      '/api/v1/sessions/{id}/pause',
      '/api/v1/tiers',
      '/api/v1/preferences',
      '/api/v1/quota',
    ]) {
      assert.ok(doc.paths[path], path);
    }
  });

  it('rate limits mutating calls per user, with a stable code', async () => {
    const token = await t.login('rita');
    let limited: { status: number; body: unknown } | undefined;
    for (let i = 0; i < 45 && !limited; i++) {
      const res = await t.api('/api/v1/sessions/not-a-session/pause', { method: 'POST', token });
      if (res.status === 429) limited = res;
    }
    assert.ok(limited, 'a 429 arrived');
    assert.equal(code(limited.body), 'RATE_LIMITED');
    // Another user is not affected, and reads are not limited.
    assert.equal(
      (await t.api('/api/v1/sessions/not-a-session/pause', { method: 'POST', token: alice })).status,
      404,
    );
    assert.equal((await t.api('/api/v1/sessions', { token })).status, 200);
  });
});

describe('v-auth tokens verified against a JWKS', () => {
  let jwks: Server;
  let jwksUrl: string;
  let sign: (claims: Record<string, unknown>, audience?: string) => Promise<string>;

  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const address = jwks.address();
    jwksUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/jwks.json`;
    sign = (claims, audience = 'v-supercore') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('https://v-auth.n3xus.test')
        .setAudience(audience)
        .setSubject('vera')
        .setExpirationTime('10m')
        .sign(privateKey);
  });
  after(() => new Promise<void>((r) => jwks.close(() => r())));

  it('accepts v-auth’s tokens, refuses a wrong audience, and has no dev login', async () => {
    const t = await startTestAdapter({
      AUTH_JWKS_URL: jwksUrl,
      AUTH_ISSUER: 'https://v-auth.n3xus.test',
      AUTH_AUDIENCE: 'v-supercore',
    });
    try {
      const good = await sign({ tenant: 'tenant-v', subscription: 'pro', email: 'vera@n3xus.test' });
      assert.equal((await t.api('/api/v1/sessions', { token: good })).status, 200);
      const wrongAudience = await sign({ tenant: 'tenant-v' }, 'someone-else');
      assert.equal(code((await t.api('/api/v1/sessions', { token: wrongAudience })).body), 'AUTH_INVALID');
      const noTenant = await sign({});
      assert.equal(code((await t.api('/api/v1/sessions', { token: noTenant })).body), 'AUTH_INVALID');
      assert.equal(
        (await t.api('/api/v1/dev/login', { method: 'POST', body: { userId: 'a', tenantId: 'b' } })).status,
        404,
      );
    } finally {
      await t.close();
    }
  });
});
