import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { DEFAULT_ENCODINGS } from '../../../backend-adapter/gateway/rfb-connection.ts';
import { bridgeStream } from '../../../backend-adapter/gateway/stream-bridge.ts';
import { loadWebRtcConfig, type WebRtcConfig } from '../../../backend-adapter/gateway/webrtc-config.ts';
import { AdapterMetrics } from '../../../backend-adapter/observability/prometheus-metrics.ts';
import { StreamStats } from '../../../backend-adapter/observability/stream-stats.ts';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { STREAM_DATACHANNEL_FRAGMENT_BYTES } from '../../../protocol/stream-datachannel-framing.ts';
import {
  STREAM_ACK_WINDOW,
  STREAM_SUBPROTOCOL,
  StreamCloseCode,
  negotiateStreamVersion,
  streamSubprotocol,
  type ServerStreamMessage,
} from '../../../protocol/stream.ts';
import { WebRtcTestViewer } from '../../support/webrtc-test-viewer.ts';
import { acceptNone38, startFakeRfbServer, type FakePeer } from './fake-rfb-server.ts';
import { fbuHeader, rect } from './rfb-stream-builder.ts';

const logger = pino({ level: 'silent' });

type ClientMessage =
  | { type: 'request' }
  | { type: 'key'; down: boolean; keysym: number }
  | { type: 'pointer'; buttons: number; x: number; y: number }
  | { type: 'cutText'; text: string };

async function readClientMessage(peer: FakePeer): Promise<ClientMessage> {
  const [type] = await peer.read(1);
  if (type === 3) {
    await peer.read(9);
    return { type: 'request' };
  }
  if (type === 4) {
    const b = Buffer.from(await peer.read(7));
    return { type: 'key', down: b[0] === 1, keysym: b.readUInt32BE(3) };
  }
  if (type === 5) {
    const b = Buffer.from(await peer.read(5));
    return { type: 'pointer', buttons: b[0] ?? -1, x: b.readUInt16BE(1), y: b.readUInt16BE(3) };
  }
  if (type === 6) {
    const b = Buffer.from(await peer.read(7));
    return { type: 'cutText', text: Buffer.from(await peer.read(b.readUInt32BE(3))).toString('latin1') };
  }
  throw new Error(`unexpected client message ${type}`);
}

/**
 * A VNC server that answers every update request with a 1×1 Raw update, or, once `big` is set, with one
 * 400×300 Raw rectangle (480,000 bytes: many DataChannel fragments), and records what it got.
 */
async function startDesktop() {
  const received: ClientMessage[] = [];
  const state = { big: false };
  const server = await startFakeRfbServer(async (peer) => {
    await acceptNone38(peer, 640, 480, 'rtc desk');
    await peer.read(20 + 4 + DEFAULT_ENCODINGS.length * 4);
    for (;;) {
      const message = await readClientMessage(peer);
      received.push(message);
      if (message.type !== 'request') continue;
      if (state.big) {
        const pixels = new Uint8Array(400 * 300 * 4);
        for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 0xff;
        peer.write(fbuHeader(1), rect(0, 0, 400, 300, Encoding.Raw, pixels));
      } else peer.write(fbuHeader(1), rect(0, 0, 1, 1, Encoding.Raw, new Uint8Array(4)));
    }
  });
  return { server, received, state, requests: () => received.filter((m) => m.type === 'request').length };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(10);
  }
}

const rtcConfig = (env: NodeJS.ProcessEnv = {}): WebRtcConfig =>
  loadWebRtcConfig({ STREAM_WEBRTC: 'on', ...env });

