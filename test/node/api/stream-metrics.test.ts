import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';
import type { Session, Tier } from '../../../protocol/session.ts';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  HANDSHAKE_SUBPROTOCOL,
  STREAM_SUBPROTOCOL,
  type ServerStreamMessage,
} from '../../../protocol/stream.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition → samples (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] ?? ''] = l[2] ?? '';
    }
    out.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return out;
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

/**
 * A viewer as the module's worker behaves towards the gateway: acknowledges every update it is sent and
 * answers the gateway's latency probes; keeps the round-trip times the gateway reports back (`stats`).
 */
class TestViewer {
  readonly rtts: number[] = [];
  updates = 0;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const message = unpack(data) as ServerStreamMessage;
      if (message.t === 'update') {
        this.updates++;
        ws.send(pack({ t: 'ack', seq: message.seq }));
      } else if (message.t === 'ping') ws.send(pack({ t: 'pong', id: message.id }));
      else if (message.t === 'stats') this.rtts.push(message.rttMs);
    });
  }

  static open(url: string, token: string): Promise<TestViewer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, [
        STREAM_SUBPROTOCOL,
        BEARER_SUBPROTOCOL_PREFIX + token,
        HANDSHAKE_SUBPROTOCOL,
      ]);
      const viewer = new TestViewer(ws);
      ws.once('open', () => resolve(viewer));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`stream refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

describe('stream metrics from a real stream (real adapter, session agent and Xvnc)', () => {
  let t: TestAdapter;
  let token: string;
  let session: Session;
  let tier: Tier;

  const scrape = async (): Promise<Sample[]> => {
    const res = await fetch(`${t.adapter.url}/metrics`);
    assert.equal(res.status, 200);
    return parseMetrics(await res.text());
  };

  /** Scrapes until `ready` holds (the sampler and the probes run every 2 s), or fails with the last scrape. */
  const scrapeUntil = async (ready: (s: Sample[]) => boolean, what: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const samples = await scrape();
      if (ready(samples)) return samples;
      if (Date.now() > deadline) {
        const shown = samples.filter((s) => /stream|allocation/.test(s.name));
        assert.fail(`${what} within ${timeoutMs} ms; last scrape: ${JSON.stringify(shown)}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  before(async () => {
    t = await startTestAdapter();
    token = await t.login('mira');
    const tiers = (await t.api('/api/v1/tiers', { token })).body as { tiers: Tier[] };
    const standard = tiers.tiers.find((x) => x.id === 'standard');
    assert.ok(standard, 'the catalogue has a standard tier');
    tier = standard;
    const res = await t.api('/api/v1/sessions', { method: 'POST', token, body: { tier: tier.id } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    session = res.body as Session;
    assert.equal(session.state, 'active');
  });
  after(() => t.close());

  it('allocations report the active session’s tier, latency and quality the viewer’s stream', async () => {
    const before = await scrape();
    // Nothing streamed yet: no latency observed, no quality for this session.
    assert.equal(value(before, 'v_supercore_stream_latency_ms_count'), 0);
    assert.equal(
      value(before, 'v_supercore_stream_quality_score', { session: session.sessionId }),
      undefined,
    );
    // The only live session is this one: the allocation is exactly its tier's.
    assert.equal(
      value(before, 'v_supercore_resource_allocation_cpu', { tier: tier.id }),
      tier.resources.cpuMillicores,
    );
    assert.equal(
      value(before, 'v_supercore_resource_allocation_memory', { tier: tier.id }),
      tier.resources.memoryMiB,
    );
    assert.equal(
      value(before, 'v_supercore_resource_allocation_gpu', { tier: tier.id }),
      tier.resources.gpus,
    );
    assert.equal(value(before, 'v_supercore_resource_allocation_cpu', { tier: 'basic' }), undefined);
    assert.equal(value(before, 'v_supercore_active_sessions', { state: 'active', tier: tier.id }), 1);

    const url = `${t.adapter.url.replace('http', 'ws')}/api/v1/sessions/${session.sessionId}/stream`;
    const viewer = await TestViewer.open(url, token);
    try {
      const streaming = await scrapeUntil(
        (s) =>
          (value(s, 'v_supercore_stream_latency_ms_count') ?? 0) > 0 &&
          value(s, 'v_supercore_stream_quality_score', { session: session.sessionId }) !== undefined,
        'latency observed and quality set for the streamed session',
      );
      assert.ok(viewer.updates > 0, 'the viewer received frames');
      assert.equal(value(streaming, 'v_supercore_streams', { transport: 'websocket' }), 1);

      // The latency histogram holds means of the round trips the gateway measured and told the viewer about.
      await new Promise((r) => setTimeout(r, 200)); // the stats sent before the scrape reach the viewer
      const count = value(streaming, 'v_supercore_stream_latency_ms_count') ?? 0;
      const sum = value(streaming, 'v_supercore_stream_latency_ms_sum') ?? NaN;
      assert.ok(
        viewer.rtts.length >= count,
        `${viewer.rtts.length} probes answered, ${count} windows observed`,
      );
      const mean = sum / count;
      assert.ok(
        mean >= Math.min(...viewer.rtts) - 0.1 && mean <= Math.max(...viewer.rtts) + 0.1,
        `histogram mean ${mean} ms outside the measured round trips ${viewer.rtts.join(', ')}`,
      );
      const infBucket = value(streaming, 'v_supercore_stream_latency_ms_bucket', { le: '+Inf' });
      assert.equal(infBucket, count);

      const quality =
        value(streaming, 'v_supercore_stream_quality_score', { session: session.sessionId }) ?? NaN;
      assert.ok(quality > 0 && quality <= 1, `quality ${quality}`);
    } finally {
      await viewer.close();
    }

    // No viewer left: the session's quality series goes at the next sample; the histogram keeps its history.
    const left = await scrapeUntil(
      (s) => value(s, 'v_supercore_stream_quality_score', { session: session.sessionId }) === undefined,
      'quality series removed after the viewer left',
    );
    assert.equal(value(left, 'v_supercore_streams', { transport: 'websocket' }), 0);
    assert.ok((value(left, 'v_supercore_stream_latency_ms_count') ?? 0) > 0);

    // Terminated: nothing is allocated to the tier any more.
    const ended = await t.api(`/api/v1/sessions/${session.sessionId}`, { method: 'DELETE', token });
    assert.equal((ended.body as Session).state, 'terminated');
    const after = await scrape();
    assert.equal(value(after, 'v_supercore_resource_allocation_cpu', { tier: tier.id }), undefined);
    assert.equal(value(after, 'v_supercore_resource_allocation_memory', { tier: tier.id }), undefined);
  });
});
