import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pack, unpack } from 'msgpackr';
import pino from 'pino';
import type { WebSocket } from 'ws';
import { AiService } from '../../../backend-adapter/ai/ai-service.ts';
import { EmbeddedNexusAi } from '../../../backend-adapter/ai/nexus-ai.ts';
import { DEFAULT_REMEDIATION_POLICY } from '../../../backend-adapter/ai/remediation.ts';
import type { AnalyticsEvent } from '../../../backend-adapter/analytics/analytics.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { DEFAULT_ENCODINGS } from '../../../backend-adapter/gateway/rfb-connection.ts';
import { bridgeStream } from '../../../backend-adapter/gateway/stream-bridge.ts';
import { StreamRemediation, lowerStep } from '../../../backend-adapter/gateway/stream-remediation.ts';
import { AdapterMetrics } from '../../../backend-adapter/observability/prometheus-metrics.ts';
import { StreamStats } from '../../../backend-adapter/observability/stream-stats.ts';
import { findTier } from '../../../backend-adapter/tiers/tier-catalogue.ts';
import type { MetricsSample } from '../../../protocol/live-events.ts';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import type { Session } from '../../../protocol/session.ts';
import {
  StreamCloseCode,
  type ClientStreamMessage,
  type ServerStreamMessage,
} from '../../../protocol/stream.ts';
import { acceptNone38, startFakeRfbServer, type FakePeer } from '../gateway/fake-rfb-server.ts';
import { fbuHeader, rect } from '../gateway/rfb-stream-builder.ts';

const logger = pino({ level: 'silent' });
const SESSION = 'dddddddd-0000-4000-8000-000000000001';

/** Just enough of a ws WebSocket for the bridge: records what the gateway sends and how it closes. */
class FakeViewerSocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  protocol = 'v-supercore-stream.v2';
  closeCode: number | undefined;
  readonly sent: ServerStreamMessage[] = [];

  send(data: Uint8Array, _options: unknown, cb?: (err?: Error) => void): void {
    this.sent.push(unpack(data) as ServerStreamMessage);
    setImmediate(() => cb?.());
  }

  close(code: number): void {
    if (this.readyState >= this.CLOSING) return;
    this.closeCode = code;
    this.readyState = this.CLOSED;
    setImmediate(() => this.emit('close', code, Buffer.alloc(0)));
  }

  fromViewer(message: ClientStreamMessage): void {
    this.emit('message', pack(message), true);
  }

  asWs(): WebSocket {
    return this as unknown as WebSocket;
  }
}

/**
 * A desktop that answers every update request with a 1×1 update (unless `answer` is false) and records each
 * SetEncodings it gets after the first, as [jpeg level, compression level].
 */
async function startDesktop(answer = true) {
  const encodings: Array<[number, number]> = [];
  const server = await startFakeRfbServer(async (peer: FakePeer) => {
    await acceptNone38(peer, 640, 480, 'fake desk');
    await peer.read(20 + 4 + DEFAULT_ENCODINGS.length * 4);
    for (;;) {
      const [type] = await peer.read(1);
      if (type === 3) {
        await peer.read(9);
        if (answer) peer.write(fbuHeader(1), rect(0, 0, 1, 1, Encoding.Raw, new Uint8Array(4)));
      } else if (type === 2) {
        const count = Buffer.from(await peer.read(3)).readUInt16BE(1);
        const list = Buffer.from(await peer.read(count * 4));
        const all = Array.from({ length: count }, (_, i) => list.readInt32BE(i * 4));
        const jpeg = all.find((e) => e >= -32 && e <= -23);
        const level = all.find((e) => e >= -256 && e <= -247);
        encodings.push([(jpeg ?? 0) + 32, (level ?? 0) + 256]);
      } else throw new Error(`unexpected client message ${type}`);
    }
  });
  return { server, encodings };
}

