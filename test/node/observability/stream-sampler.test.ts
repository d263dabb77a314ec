import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamSampler } from '../../../backend-adapter/observability/stream-sampler.ts';
import { StreamStats, type StreamWindow } from '../../../backend-adapter/observability/stream-stats.ts';

describe('StreamSampler (the stream gateway, without a runtime)', () => {
  it('turns each watched session’s traffic into a window of rates, latency and quality', () => {
    const streams = new StreamStats();
    const sampler = new StreamSampler(streams);
    const windows: Array<[string, StreamWindow]> = [];
    sampler.onWindow((id, w) => windows.push([id, w]));
    const viewer = streams.observe('s1', () => undefined);
    sampler.sample(0);
    assert.deepEqual(windows, [], 'rates need two points');
    for (let i = 0; i < 40; i++) viewer.observer.onUpdateSent?.(5000);
    viewer.observer.onUpdatesDrawn?.(30);
    viewer.observer.onRtt?.(60);
    viewer.observer.onRtt?.(80);
    viewer.observer.onViewerBytes?.(400);
    sampler.sample(2000);
    assert.deepEqual(windows, [
      [
        's1',
        {
          networkTxBytesPerSec: 100_000,
          networkRxBytesPerSec: 200,
          streamFps: 15,
          streamLatencyMs: 70,
          // Latency 70 ms: 1 - 50/480; drawn 30 of 40 sent: 0.75.
          quality: Math.round((1 - 50 / 480) * 0.75 * 1000) / 1000,
        },
      ],
    ]);
  });

  it('reports no quality once nobody watches, then forgets the session', () => {
    const streams = new StreamStats();
    const sampler = new StreamSampler(streams);
    const windows: Array<[string, StreamWindow]> = [];
    sampler.onWindow((id, w) => windows.push([id, w]));
    const viewer = streams.observe('s1', () => undefined);
    sampler.sample(0);
    viewer.release();
    sampler.sample(2000);
    assert.equal(windows.at(-1)?.[1].quality, null, 'its quality series is dropped');
    sampler.sample(4000);
    assert.deepEqual(streams.sessionIds(), [], 'a whole window without viewers: forgotten');
    assert.equal(windows.length, 1);
    // Watched again later: a fresh start, no window across the gap.
    streams.observe('s1', () => undefined);
    sampler.sample(60_000);
    assert.equal(windows.length, 1);
    sampler.sample(62_000);
    assert.equal(windows.length, 2);
    assert.equal(windows.at(-1)?.[1].networkTxBytesPerSec, 0);
  });
});
