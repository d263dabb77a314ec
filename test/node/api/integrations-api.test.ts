import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ErasureResponse, PrivacyExport } from '../../../protocol/privacy.ts';
import type { PredictionsResponse, RecommendationsResponse } from '../../../protocol/ai.ts';
import type { FileListResponse, StoredFileInfo } from '../../../protocol/content.ts';
import type { Session } from '../../../protocol/session.ts';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../../protocol/handshake.ts';
import type { AnalyticsEvent } from '../../../backend-adapter/analytics/analytics.ts';
import { privacyEntityId } from '../../../backend-adapter/canon/subjects.ts';
import { isPortListening } from '../../../backend-adapter/runtime/local/free-port.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

type ErrorBody = { error: { code: string; message: string } };
const code = (body: unknown): string => (body as ErrorBody).error.code;

// Distinctive ids: finding one as a substring anywhere means exactly that user.
const ALICE = 'alice-7f3e9';
const BOB = 'bob-c41d2';
const TINA = 'tina-admin-9b8a';
const TENANT = 'tenant-int';
const MAX_FILE = 64 * 1024;
/** Tables of NexCoin billing (another part of issue 7), which does not take part in erasure yet. */
const BILLING_TABLES = /^(ledger|billing)_/;

/** Every file under `dir`, relative: what "nothing written" is checked against. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(d);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e);
      const s = await stat(p).catch(() => undefined);
      if (!s) continue;
      if (s.isDirectory()) await walk(p);
      else out.push(relative(dir, p)); // names only: the desktop's own logs grow meanwhile
    }
  };
  await walk(dir);
  return out.sort();
}

describe('integrations API: v-content, N.E.X.U.S AI, v-analytics, privacy (real adapter, one real desktop)', () => {
  let t: TestAdapter;
  let alice: string;
  let bob: string;
  let tina: string;
  let session: Session;
  let home: string;

  const upload = async (
    token: string,
    sessionId: string,
    name: string | undefined,
    body: BodyInit,
    headers: Record<string, string> = {},
  ) => {
    const h: Record<string, string> = {
      [HANDSHAKE_HEADER]: HANDSHAKE,
      authorization: `Bearer ${token}`,
      'content-type': 'application/octet-stream',
      ...headers,
    };
    if (name !== undefined) h['x-file-name'] = name;
    const res = await fetch(`${t.adapter.url}/api/v1/sessions/${sessionId}/files`, {
      method: 'POST',
      headers: h,
      body,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' }).catch((error: unknown) => ({ status: 0, error }));
    if (!('json' in res)) return { status: 0, body: undefined as unknown };
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };

  before(async () => {
    t = await startTestAdapter({
      CONTENT_MAX_FILE_BYTES: String(MAX_FILE),
      AI_REMEDIATION: 'recommend',
      ANALYTICS_METRICS_INTERVAL_MS: '3600000',
    });
    alice = await t.login(ALICE, TENANT);
    bob = await t.login(BOB, TENANT);
    const admin = await t.api('/api/v1/dev/login', {
      method: 'POST',
      body: { userId: TINA, tenantId: TENANT, roles: ['admin'] },
    });
    tina = (admin.body as { token: string }).token;
    const created = await t.api('/api/v1/sessions', {
      method: 'POST',
      token: alice,
      body: { tier: 'basic' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    session = created.body as Session;
    const row = await t.adapter.canon.getSession(session.sessionId);
    assert.ok(row?.runtime?.kind === 'local');
    home = row.runtime.workDir;
  });
  after(() => t.close());

  it('puts an upload into the session’s home and the private store, and gives it back to the owner only', async () => {
    const content = 'hello from the browser\n';
    const res = await upload(alice, session.sessionId, 'hello.txt', content);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const stored = res.body as StoredFileInfo;
    assert.deepEqual(
      [stored.name, stored.size, stored.sessionId],
      ['hello.txt', content.length, session.sessionId],
    );
    assert.equal(await readFile(join(home, 'hello.txt'), 'utf8'), content);

    const unicode = await upload(alice, session.sessionId, encodeURIComponent('Übersicht 2026.txt'), 'ü');
    assert.equal(unicode.status, 201);
    assert.equal(await readFile(join(home, 'Übersicht 2026.txt'), 'utf8'), 'ü');

    const replaced = await upload(alice, session.sessionId, 'hello.txt', 'second\n');
    assert.equal(replaced.status, 201);
    assert.equal(await readFile(join(home, 'hello.txt'), 'utf8'), 'second\n');

    const list = await t.api(`/api/v1/sessions/${session.sessionId}/files`, { token: alice });
    assert.deepEqual(
      (list.body as FileListResponse).files.map((f) => [f.name, f.size]),
      [
        ['hello.txt', 7],
        ['Übersicht 2026.txt', 2],
      ],
    );

    const download = await fetch(
      `${t.adapter.url}/api/v1/sessions/${session.sessionId}/files/${encodeURIComponent('Übersicht 2026.txt')}`,
      { headers: { [HANDSHAKE_HEADER]: HANDSHAKE, authorization: `Bearer ${alice}` } },
    );
    assert.equal(download.status, 200);
    assert.equal(await download.text(), 'ü');
    assert.equal(download.headers.get('content-type'), 'application/octet-stream');
    assert.match(
      download.headers.get('content-disposition') ?? '',
      /^attachment; .*filename\*=UTF-8''%C3%9Cbersicht%202026\.txt$/,
    );
    assert.equal(download.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(download.headers.get('cache-control'), 'private, no-store');

    // Bob, and even the tenant's admin, are told the session does not exist.
    for (const token of [bob, tina]) {
      const theirs = await t.api(`/api/v1/sessions/${session.sessionId}/files`, { token });
      assert.equal(code(theirs.body), 'SESSION_NOT_FOUND');
      const get = await t.api(`/api/v1/sessions/${session.sessionId}/files/hello.txt`, { token });
      assert.equal(code(get.body), 'SESSION_NOT_FOUND');
    }
    assert.equal(
      code((await t.api(`/api/v1/sessions/${session.sessionId}/files/nope.txt`, { token: alice })).body),
      'FILE_NOT_FOUND',
    );
  });

  it('refuses traversal, absolute, NUL, hidden and oversized uploads and other users’ sessions — writing nothing', async () => {
    const sessionsDir = join(t.dataDir, 'sessions');
    // The desktop's window manager writes its cache (`.cache/openbox/openbox.log`) whenever it gets to it,
    // once in a while during this test; no upload can write there (hidden names and paths are refused).
    const homeFiles = async () => (await tree(home)).filter((f) => !f.startsWith('.cache/'));
    const before = { data: await tree(t.dataDir), home: await homeFiles() };
    const cases: Array<[string, string | undefined, BodyInit, number, string, Record<string, string>?]> = [
      ['traversal', '../escape.txt', 'x', 400, 'FILE_NAME_INVALID'],
      ['encoded traversal', '%2e%2e%2f%2e%2e%2fescape.txt', 'x', 400, 'FILE_NAME_INVALID'],
      ['absolute', '/etc/passwd', 'x', 400, 'FILE_NAME_INVALID'],
      ['absolute, encoded', encodeURIComponent('/tmp/evil'), 'x', 400, 'FILE_NAME_INVALID'],
      ['NUL byte', 'evil%00.txt', 'x', 400, 'FILE_NAME_INVALID'],
      ['hidden file', '.bashrc', 'x', 400, 'FILE_NAME_INVALID'],
      ['runtime file', 'xvnc.log', 'x', 400, 'FILE_NAME_INVALID'],
      ['bidi override', encodeURIComponent('invoice\u202Etxt.exe'), 'x', 400, 'FILE_NAME_INVALID'],
      ['no name', undefined, 'x', 400, 'BAD_REQUEST'],
      ['oversized (declared)', 'big.bin', new Uint8Array(MAX_FILE + 1), 413, 'PAYLOAD_TOO_LARGE'],
      [
        'oversized (streamed, no length)',
        'big-stream.bin',
        new ReadableStream({
          start(controller) {
            for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(8192));
            controller.close();
          },
        }),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      ['JSON body', 'a.json', '{}', 415, 'UNSUPPORTED_MEDIA_TYPE', { 'content-type': 'application/json' }],
    ];
    for (const [label, name, body, status, expected, headers] of cases) {
      const res = await upload(alice, session.sessionId, name, body, headers);
      if (res.status === 0) continue; // the server closed the connection on an oversized body: also a refusal
      assert.equal(res.status, status, `${label}: ${JSON.stringify(res.body)}`);
      assert.equal(code(res.body), expected, label);
    }
    // Someone else's session (or one that does not exist) is not found, whatever the file.
    for (const token of [bob, tina]) {
      const res = await upload(token, session.sessionId, 'intruder.txt', 'x');
      assert.equal(code(res.body), 'SESSION_NOT_FOUND');
    }
    assert.equal(code((await upload(alice, 'no-such-session', 'a.txt', 'x')).body), 'SESSION_NOT_FOUND');

    assert.deepEqual(await homeFiles(), before.home, 'the home is unchanged');
    assert.deepEqual(
      (await tree(t.dataDir)).filter((f) => !f.startsWith('analytics/') && !f.startsWith('canon.sqlite')),
      before.data.filter((f) => !f.startsWith('analytics/') && !f.startsWith('canon.sqlite')),
      'nothing else appeared in the data directory (content store, staging, sessions)',
    );
    assert.ok(!(await tree(sessionsDir)).some((f) => /escape|evil|intruder|big/.test(f)));
  });

  it('N.E.X.U.S AI: recommendations on the owner’s session, predictions for the caller', async () => {
    await t.adapter.sampler.tick();
    await new Promise((r) => setTimeout(r, 300));
    await t.adapter.sampler.tick();
    const rec = await t.api(`/api/v1/sessions/${session.sessionId}/recommendations`, { token: alice });
    assert.equal(rec.status, 200, JSON.stringify(rec.body));
    const body = rec.body as RecommendationsResponse;
    assert.equal(body.source, 'embedded');
    assert.equal(body.workload.currentTier, 'basic');
    assert.equal(body.workload.direction, 'none');
    assert.match(body.workload.reason, /Not enough samples/);
    assert.equal(body.anomalies.detected, false);
    assert.ok(Array.isArray(body.remediation));
    assert.equal(
      code((await t.api(`/api/v1/sessions/${session.sessionId}/recommendations`, { token: bob })).body),
      'SESSION_NOT_FOUND',
    );

    const forecast = await t.api('/api/v1/predictions?hours=48', { token: alice });
    assert.equal(forecast.status, 200);
    const f = forecast.body as PredictionsResponse;
    assert.equal(f.hours.length, 48);
    assert.equal(f.basedOnSessions, 1);
    assert.ok(f.hours.every((h) => h.launchProbability >= 0 && h.launchProbability <= 1));
    assert.equal((await t.api('/api/v1/predictions', { token: bob })).status, 200);
    for (const bad of ['0', '169', 'abc']) {
      assert.equal(
        code((await t.api(`/api/v1/predictions?hours=${bad}`, { token: alice })).body),
        'BAD_REQUEST',
        bad,
      );
    }
  });

  it('v-analytics: the session’s metrics and every state change land in the local file', async () => {
    await t.adapter.sampler.tick();
    assert.ok((await t.adapter.integrations.sessionAnalytics.report()) >= 1);
    await t.adapter.analytics.flush();
    const events = (await readFile(join(t.dataDir, 'analytics', 'events.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AnalyticsEvent);
    const metrics = events.find(
      (e) => e.event === 'supercore.session.metrics' && e.properties.sessionId === session.sessionId,
    );
    assert.ok(metrics, 'a supercore.session.metrics event');
    assert.equal(metrics.userId, ALICE);
    assert.equal(metrics.properties.tier, 'basic');
    for (const key of ['duration', 'cpuUsage', 'memoryUsage'])
      assert.equal(typeof metrics.properties[key], 'number', key);
    assert.ok((metrics.properties.memoryUsage as number) > 0);
    const transitions = events
      .filter(
        (e) => e.event === 'supercore.session.lifecycle' && e.properties.sessionId === session.sessionId,
      )
      .map((e) => e.properties.to);
    assert.deepEqual(transitions, ['requested', 'provisioning', 'active']);
  });

  let usageBefore: Map<string, number>;

  it('privacy export: everything about the caller, nothing of anyone else, audited', async () => {
    // Bob leaves data of his own; an admin acts on one of Alice's (older) sessions.
    await t.api('/api/v1/preferences', {
      method: 'PUT',
      token: bob,
      body: {
        defaultTier: 'pro',
        streamQuality: 'auto',
        scaling: 'fit',
        keyboardLayout: 'de',
        idleTimeoutMinutes: 30,
        notifications: true,
      },
    });
    await t.api('/api/v1/vitals', {
      method: 'POST',
      token: bob,
      body: { name: 'LCP', value: 900, rating: 'good', id: 'b-1' },
    });
    await t.api('/api/v1/preferences', {
      method: 'PUT',
      token: alice,
      body: {
        defaultTier: 'basic',
        streamQuality: 'high',
        scaling: '1:1',
        keyboardLayout: 'en',
        idleTimeoutMinutes: 20,
        notifications: false,
      },
    });
    await t.api('/api/v1/vitals', {
      method: 'POST',
      token: alice,
      body: { name: 'INP', value: 80, rating: 'good', id: 'a-1' },
    });
    const canon = t.adapter.canon;
    const old: Session = {
      ...session,
      sessionId: 'old-session-of-alice',
      createdAt: '2026-01-05T09:00:00.000Z',
      canonTimestamp: '2026-01-05T09:00:00.000Z',
      state: 'requested',
    };
    await canon.createSession({ session: old, runtime: null, lastActivityAt: old.createdAt }, ALICE);
    await canon.transition({
      sessionId: old.sessionId,
      from: ['requested'],
      to: 'active',
      action: 'genesis.active',
      actor: 'system:lifecycle',
      at: new Date('2026-01-05T09:00:05.000Z'),
    });
    await canon.transition({
      sessionId: old.sessionId,
      from: ['active'],
      to: 'terminated',
      action: 'termination.completed',
      actor: TINA,
      at: new Date('2026-01-05T10:00:05.000Z'),
      usage: {
        userId: ALICE,
        tenantId: TENANT,
        sessionId: old.sessionId,
        startTime: '2026-01-05T09:00:05.000Z',
        endTime: '2026-01-05T10:00:05.000Z',
        resourceConsumption: {
          activeSeconds: 3600,
          pausedSeconds: 0,
          cpuMillicoreSeconds: 3_600_000,
          memoryMiBSeconds: 7_372_800,
        },
        cost: 500_000,
        canonRecord: true,
      },
    });
    await t.adapter.analytics.flush();

    const res = await t.api('/api/v1/privacy/export', { token: alice });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const doc = res.body as PrivacyExport;
    assert.equal(doc.format, 'v-supercore.privacy-export.v1');
    assert.deepEqual(doc.subject, { userId: ALICE, tenantId: TENANT });
    assert.deepEqual(doc.sessions.map((s) => s.sessionId).sort(), [old.sessionId, session.sessionId].sort());
    assert.deepEqual(
      doc.usage.map((u) => [u.sessionId, u.cost]),
      [[old.sessionId, 500_000]],
    );
    assert.equal(doc.preferences?.preferences.keyboardLayout, 'en');
    assert.equal(doc.allocations.length, 2);
    assert.deepEqual(
      doc.files.map((f) => f.name),
      ['hello.txt', 'Übersicht 2026.txt'],
    );
    const actions = doc.canonRecords.map((r) => r.action);
    for (const a of [
      'genesis.requested',
      'genesis.active',
      'termination.completed',
      'usage.recorded',
      'preferences.updated',
    ]) {
      assert.ok(actions.includes(a), a);
    }
    const byAdmin = doc.canonRecords.find(
      (r) => r.entityId === old.sessionId && r.action === 'termination.completed',
    );
    assert.equal(byAdmin?.actor, 'another-user', 'the admin’s identity is not disclosed');
    assert.equal(doc.analytics.heldBy, 'local-file');
    const kinds = new Set(doc.analytics.events.map((e) => e.event));
    for (const e of [
      'supercore.web-vitals',
      'supercore.session.lifecycle',
      'supercore.session.metrics',
      'supercore.content.uploaded',
    ]) {
      assert.ok(kinds.has(e), e);
    }
    assert.ok(doc.analytics.events.every((e) => e.userId === ALICE));
    const text = JSON.stringify(doc);
    assert.ok(!text.includes(BOB), 'nothing of Bob');
    assert.ok(!text.includes(TINA), 'nothing naming the admin');

    // Only a tenant admin may export someone else, and it is recorded.
    assert.equal(
      code((await t.api(`/api/v1/privacy/export?userId=${ALICE}`, { token: bob })).body),
      'ADMIN_REQUIRED',
    );
    const asAdmin = await t.api(`/api/v1/privacy/export?userId=${ALICE}`, { token: tina });
    assert.equal(asAdmin.status, 200);
    const audit = await canon.listRecords(privacyEntityId({ userId: ALICE, tenantId: TENANT }));
    assert.deepEqual(
      audit.map((r) => [r.action, r.actor, r.payload.requestedBy]),
      [
        ['privacy.exported', ALICE, 'self'],
        ['privacy.exported', TINA, 'tenant-admin'],
      ],
    );

    usageBefore = new Map();
    for (const row of await canon.listSessions({ tenantId: TENANT })) {
      const u = await canon.getUsage(row.session.sessionId);
      if (u) usageBefore.set(u.sessionId, u.cost);
    }
  });

  it('privacy erase: sessions ended, the id gone from everything readable, usage kept under a pseudonym, audited', async () => {
    const row = await t.adapter.canon.getSession(session.sessionId);
    assert.ok(row?.runtime?.kind === 'local');
    const rfbPort = row.runtime.port;

    assert.equal(
      code(
        (
          await t.api('/api/v1/privacy/erase', {
            method: 'POST',
            token: bob,
            body: { userId: ALICE, confirm: true },
          })
        ).body,
      ),
      'ADMIN_REQUIRED',
    );
    assert.equal(
      code((await t.api('/api/v1/privacy/erase', { method: 'POST', token: alice, body: {} })).body),
      'BAD_REQUEST',
    );

    const res = await t.api('/api/v1/privacy/erase', {
      method: 'POST',
      token: alice,
      body: { confirm: true },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const erased = res.body as ErasureResponse;
    assert.match(erased.pseudonym, /^subj_[0-9a-f]{32}$/);
    assert.equal(erased.sessionsEnded, 1);
    assert.equal(erased.sessionsPseudonymised, 2);
    assert.equal(erased.usageRecordsPseudonymised, 2);
    assert.equal(erased.preferencesDeleted, true);
    assert.deepEqual(erased.holders.content, { filesDeleted: 2 });
    assert.ok((erased.holders.analytics?.eventsPseudonymised as number) > 3);

    // The desktop is gone, through the lifecycle (so its usage was metered like any termination).
    assert.equal(await isPortListening('127.0.0.1', rfbPort), false);
    const ended = await t.adapter.canon.getSession(session.sessionId);
    assert.equal(ended?.session.state, 'terminated');
    assert.equal(ended?.session.userId, erased.pseudonym);
    const records = await t.adapter.canon.listRecords(session.sessionId);
    assert.equal(records.find((r) => r.toState === 'terminating')?.actor, 'system:privacy');

    // Usage: every earlier record unchanged, the ended session's one added; all under the pseudonym.
    for (const [sessionId, cost] of usageBefore) {
      const u = await t.adapter.canon.getUsage(sessionId);
      assert.equal(u?.cost, cost, sessionId);
      assert.equal(u?.userId, erased.pseudonym);
    }
    assert.equal((await t.adapter.canon.getUsage(session.sessionId))?.userId, erased.pseudonym);

    // Nowhere readable: Canon Memory (every table), the analytics file, the content store, the API.
    const db = new Database(join(t.dataDir, 'canon.sqlite'), { readonly: true });
    try {
      const tables = db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all()
        .map((r) => r.name)
        // Billing's own tables are checked, as a known gap, by the TODO test below.
        .filter((name) => !BILLING_TABLES.test(name));
      assert.ok(tables.includes('canon_records') && tables.includes('subjects'));
      for (const table of tables) {
        const rows = JSON.stringify(db.prepare(`SELECT * FROM "${table}"`).all());
        assert.ok(!rows.includes(ALICE), `${table} still names the erased user`);
      }
      assert.ok(JSON.stringify(db.prepare('SELECT * FROM canon_records').all()).includes(erased.pseudonym));
    } finally {
      db.close();
    }
    assert.ok(!(await readFile(join(t.dataDir, 'analytics', 'events.jsonl'), 'utf8')).includes(ALICE));
    assert.deepEqual(await tree(join(t.dataDir, 'content')), [], 'her files are deleted');
    const bobPrefs = await t.api('/api/v1/preferences', { token: bob });
    assert.equal(
      (bobPrefs.body as { preferences: { keyboardLayout: string } }).preferences.keyboardLayout,
      'de',
      'Bob is untouched',
    );
    const tenantView = await t.api('/api/v1/sessions', { token: tina });
    assert.ok(!JSON.stringify(tenantView.body).includes(ALICE));
    assert.ok(
      JSON.stringify(tenantView.body).includes(erased.pseudonym),
      'the admin sees the sessions, pseudonymised',
    );
    const again = await t.api('/api/v1/privacy/export', { token: alice });
    const fresh = again.body as PrivacyExport;
    assert.deepEqual(
      [fresh.sessions, fresh.usage, fresh.files, fresh.preferences],
      [[], [], [], null],
      'a returning token finds nothing',
    );

    // The audit trail, readable through the pseudonym only.
    assert.deepEqual(
      await t.adapter.canon
        .listRecords(privacyEntityId({ userId: ALICE, tenantId: TENANT }))
        .then((r) => r.filter((x) => x.action === 'privacy.erased')),
      [],
    );
    const audit = await t.adapter.canon.listRecords(
      privacyEntityId({ userId: erased.pseudonym, tenantId: TENANT }),
    );
    const record = audit.find((r) => r.action === 'privacy.erased');
    assert.equal(record?.recordId, erased.auditRecordId);
    assert.equal(record?.actor, erased.pseudonym);
    assert.equal(record?.payload.requestedBy, 'self');
    assert.equal(record?.payload.sessionsEnded, 1);
  });

  it('lets a tenant admin erase a user of the tenant', async () => {
    const res = await t.api('/api/v1/privacy/erase', {
      method: 'POST',
      token: tina,
      body: { userId: BOB, confirm: true },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const erased = res.body as ErasureResponse;
    assert.equal(erased.preferencesDeleted, true);
    const audit = await t.adapter.canon.listRecords(
      privacyEntityId({ userId: erased.pseudonym, tenantId: TENANT }),
    );
    assert.equal(audit.at(-1)?.actor, TINA);
    assert.equal(audit.at(-1)?.payload.requestedBy, 'tenant-admin');
  });

  it('leaves no readable trace of an erased user in the NexCoin ledger and billing records', () => {
    const db = new Database(join(t.dataDir, 'canon.sqlite'), { readonly: true });
    try {
      const tables = db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all()
        .filter(({ name }) => BILLING_TABLES.test(name));
      for (const { name } of tables) {
        assert.ok(!JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all()).includes(ALICE), name);
      }
    } finally {
      db.close();
    }
  });
});
