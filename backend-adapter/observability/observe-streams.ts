import type { RedisStreamTotalsChannel } from '../events/redis-stream-totals-channel.ts';
import type { GatewayMetrics } from './gateway-metrics.ts';
import { ReplicaStreamTotals } from './replica-stream-totals.ts';
import { StreamSampler } from './stream-sampler.ts';
import { StreamStats, type StreamTotalsSource } from './stream-stats.ts';

export interface ObservedStreams {
  /** This process's own streams, counted in `v_supercore_streams`. */
  streams: StreamStats;
  /** Their windows, exported as the stream metrics where this process serves streams. */
  sampler: StreamSampler;
  /** What session samples read: every replica's streams with Redis (`channel`), this process's otherwise. */
  totals: StreamTotalsSource;
  stop(): void;
}

/** What every role keeps of streams; `servesStreams` false (the orchestrator role) exports no stream metrics. */
export function observeStreams(deps: {
  metrics: GatewayMetrics;
  servesStreams: boolean;
  channel: RedisStreamTotalsChannel | undefined;
}): ObservedStreams {
  const streams = new StreamStats();
  deps.metrics.countStreams(streams);
  const sampler = new StreamSampler(streams);
  if (deps.servesStreams) {
    sampler.onWindow((sessionId, window) => deps.metrics.recordStreamWindow(sessionId, window));
    sampler.start();
  }
  const replicaTotals = deps.channel && new ReplicaStreamTotals(deps.channel, streams);
  replicaTotals?.start();
  return {
    streams,
    sampler,
    totals: replicaTotals ?? streams,
    stop() {
      sampler.stop();
      replicaTotals?.stop();
    },
  };
}
