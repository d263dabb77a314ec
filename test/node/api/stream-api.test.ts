import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pack } from 'msgpackr';
import type { Session } from '../../../protocol/session.ts';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOL,
} from '../../../protocol/stream.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';
import { nextMessages, openStream, streamProtocols } from '../../support/stream-client.ts';

describe('session stream over WebSocket (real adapter, real Xvnc)', () => {
  let t: TestAdapter;
  let alice: string;
  let bob: string;
  let session: Session;
  let url: string;

  before(async () => {
    t = await startTestAdapter();
    alice = await t.login('alice');
    bob = await t.login('bob');
    session = (await t.api('/api/v1/sessions', { method: 'POST', token: alice, body: { tier: 'basic' } }))
      .body as Session;
    url = `${t.adapter.url.replace('http', 'ws')}/api/v1/sessions/${session.sessionId}/stream`;
  });
  after(() => t.close());

  const protocols = streamProtocols;

  it('streams the owner’s desktop: init with the tier’s size, then updates that cover the screen', async () => {
    const { ws } = await openStream(url, protocols(alice));
    assert.ok(ws);
    assert.equal(ws.protocol, STREAM_SUBPROTOCOL);
    const [init, first] = await nextMessages(ws, 2);
    assert.deepEqual(init && { t: init.t, ...(init.t === 'init' ? { w: init.width, h: init.height } : {}) }, {
      t: 'init',
      w: 1280,
      h: 720,
    });
    assert.equal(first?.t, 'update');
    if (first?.t === 'update') {
      const area = first.rects.reduce((a, r) => a + r.w * r.h, 0);
      assert.ok(area >= 1280 * 720, `first update covers ${area} pixels`);
      ws.send(pack({ t: 'ack', seq: first.seq }));
    }
    ws.close();
  });

  it('refuses other users, missing credentials, a wrong handshake and unknown sessions before upgrading', async () => {
    assert.equal((await openStream(url, protocols(bob))).refusedWith, 404);
    assert.equal((await openStream(url, [STREAM_SUBPROTOCOL, HANDSHAKE_SUBPROTOCOL])).refusedWith, 401);
    assert.equal(
      (
        await openStream(url, [
          STREAM_SUBPROTOCOL,
          BEARER_SUBPROTOCOL_PREFIX + 'x.y.z',
          HANDSHAKE_SUBPROTOCOL,
        ])
      ).refusedWith,
      401,
    );
    assert.equal(
      (await openStream(url, [STREAM_SUBPROTOCOL, BEARER_SUBPROTOCOL_PREFIX + alice])).refusedWith,
      412,
    );
    const unknown = url.replace(session.sessionId, 'no-such-session');
    assert.equal((await openStream(unknown, protocols(alice))).refusedWith, 404);
  });

  it('closes the stream with a protocol error on a malformed message, and the desktop keeps serving', async () => {
    const { ws } = await openStream(url, protocols(alice));
    assert.ok(ws);
    await nextMessages(ws, 1);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(Buffer.from([0xc1, 0xff, 0x00]));
    assert.equal(await closed, 4400);
    const again = await openStream(url, protocols(alice));
    assert.ok(again.ws);
    const [init] = await nextMessages(again.ws, 1);
    assert.equal(init?.t, 'init');
    again.ws.close();
  });

  it('refuses to stream a terminated session', async () => {
    await t.api(`/api/v1/sessions/${session.sessionId}`, { method: 'DELETE', token: alice });
    assert.equal((await openStream(url, protocols(alice))).refusedWith, 409);
  });
});
