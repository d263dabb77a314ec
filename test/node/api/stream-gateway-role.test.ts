import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pack } from 'msgpackr';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../../protocol/handshake.ts';
import type { HandshakeReport } from '../../../protocol/api.ts';
import type { Session } from '../../../protocol/session.ts';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOL,
  StreamCloseCode,
} from '../../../protocol/stream.ts';
import type { Workspace } from '../../../protocol/workspaces.ts';
import { ConfigError, loadConfig } from '../../../backend-adapter/config.ts';
import {
  startStreamGateway,
  type RunningStreamGateway,
} from '../../../backend-adapter/start-stream-gateway.ts';
import type { MetricsSample } from '../../../protocol/live-events.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';
import { REDIS_TEST_URL, redisForTest, uniquePrefix } from '../../support/redis-fixture.ts';
import { createTestDatabase, type TestDatabase } from '../canon/postgres-fixture.ts';
import { nextMessages, openStream, streamProtocols } from '../../support/stream-client.ts';
import { openViewer } from '../workspaces/stream-helpers.ts';

const protocols = streamProtocols;

/** A stream gateway on the orchestrator's data directory: its Canon Memory file and its issuer's key. */
function startGatewayBeside(
  orchestrator: TestAdapter,
  env: Record<string, string> = {},
): Promise<RunningStreamGateway> {
  return startStreamGateway(
    loadConfig({
      PATH: process.env.PATH,
      PORT: '0',
      DATA_DIR: orchestrator.dataDir,
      ADAPTER_ROLE: 'stream-gateway',
      ...env,
    }),
    { logDestination: new Writable({ write: (_chunk, _enc, done) => done() }) },
  );
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 50) {
    if (waited > 10_000) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ADAPTER_ROLE', () => {
  it('refuses to split the roles without Redis, which carries the changes to the gateway’s viewers', () => {
    for (const role of ['orchestrator', 'stream-gateway']) {
      assert.throws(
        () => loadConfig({ ADAPTER_ROLE: role }),
        (e: unknown) => e instanceof ConfigError && /needs REDIS_URL/.test(e.message),
      );
    }
    assert.equal(
      loadConfig({ ADAPTER_ROLE: 'stream-gateway', REDIS_URL: 'redis://r:6379' }).role,
      'stream-gateway',
    );
    assert.equal(loadConfig({}).role, 'all');
    assert.throws(() => loadConfig({ ADAPTER_ROLE: 'gateway' }), ConfigError);
  });
});

