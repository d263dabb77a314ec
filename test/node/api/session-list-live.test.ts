// What Active Sessions shows beside each row, from a real adapter and a real desktop: the server's cost so far
// pushed live over GET /api/v1/events (session.changed carries it, session.cost follows it), and the desktop's
// thumbnail from GET /api/v1/sessions/:id/thumbnail (auth'd, tenant-isolated, cached, paused = last picture,
// ended = none). One-second billing periods make the cost move within the test.
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../../protocol/handshake.ts';
import type { LiveEvent } from '../../../protocol/live-events.ts';
import type { Session } from '../../../protocol/session.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

/** The PNG's size and every pixel's RGB (unfiltered 8-bit truecolour, as the adapter writes it). */
function readPng(png: Buffer): { width: number; height: number; rgb: Buffer } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let offset = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
    }
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  assert.equal(raw.length, (width * 3 + 1) * height);
  return { width, height, rgb: raw };
}

/** Reads a live event stream until `until` holds for the events so far (or the timeout). */
async function collectEvents(
  t: TestAdapter,
  token: string,
  until: (events: LiveEvent[]) => boolean,
  timeoutMs = 30_000,
): Promise<LiveEvent[]> {
  const aborter = new AbortController();
  const timer = setTimeout(() => aborter.abort(), timeoutMs);
  const events: LiveEvent[] = [];
  try {
    const res = await fetch(`${t.adapter.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${token}`, [HANDSHAKE_HEADER]: HANDSHAKE },
      signal: aborter.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body?.getReader();
    if (!reader) throw new Error('no body');
    const decoder = new TextDecoder();
    let buffer = '';
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (name && data) events.push({ event: name, data: JSON.parse(data) } as LiveEvent);
      }
    }
  } catch (error) {
    if (!aborter.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    aborter.abort();
  }
  return events;
}

describe('Active Sessions data from the server (real adapter, real desktop)', () => {
  let t: TestAdapter;
  let alice: string;
  let bob: string;
  let mallory: string;
  let session: Session;

  before(async () => {
    t = await startTestAdapter({
      BILLING_PERIOD_SECONDS: '1',
      BILLING_CYCLE_INTERVAL_MS: '200',
      BILLING_SETTLE_DELAY_MS: '0',
    });
    alice = await t.login('alice', 'puabo');
    bob = await t.login('bob', 'puabo');
    mallory = await t.login('alice', 'another-tenant'); // the same user id in another tenant
    const res = await t.api('/api/v1/sessions', { method: 'POST', token: alice, body: { tier: 'basic' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    session = res.body as Session;
    assert.equal(session.state, 'active');
  });
  after(async () => {
    await t
      .api(`/api/v1/sessions/${session.sessionId}`, { method: 'DELETE', token: alice })
      .catch(() => undefined);
    await t.close();
  });

  it('pushes the cost so far as billing counts it, and only to the owner', async () => {
    const events = await collectEvents(
      t,
      alice,
      (es) => es.filter((e) => e.event === 'session.cost').length >= 2,
    );
    const costs = events.flatMap((e) =>
      e.event === 'session.cost' && e.data.sessionId === session.sessionId
        ? [e.data.costSoFarMicroNexCoin]
        : [],
    );
    assert.ok(costs.length >= 2, `two cost pushes (got ${JSON.stringify(events.map((e) => e.event))})`);
    assert.ok((costs[1] ?? 0) > (costs[0] ?? 0), `the cost grows: ${costs.join(' → ')}`);
    const list = await t.api('/api/v1/sessions', { token: alice });
    const listed = (list.body as { sessions: Session[] }).sessions[0];
    assert.ok((listed?.costSoFarMicroNexCoin ?? 0) >= (costs[1] ?? 0), 'the list agrees with the pushes');
    const others = await collectEvents(t, bob, () => false, 2500);
    assert.deepEqual(
      others.filter((e) => e.event === 'session.cost'),
      [],
      'another user of the tenant hears nothing',
    );
  });

  it('serves a thumbnail of the live desktop: a small PNG with the desktop on it, cached briefly', async () => {
    const res = await fetch(`${t.adapter.url}/api/v1/sessions/${session.sessionId}/thumbnail`, {
      headers: { authorization: `Bearer ${alice}`, [HANDSHAKE_HEADER]: HANDSHAKE },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.headers.get('x-thumbnail-state'), 'live');
    const takenAt = res.headers.get('x-thumbnail-taken-at');
    const png = readPng(Buffer.from(await res.arrayBuffer()));
    assert.ok(png.width <= 192 && png.height <= 120, `${png.width}×${png.height} fits the thumbnail box`);
    assert.equal(png.width, 192, 'a 1280×720 desktop scales to 192 wide');
    assert.equal(png.height, 108);
    const colours = new Set<number>();
    for (let i = 0; i + 2 < png.rgb.length; i += 3) {
      colours.add((png.rgb[i] ?? 0) * 65536 + (png.rgb[i + 1] ?? 0) * 256 + (png.rgb[i + 2] ?? 0));
    }
    assert.ok(colours.size > 2, `the desktop is drawn, not a blank picture (${colours.size} colours)`);
    const again = await fetch(`${t.adapter.url}/api/v1/sessions/${session.sessionId}/thumbnail`, {
      headers: { authorization: `Bearer ${alice}`, [HANDSHAKE_HEADER]: HANDSHAKE },
    });
    assert.equal(again.headers.get('x-thumbnail-taken-at'), takenAt, 'the cached picture within 5 s');
  });

  it('never shows a desktop to anyone else, and refuses requests without credentials', async () => {
    for (const token of [bob, mallory]) {
      const res = await t.api(`/api/v1/sessions/${session.sessionId}/thumbnail`, { token });
      assert.equal(res.status, 404);
      assert.equal((res.body as { error: { code: string } }).error.code, 'SESSION_NOT_FOUND');
    }
    const anonymous = await t.api(`/api/v1/sessions/${session.sessionId}/thumbnail`);
    assert.equal(anonymous.status, 401);
    const malformed = await t.api('/api/v1/sessions/..%2F..%2Fetc/thumbnail', { token: alice });
    assert.equal(malformed.status, 400);
  });

  it('a paused desktop keeps its last picture, marked paused; an ended one has none', async () => {
    const paused = await t.api(`/api/v1/sessions/${session.sessionId}/pause`, {
      method: 'POST',
      token: alice,
    });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    const res = await fetch(`${t.adapter.url}/api/v1/sessions/${session.sessionId}/thumbnail`, {
      headers: { authorization: `Bearer ${alice}`, [HANDSHAKE_HEADER]: HANDSHAKE },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-thumbnail-state'), 'paused');
    await res.arrayBuffer();
    const ended = await t.api(`/api/v1/sessions/${session.sessionId}`, { method: 'DELETE', token: alice });
    assert.equal(ended.status, 200);
    const gone = await t.api(`/api/v1/sessions/${session.sessionId}/thumbnail`, { token: alice });
    assert.equal(gone.status, 409);
    assert.equal((gone.body as { error: { code: string } }).error.code, 'SESSION_NOT_STREAMABLE');
  });
});