async function waitFor(ok: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Two minutes of samples every 2 s, latency about 30 ms, then its last `badSamples` at ~400 ms. */
function latencySamples(end: number, badSamples: number): MetricsSample[] {
  return Array.from({ length: 60 }, (_, i) => ({
    sessionId: SESSION,
    at: new Date(end - (59 - i) * 2000).toISOString(),
    cpuPercent: 20 + (i % 3),
    memoryMiB: 800,
    gpuPercent: null,
    networkTxBytesPerSec: 1000,
    networkRxBytesPerSec: 100,
    streamFps: 0,
    streamLatencyMs: i >= 60 - badSamples ? 400 + (i % 5) : 28 + (i % 5),
  }));
}

describe('N.E.X.U.S AI stream remediation through the gateway (AI_REMEDIATION=act)', () => {
  let canon: SqliteCanonStore;
  const tracked: AnalyticsEvent[] = [];

  before(async () => {
    canon = new SqliteCanonStore(':memory:');
    const now = new Date().toISOString();
    const session: Session = {
      sessionId: SESSION,
      userId: 'vera',
      tenantId: 'tenant-s',
      tier: 'basic',
      resources: findTier('basic')?.resources as Session['resources'],
      state: 'active',
      createdAt: now,
      canonTimestamp: now,
      handshake: '55-45-17',
    };
    await canon.createSession({ session, runtime: null, lastActivityAt: now }, 'vera');
  });
  after(async () => {
    await canon.close();
  });

  function service(streams: StreamStats, samples: () => MetricsSample[], metrics: AdapterMetrics) {
    return new AiService({
      ai: new EmbeddedNexusAi(),
      canon,
      sampler: { recent: () => samples() },
      lifecycle: {
        get: async () => assert.fail('not read'),
        pause: async () => assert.fail('nothing to pause'),
      },
      analytics: {
        track: (e) => void tracked.push(e),
        flush: async () => undefined,
        exportUser: async () => ({ heldBy: 'local-file', events: [] }),
        eraseUser: async () => ({ eventsPseudonymised: 0, forwarded: false }),
      },
      logger,
      mode: 'act',
      streamEffects: new StreamRemediation(streams, { stallMs: 300 }),
      policy: { ...DEFAULT_REMEDIATION_POLICY, stallSeconds: 0.3 },
      metrics,
    });
  }

  it('lowers the quality of an anomalous-latency stream: SetEncodings to the desktop, a message to the viewer', async () => {
    const { server, encodings } = await startDesktop();
    const streams = new StreamStats();
    const viewer = streams.observe(SESSION, () => undefined);
    const ws = new FakeViewerSocket();
    const metrics = new AdapterMetrics(canon);
    let samples = latencySamples(Date.now(), 0);
    const ai = service(streams, () => samples, metrics);
    const bridged = bridgeStream(
      ws.asWs(),
      { host: '127.0.0.1', port: server.port },
      { logger, observer: viewer.observer },
    );
    try {
      await waitFor(() => ws.sent.some((m) => m.t === 'update'), 'the first update');
      ws.fromViewer({ t: 'ack', seq: 1 });
      assert.deepEqual(await ai.monitorOnce(), [], 'usual latency: nothing to do');

      samples = latencySamples(Date.now(), 6);
      const [first] = await ai.monitorOnce();
      assert.deepEqual(
        first?.actions.map((a) => [a.kind, a.status]),
        [['lower-quality', 'applied']],
      );
      await waitFor(() => encodings.length === 1, 'SetEncodings at the desktop');
      assert.deepEqual(encodings[0], [6, 4], 'JPEG quality 8 → 6, compression 2 → 4');
      const told = ws.sent.find((m) => m.t === 'quality');
      assert.ok(told && told.t === 'quality');
      assert.equal(told.jpeg, 6);
      assert.equal(told.compression, 4);
      assert.match(told.reason, /latency is 40\d ms/);

      // Still anomalous: one step further each round, down to the floor; then nothing more to lower.
      for (let i = 0; i < 3; i++) await ai.monitorOnce();
      await waitFor(() => encodings.length >= 4, 'three more steps');
      assert.deepEqual(encodings, [
        [6, 4],
        [4, 6],
        [2, 8],
        [2, 9],
      ]);
      assert.deepEqual(lowerStep({ jpeg: 2, compression: 9 }, { step: 2, minJpeg: 2, stallMs: 1 }), {
        jpeg: 2,
        compression: 9,
      });
      const last = await ai.monitorOnce();
      assert.deepEqual(
        last[0]?.actions.map((a) => a.status),
        ['skipped'],
        'at the lowest quality: skipped, not applied again',
      );
      assert.equal(ws.closeCode, undefined, 'the stream stays open');

      const event = tracked.find((e) => e.properties.kind === 'lower-quality');
      assert.equal(event?.event, 'supercore.ai.remediation');
      assert.equal(event?.userId, 'vera');
      assert.equal(event?.properties.status, 'applied');
      const exposed = await metrics.registry.metrics();
      assert.match(exposed, /v_supercore_ai_remediations_total\{kind="lower-quality",status="applied"\} 4/);
      assert.match(exposed, /v_supercore_ai_remediations_total\{kind="lower-quality",status="skipped"\} \d/);
    } finally {
      ws.close(1000);
      await bridged;
      viewer.release();
      await server.close();
      metrics.registry.clear();
    }
  });

  it('closes a stalled stream (updates sent, none acknowledged) with the reconnect code; a flowing one stays', async () => {
    // One desktop connection per viewer, as the gateway makes.
    const desktops = [await startDesktop(), await startDesktop()];
    const streams = new StreamStats();
    const metrics = new AdapterMetrics(canon);
    const ai = service(streams, () => [], metrics);
    const stuck = new FakeViewerSocket();
    const flowing = new FakeViewerSocket();
    const stuckViewer = streams.observe(SESSION, () => undefined);
    const flowingViewer = streams.observe(SESSION, () => undefined);
    const target = (i: number) => ({ host: '127.0.0.1', port: desktops[i]?.server.port ?? 0 });
    const bridges = [
      bridgeStream(stuck.asWs(), target(0), { logger, observer: stuckViewer.observer }),
      bridgeStream(flowing.asWs(), target(1), { logger, observer: flowingViewer.observer }),
    ];
    // The flowing viewer acknowledges everything it gets.
    const acker = setInterval(() => {
      const seq = Math.max(0, ...flowing.sent.map((m) => (m.t === 'update' ? m.seq : 0)));
      if (seq > 0 && flowing.readyState === flowing.OPEN) flowing.fromViewer({ t: 'ack', seq });
    }, 20);
    try {
      await waitFor(
        () => stuck.sent.some((m) => m.t === 'update') && flowing.sent.some((m) => m.t === 'update'),
        'updates to both viewers',
      );
      assert.deepEqual(await ai.monitorOnce(), [], 'not stalled yet');
      await delay(400);
      const results = await ai.monitorOnce();
      assert.deepEqual(
        results[0]?.actions.map((a) => [a.kind, a.status]),
        [['reconnect-stream', 'applied']],
      );
      await waitFor(() => stuck.closeCode !== undefined, 'the stalled stream closed');
      assert.equal(stuck.closeCode, StreamCloseCode.Stalled);
      assert.equal(flowing.closeCode, undefined, 'the viewer that keeps up is left alone');
      assert.equal(streams.viewersOf(SESSION).length, 2, 'released by the route when the socket ends');
      stuckViewer.release();
      assert.equal(streams.viewersOf(SESSION).length, 1);
      assert.match(
        await metrics.registry.metrics(),
        /v_supercore_ai_remediations_total\{kind="reconnect-stream",status="applied"\} 1/,
      );
      assert.ok(
        tracked.some((e) => e.properties.kind === 'reconnect-stream' && e.properties.status === 'applied'),
      );
    } finally {
      clearInterval(acker);
      flowing.close(1000);
      await Promise.all(bridges);
      flowingViewer.release();
      for (const d of desktops) await d.server.close();
      metrics.registry.clear();
    }
  });

  it('counts a desktop that never sends the first frame as a stall too', async () => {
    const { server } = await startDesktop(false);
    const streams = new StreamStats();
    const viewer = streams.observe(SESSION, () => undefined);
    const ws = new FakeViewerSocket();
    const remediation = new StreamRemediation(streams, { stallMs: 200 });
    const bridged = bridgeStream(
      ws.asWs(),
      { host: '127.0.0.1', port: server.port },
      { logger, observer: viewer.observer },
    );
    try {
      await waitFor(() => ws.sent.some((m) => m.t === 'init'), 'init');
      assert.equal(await remediation.reconnectStream(SESSION, 'test'), false, 'too early');
      await delay(250);
      assert.ok(remediation.stalledMs(SESSION) >= 200);
      assert.equal(await remediation.reconnectStream(SESSION, 'test'), true);
      await bridged;
      assert.equal(ws.closeCode, StreamCloseCode.Stalled);
      assert.equal(remediation.stalledMs(SESSION), 0, 'an ended stream owes nothing');
    } finally {
      viewer.release();
      await server.close();
    }
  });
});