/** A gateway: a WebSocket server bridging each viewer to the desktop, with the given WebRTC settings. */
async function startGateway(
  desktopPort: number,
  options: { webrtc?: WebRtcConfig; canSendInput?: () => boolean; stats?: StreamStats },
) {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handleProtocols: (protocols) => {
      const version = negotiateStreamVersion(protocols);
      return version === null ? false : streamSubprotocol(version);
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const bridges: Promise<void>[] = [];
  wss.on('connection', (socket) => {
    // Counted as the adapter's stream route counts its streams, for as long as the bridge runs.
    const counted = options.stats?.observe('session-1', () => undefined);
    bridges.push(
      bridgeStream(
        socket,
        { host: '127.0.0.1', port: desktopPort },
        { logger, webrtc: options.webrtc, canSendInput: options.canSendInput, observer: counted?.observer },
      ).finally(() => counted?.release()),
    );
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    async close() {
      for (const client of wss.clients) client.terminate();
      await Promise.all(bridges);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

async function openViewer(url: string, options: { dropCandidates?: boolean } = {}) {
  const ws = new WebSocket(url, [STREAM_SUBPROTOCOL]);
  const viewer = new WebRtcTestViewer(ws, options);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, viewer, closed };
}

const updates = (messages: ServerStreamMessage[]) =>
  messages.filter((m): m is Extract<ServerStreamMessage, { t: 'update' }> => m.t === 'update');

describe('WebRTC DataChannel transport (werift viewer against the gateway)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  it('switches to the DataChannel and carries updates, acks and input there, in order', async () => {
    const desktop = await startDesktop();
    const gateway = await startGateway(desktop.server.port, { webrtc: rtcConfig() });
    const { ws, viewer } = await openViewer(gateway.url);
    cleanups.push(
      () => desktop.server.close(),
      () => gateway.close(),
      () => viewer.close(),
    );
    await waitFor(() => viewer.messages().some((m) => m.t === 'init'), 'init');
    await viewer.offer();
    await waitFor(() => viewer.via === 'datachannel', 'the switch to the DataChannel');
    assert.ok(viewer.signals.some((s) => s.kind === 'answer'));

    // Acknowledge whatever came on the WebSocket before the switch (acks still go there until now).
    for (const u of updates(viewer.messages())) viewer.send({ t: 'ack', seq: u.seq });
    const firstOnChannel = (): number =>
      viewer.received.filter((r) => r.via === 'datachannel' && r.message.t === 'update').length;
    await waitFor(() => firstOnChannel() >= 1, 'an update on the DataChannel');
    // Draw and acknowledge a few more, all on the DataChannel.
    for (let round = 0; round < 5; round++) {
      const last = updates(viewer.messages()).at(-1);
      assert.ok(last);
      viewer.send({ t: 'ack', seq: last.seq });
      await waitFor(
        () => (updates(viewer.messages()).at(-1)?.seq ?? 0) > last.seq,
        `update after ${last.seq}`,
      );
    }
    const seqs = updates(viewer.messages()).map((u) => u.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      'every update arrives once, in order, across the switch',
    );
    // Flow control is the same: never more than STREAM_ACK_WINDOW unacknowledged.
    const lastAcked = (seqs.at(-1) ?? 0) - 1;
    await delay(200);
    assert.ok((updates(viewer.messages()).at(-1)?.seq ?? 0) <= lastAcked + STREAM_ACK_WINDOW);

    viewer.send({ t: 'key', keysym: 0x61, down: true });
    viewer.send({ t: 'pointer', x: 10, y: 20, buttons: 1 });
    viewer.send({ t: 'clipboard', text: 'via datachannel' });
    await waitFor(() => desktop.received.some((m) => m.type === 'cutText'), 'input at the desktop');
    assert.deepEqual(
      desktop.received.filter((m) => m.type !== 'request'),
      [
        { type: 'key', down: true, keysym: 0x61 },
        { type: 'pointer', buttons: 1, x: 10, y: 20 },
        { type: 'cutText', text: 'via datachannel' },
      ],
    );
    // Latency probes run on the DataChannel too.
    viewer.send({ t: 'ping', id: 77 });
    await waitFor(
      () => viewer.received.some((r) => r.via === 'datachannel' && r.message.t === 'pong'),
      'a pong on the DataChannel',
    );
    // The WebSocket is the lifetime: closing it ends the stream.
    ws.close(1000);
    await waitFor(
      () => viewer.pc.connectionState === 'closed' || viewer.channel.readyState !== 'open',
      'peer closed',
    );
  });

  it('drops an observer’s input on the DataChannel exactly as on the WebSocket', async () => {
    const desktop = await startDesktop();
    const gateway = await startGateway(desktop.server.port, {
      webrtc: rtcConfig(),
      canSendInput: () => false,
    });
    const { viewer } = await openViewer(gateway.url);
    cleanups.push(
      () => desktop.server.close(),
      () => gateway.close(),
      () => viewer.close(),
    );
    await waitFor(() => viewer.messages().some((m) => m.t === 'init'), 'init');
    await viewer.offer();
    await waitFor(() => viewer.via === 'datachannel', 'the switch');
    viewer.send({ t: 'key', keysym: 0x62, down: true });
    viewer.send({ t: 'pointer', x: 1, y: 1, buttons: 1 });
    viewer.send({ t: 'clipboard', text: 'nope' });
    viewer.send({ t: 'resize', width: 800, height: 600 });
    // Acks are not input: they still move the stream on.
    const before = desktop.requests();
    for (const u of updates(viewer.messages())) viewer.send({ t: 'ack', seq: u.seq });
    await waitFor(() => desktop.requests() > before, 'a new update request after the acks');
    await delay(200);
    assert.deepEqual(
      desktop.received.filter((m) => m.type !== 'request'),
      [],
      'no key, pointer or clipboard reached the desktop',
    );
  });

  it('fragments a large update into DataChannel messages the viewer accepts, and joins them intact', async () => {
    const desktop = await startDesktop();
    const gateway = await startGateway(desktop.server.port, { webrtc: rtcConfig() });
    const { viewer } = await openViewer(gateway.url);
    cleanups.push(
      () => desktop.server.close(),
      () => gateway.close(),
      () => viewer.close(),
    );
    await waitFor(() => viewer.messages().some((m) => m.t === 'init'), 'init');
    await viewer.offer();
    await waitFor(() => viewer.via === 'datachannel', 'the switch');
    desktop.state.big = true;
    for (const u of updates(viewer.messages())) viewer.send({ t: 'ack', seq: u.seq });
    const isBig = (m: ServerStreamMessage) => m.t === 'update' && m.rects[0]?.w === 400;
    await waitFor(() => viewer.received.some((r) => isBig(r.message)), 'the big update', 20_000);
    const big = viewer.received.find((r) => isBig(r.message));
    assert.ok(big && big.message.t === 'update');
    assert.equal(big.via, 'datachannel');
    assert.ok(big.fragments.length >= 8, `${big.fragments.length} fragments`);
    assert.ok(big.fragments.every((n) => n <= STREAM_DATACHANNEL_FRAGMENT_BYTES));
    const data = big.message.rects[0]?.data;
    assert.equal(data?.length, 400 * 300 * 4);
    assert.ok(
      data?.every((v, i) => v === ((i * 7) & 0xff)),
      'the pixels arrive unchanged',
    );
  });

  it('refuses an offer when WebRTC is off, and the stream carries on over the WebSocket', async () => {
    const desktop = await startDesktop();
    const gateway = await startGateway(desktop.server.port, { webrtc: rtcConfig({ STREAM_WEBRTC: 'off' }) });
    const { viewer } = await openViewer(gateway.url);
    cleanups.push(
      () => desktop.server.close(),
      () => gateway.close(),
      () => viewer.close(),
    );
    await waitFor(() => viewer.messages().some((m) => m.t === 'init'), 'init');
    await viewer.offer();
    await waitFor(() => viewer.signals.some((s) => s.kind === 'refused'), 'the refusal');
    assert.deepEqual(viewer.signals, [{ kind: 'refused', reason: 'WebRTC is disabled on this gateway' }]);
    for (const u of updates(viewer.messages())) viewer.send({ t: 'ack', seq: u.seq });
    viewer.send({ t: 'key', keysym: 0x63, down: true });
    await waitFor(() => desktop.received.some((m) => m.type === 'key'), 'the key over the WebSocket');
    await waitFor(() => updates(viewer.messages()).length >= 2, 'updates over the WebSocket');
    assert.equal(viewer.via, 'websocket');
    assert.ok(viewer.received.every((r) => r.via === 'websocket'));
  });

  it('gives up on a peer ICE cannot connect, says so, and keeps streaming over the WebSocket', async () => {
    const desktop = await startDesktop();
    const gateway = await startGateway(desktop.server.port, {
      webrtc: rtcConfig({ STREAM_WEBRTC_CONNECT_TIMEOUT_MS: '1500' }),
    });
    const { viewer } = await openViewer(gateway.url, { dropCandidates: true });
    cleanups.push(
      () => desktop.server.close(),
      () => gateway.close(),
      () => viewer.close(),
    );
    await waitFor(() => viewer.messages().some((m) => m.t === 'init'), 'init');
    await viewer.offer();
    await waitFor(() => viewer.signals.some((s) => s.kind === 'refused'), 'the gateway giving up', 8000);
    const refused = viewer.signals.find((s) => s.kind === 'refused');
    assert.match(refused?.kind === 'refused' ? refused.reason : '', /not connected within 1500 ms|failed/);
    for (const u of updates(viewer.messages())) viewer.send({ t: 'ack', seq: u.seq });
    await waitFor(() => updates(viewer.messages()).length >= 2, 'updates over the WebSocket');
    assert.equal(viewer.via, 'websocket');
    assert.ok(!viewer.messages().some((m) => m.t === 'transport'));
  });

  it('counts streams by transport in v_supercore_streams: websocket first, datachannel after the switch', async () => {
    const canon = new SqliteCanonStore(':memory:');
    const metrics = new AdapterMetrics(canon);
    const stats = new StreamStats();
    metrics.countStreams(stats);
    const streams = async (): Promise<Record<string, number>> => {
      const gauge = await metrics.registry.getSingleMetric('v_supercore_streams')?.get();
      return Object.fromEntries((gauge?.values ?? []).map((v) => [String(v.labels['transport']), v.value]));
    };
    // Two desktops (the fake VNC server serves one connection), one replica's stats.
    const desktops = [await startDesktop(), await startDesktop()];
    const gateways = await Promise.all(
      desktops.map((d) => startGateway(d.server.port, { webrtc: rtcConfig(), stats })),
    );
    cleanups.push(
      ...desktops.map((d) => () => d.server.close()),
      ...gateways.map((g) => () => g.close()),
      async () => canon.close(),
    );
    assert.deepEqual(
      await streams(),
      { websocket: 0, datachannel: 0 },
      'both series exist before any stream',
    );

    const first = await openViewer(gateways[0]?.url ?? '');
    const second = await openViewer(gateways[1]?.url ?? '');
    cleanups.push(
      () => first.viewer.close(),
      () => second.viewer.close(),
    );
    await waitFor(() => first.viewer.messages().some((m) => m.t === 'init'), 'init');
    await waitFor(() => second.viewer.messages().some((m) => m.t === 'init'), 'init');
    assert.deepEqual(await streams(), { websocket: 2, datachannel: 0 });

    await first.viewer.offer();
    await waitFor(() => first.viewer.via === 'datachannel', 'the switch');
    await waitFor(() => stats.streamsByTransport().datachannel === 1, 'the switch counted');
    assert.deepEqual(await streams(), { websocket: 1, datachannel: 1 });

    first.ws.close(1000);
    await first.closed;
    await waitFor(() => stats.streamsByTransport().datachannel === 0, 'the ended stream uncounted');
    second.ws.close(1000);
    await second.closed;
    await waitFor(() => stats.streamsByTransport().websocket === 0, 'the other ended stream uncounted');
    assert.deepEqual(await streams(), { websocket: 0, datachannel: 0 });
  });

  it('closes the stream with 4503 when the DataChannel dies after the switch', async () => {
    const desktop = await startDesktop();
    const gateway = await startGateway(desktop.server.port, { webrtc: rtcConfig() });
    const { viewer, closed } = await openViewer(gateway.url);
    cleanups.push(
      () => desktop.server.close(),
      () => gateway.close(),
    );
    await waitFor(() => viewer.messages().some((m) => m.t === 'init'), 'init');
    await viewer.offer();
    await waitFor(() => viewer.via === 'datachannel', 'the switch');
    await viewer.close();
    assert.equal(await closed, StreamCloseCode.TransportLost);
  });
});