// Production's split (ADAPTER_ROLE): an orchestrator that launches a real Xvnc desktop, and a stream gateway
// that shares only its Canon Memory file, its issuer key and Redis, with no runtime of its own.
describe('orchestrator and stream gateway roles in two servers', () => {
  const prefix = uniquePrefix('gateway-role-sqlite');
  let cleanup: () => Promise<void>;
  let orchestrator: TestAdapter;
  let gateway: RunningStreamGateway;
  let alice: string;
  let bob: string;
  let session: Session;
  const streamPath = () => `/api/v1/sessions/${session.sessionId}/stream`;
  const gatewayGet = (path: string, token?: string) =>
    fetch(gateway.url + path, {
      headers: {
        [HANDSHAKE_HEADER]: HANDSHAKE,
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });

  before(async () => {
    ({ cleanup } = await redisForTest(prefix));
    const shared = { REDIS_URL: REDIS_TEST_URL, REDIS_PREFIX: prefix };
    orchestrator = await startTestAdapter({ ADAPTER_ROLE: 'orchestrator', ...shared });
    gateway = await startGatewayBeside(orchestrator, shared);
    alice = await orchestrator.login('alice');
    bob = await orchestrator.login('bob');
    const created = await orchestrator.api('/api/v1/sessions', {
      method: 'POST',
      token: alice,
      body: { tier: 'basic' },
    });
    assert.equal(created.status, 201);
    session = created.body as Session;
  });
  after(async () => {
    await gateway?.close();
    await orchestrator?.close();
    await cleanup?.();
  });

  it('streams through the gateway a desktop the orchestrator launched, and its input counts as activity', async () => {
    const before = (await orchestrator.adapter.canon.getSession(session.sessionId))?.lastActivityAt;
    const { ws } = await openStream(gateway.url.replace('http', 'ws') + streamPath(), protocols(alice));
    assert.ok(ws, 'the gateway accepted the stream');
    const [init, first] = await nextMessages(ws, 2);
    assert.equal(init?.t, 'init');
    assert.equal(first?.t, 'update');
    ws.send(pack({ t: 'pointer', x: 10, y: 10, buttons: 0 }));
    // The orchestrator reads the gateway's activity write (the idle timeout decides on it).
    await until(
      async () => (await orchestrator.adapter.canon.getSession(session.sessionId))?.lastActivityAt !== before,
      'the viewer input is recorded in Canon Memory',
    );
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    assert.match(metrics, /v_supercore_streams\{transport="websocket"\} 1/);
    ws.close();
  });

  it('the gateway checks the token, the handshake and ownership as the orchestrator does', async () => {
    const url = gateway.url.replace('http', 'ws') + streamPath();
    assert.equal((await openStream(url, protocols(bob))).refusedWith, 404);
    assert.equal((await openStream(url, [STREAM_SUBPROTOCOL, HANDSHAKE_SUBPROTOCOL])).refusedWith, 401);
    assert.equal(
      (await openStream(url, [STREAM_SUBPROTOCOL, BEARER_SUBPROTOCOL_PREFIX + alice])).refusedWith,
      412,
    );
    const thumbnail = `/api/v1/sessions/${session.sessionId}/thumbnail`;
    assert.equal((await gatewayGet(thumbnail)).status, 401);
    assert.equal((await gatewayGet(thumbnail, bob)).status, 404);
    const own = await gatewayGet(thumbnail, alice);
    assert.equal(own.status, 200);
    assert.equal(own.headers.get('content-type'), 'image/png');
  });

  it('each role refuses the other’s routes with 404 NOT_FOUND', async () => {
    // The orchestrator: no stream and no thumbnail (the session pods let only the gateway in on 5900).
    const orchestratorWs = orchestrator.adapter.url.replace('http', 'ws') + streamPath();
    assert.equal((await openStream(orchestratorWs, protocols(alice))).refusedWith, 404);
    const thumb = await orchestrator.api(`/api/v1/sessions/${session.sessionId}/thumbnail`, {
      token: alice,
    });
    assert.equal(thumb.status, 404);
    // The gateway: nothing of the API, not even reads; nothing launched or listed through it.
    const launch = await fetch(`${gateway.url}/api/v1/sessions`, {
      method: 'POST',
      headers: {
        [HANDSHAKE_HEADER]: HANDSHAKE,
        authorization: `Bearer ${alice}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ tier: 'basic' }),
    });
    assert.equal(launch.status, 404);
    const refused = (await launch.json()) as { error: { code: string; message: string } };
    assert.equal(refused.error.code, 'NOT_FOUND');
    assert.match(refused.error.message, /stream gateway, which serves session streams and thumbnails only/);
    for (const path of ['/api/v1/sessions', '/api/v1/tiers', '/api/v1/openapi.json']) {
      assert.equal((await gatewayGet(path, alice)).status, 404, path);
    }
    const listed = await orchestrator.api('/api/v1/sessions', { token: alice });
    assert.equal((listed.body as { sessions: Session[] }).sessions.length, 1);
  });

  it('the gateway has its own 55-45-17 report: Canon Memory, Redis and its token check, the rest the orchestrator’s', async () => {
    assert.equal((await gatewayGet('/api/v1/handshake')).status, 401);
    const answer = await gatewayGet('/api/v1/handshake', alice);
    assert.equal(answer.status, 200);
    const report = (await answer.json()) as HandshakeReport;
    assert.equal(report.ok, true, JSON.stringify(report.checks.filter((c) => c.applicable && !c.ok)));
    const applicable = report.checks.filter((c) => c.applicable);
    assert.deepEqual(
      applicable.map((c) => [c.id, c.ok]),
      [
        ['database', true],
        ['redis', true],
        ['auth-required', true],
      ],
    );
    assert.match(
      applicable.find((c) => c.id === 'auth-required')?.evidence ?? '',
      /probe GET \/api\/v1\/sessions\/handshake-probe\/thumbnail without a token → 401 AUTH_REQUIRED/,
    );
    // The orchestrator's checks, in its order and under its names, the others said to be evaluated there.
    const orchestrators = (await orchestrator.api('/api/v1/handshake', { token: alice }))
      .body as HandshakeReport;
    const named = (r: HandshakeReport) => r.checks.map((c) => `${c.group} ${c.id}: ${c.label}`);
    assert.deepEqual(named(report), named(orchestrators));
    for (const c of report.checks.filter((c) => !c.applicable)) {
      assert.match(c.evidence, /evaluated by the orchestrator/, c.id);
    }
  });

  it('the gateway reports its streams and its readiness, not the sessions (the orchestrator does)', async () => {
    const ready = await fetch(`${gateway.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { canon: true, redis: true } });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    for (const name of [
      'v_supercore_streams',
      'v_supercore_stream_latency_ms',
      'v_supercore_http_requests_total',
    ]) {
      assert.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    for (const name of ['v_supercore_active_sessions', 'v_supercore_resource_allocation_cpu']) {
      assert.doesNotMatch(metrics, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    const orchestratorMetrics = await (await fetch(`${orchestrator.adapter.url}/metrics`)).text();
    assert.match(orchestratorMetrics, /^v_supercore_active_sessions\{state="active",tier="basic"\} 1$/m);
  });
});

// As in the cluster: PostgreSQL and Redis shared (the gateway opens Canon Memory already migrated by the
// orchestrator). The gateway reports what it streams, and the orchestrator's samples (the Resource Monitor, the AI, v-analytics) count
// the traffic of viewers it does not serve itself.
describe('orchestrator and stream gateway sharing PostgreSQL and Redis', () => {
  let database: TestDatabase | undefined;
  const prefix = uniquePrefix('gateway-role');
  let cleanup: () => Promise<void>;
  let orchestrator: TestAdapter;
  let gateway: RunningStreamGateway;

  before(async () => {
    ({ cleanup } = await redisForTest(prefix));
    database = await createTestDatabase();
    const shared = {
      CANON_DATABASE_URL: database.url,
      REDIS_URL: REDIS_TEST_URL,
      REDIS_PREFIX: prefix,
    };
    orchestrator = await startTestAdapter({ ADAPTER_ROLE: 'orchestrator', ...shared });
    gateway = await startGatewayBeside(orchestrator, shared);
  });
  after(async () => {
    await gateway?.close();
    await orchestrator?.close();
    await cleanup?.();
    await database?.drop();
  });

  it('a member removed from a workspace on the orchestrator loses their stream on the gateway at once', async () => {
    const alice = await orchestrator.login('alice');
    const bob = await orchestrator.login('bob');
    const created = await orchestrator.api('/api/v1/sessions', {
      method: 'POST',
      token: alice,
      body: { tier: 'basic' },
    });
    const { sessionId } = created.body as Session;
    const shared = await orchestrator.api('/api/v1/workspaces', {
      method: 'POST',
      token: alice,
      body: { name: 'Pairing', sessionIds: [sessionId], invite: [{ userId: 'bob', role: 'observer' }] },
    });
    assert.equal(shared.status, 201);
    const { workspaceId } = shared.body as Workspace;
    const accepted = await orchestrator.api(`/api/v1/workspaces/${workspaceId}/accept`, {
      method: 'POST',
      token: bob,
    });
    assert.equal(accepted.status, 200);
    const { viewer } = await openViewer(gateway.url, sessionId, bob);
    assert.ok(viewer, 'the gateway lets the member watch');
    await viewer.next('init');
    const removed = await orchestrator.api(`/api/v1/workspaces/${workspaceId}/members/bob`, {
      method: 'DELETE',
      token: alice,
    });
    assert.equal(removed.status, 200);
    // The change was made on the orchestrator; Redis carried it to the gateway, which closed the stream.
    assert.equal((await viewer.closed).code, StreamCloseCode.Removed);
    assert.equal((await openViewer(gateway.url, sessionId, bob)).refusedWith, 404);
  });

  it('the Resource Monitor shows the traffic of a stream the gateway serves', async () => {
    const token = await orchestrator.login('carol');
    const created = await orchestrator.api('/api/v1/sessions', {
      method: 'POST',
      token,
      body: { tier: 'basic' },
    });
    const { sessionId } = created.body as Session;
    const url = `${gateway.url.replace('http', 'ws')}/api/v1/sessions/${sessionId}/stream`;
    const { ws } = await openStream(url, protocols(token));
    assert.ok(ws);
    try {
      const [, first] = await nextMessages(ws, 2);
      if (first?.t === 'update') ws.send(pack({ t: 'ack', seq: first.seq }));
      const traffic = async () => {
        await orchestrator.adapter.sampler.tick();
        const res = await orchestrator.api(`/api/v1/sessions/${sessionId}/metrics?windowSeconds=60`, {
          token,
        });
        const { samples } = res.body as { samples: MetricsSample[] };
        return samples.some((s) => s.networkTxBytesPerSec > 0);
      };
      // The gateway reports every 2 s; the orchestrator samples at each check.
      await until(traffic, 'a sample counts the bytes the gateway sent');
    } finally {
      ws.close();
    }
  });
});
