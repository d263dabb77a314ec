import type { StreamObserver } from '../gateway/stream-bridge.ts';
import type { ViewerControls } from '../gateway/viewer-controls.ts';

export interface StreamTotals {
  txBytes: number;
  rxBytes: number;
  updatesDrawn: number;
  /** Updates sent towards viewers (drawn / sent says whether viewers keep up). */
  updatesSent: number;
  viewers: number;
  /** Sum and count of the latency probes' round-trip times (protocol v2 viewers). */
  rttSumMs: number;
  rttCount: number;
}

/**
 * Stream quality from 0 (unusable) to 1 (smooth) over a window: the round-trip time (1 up to 20 ms,
 * falling linearly to 0 at 500 ms) times the share of sent updates the viewers drew.
 */
export function streamQualityScore(rttMs: number | null, updatesSent: number, updatesDrawn: number): number {
  const latency = rttMs === null ? 1 : Math.min(1, Math.max(0, 1 - (rttMs - 20) / 480));
  const delivery = updatesSent <= 0 ? 1 : Math.min(1, updatesDrawn / updatesSent);
  return Math.round(latency * delivery * 1000) / 1000;
}

/** The mean round-trip time of the probes between two totals of the same session, or null if none came back. */
export function meanRttMs(now: StreamTotals, before: StreamTotals | undefined): number | null {
  const count = now.rttCount - (before?.rttCount ?? 0);
  const sum = now.rttSumMs - (before?.rttSumMs ?? 0);
  // Totals summed over replicas shrink when a replica stops streaming the session: no mean from that.
  if (count <= 0 || sum < 0) return null;
  return Math.round((sum / count) * 10) / 10;
}

/** The totals of a session nobody has streamed. */
export function zeroTotals(): StreamTotals {
  return { txBytes: 0, rxBytes: 0, updatesDrawn: 0, updatesSent: 0, viewers: 0, rttSumMs: 0, rttCount: 0 };
}

/** Where a sampler reads a session's stream totals: this replica's streams, or every replica's (Redis). */
export interface StreamTotalsSource {
  totalsOf(sessionId: string): StreamTotals;
  /** The session has ended: nothing of it needs keeping. */
  forget(sessionId: string): void;
}

/** A session's streams over one sampling window: traffic, drawn updates, latency and quality. */
export interface StreamWindow {
  networkTxBytesPerSec: number;
  networkRxBytesPerSec: number;
  streamFps: number;
  streamLatencyMs: number | null;
  /** 0…1 (streamQualityScore); null when nobody watched at the window's end. */
  quality: number | null;
}

/** The window between two totals of the same session taken `seconds` apart. */
export function streamWindow(now: StreamTotals, before: StreamTotals, seconds: number): StreamWindow {
  const streamLatencyMs = meanRttMs(now, before);
  // Counters only grow, except summed over replicas when one stops streaming the session: that is no traffic.
  const delta = (key: 'txBytes' | 'rxBytes' | 'updatesDrawn' | 'updatesSent') =>
    Math.max(0, now[key] - before[key]);
  const drawn = delta('updatesDrawn');
  return {
    networkTxBytesPerSec: Math.round(delta('txBytes') / seconds),
    networkRxBytesPerSec: Math.round(delta('rxBytes') / seconds),
    streamFps: Math.round((drawn / seconds) * 10) / 10,
    streamLatencyMs,
    quality: now.viewers > 0 ? streamQualityScore(streamLatencyMs, delta('updatesSent'), drawn) : null,
  };
}

/** The transports a stream can run on (bounded: the values of `v_supercore_streams`' `transport` label). */
export const STREAM_TRANSPORTS = ['websocket', 'datachannel'] as const;
export type StreamTransportKind = (typeof STREAM_TRANSPORTS)[number];

/**
 * Cumulative stream traffic per session, fed by every viewer's bridge; the sampler turns it into rates. Also
 * counts the streams open right now by the transport they run on (each starts on the WebSocket).
 */
export class StreamStats implements StreamTotalsSource {
  private readonly totals = new Map<string, StreamTotals>();
  private readonly transports: Record<StreamTransportKind, number> = { websocket: 0, datachannel: 0 };
  /** The live viewers' stream controls per session, for remediation. */
  private readonly controls = new Map<string, Set<ViewerControls>>();

  private of(sessionId: string): StreamTotals {
    let t = this.totals.get(sessionId);
    if (!t) {
      t = zeroTotals();
      this.totals.set(sessionId, t);
    }
    return t;
  }

  /** Counts one viewer for as long as the returned `release` has not been called. */
  observe(sessionId: string, onInput: () => void): { observer: StreamObserver; release: () => void } {
    const t = this.of(sessionId);
    t.viewers++;
    let released = false;
    let controls: ViewerControls | undefined;
    let via: StreamTransportKind = 'websocket';
    this.transports[via]++;
    return {
      observer: {
        onInput,
        onTransport: (next) => {
          if (released || next === via) return;
          this.transports[via]--;
          via = next;
          this.transports[via]++;
        },
        onControls: (c) => {
          if (released) return;
          controls = c;
          const set = this.controls.get(sessionId) ?? new Set();
          this.controls.set(sessionId, set.add(c));
        },
        onUpdateSent: (bytes) => {
          t.txBytes += bytes;
          t.updatesSent++;
        },
        onRtt: (ms) => {
          t.rttSumMs += ms;
          t.rttCount++;
        },
        onViewerBytes: (bytes) => (t.rxBytes += bytes),
        onUpdatesDrawn: (count) => (t.updatesDrawn += count),
      },
      release: () => {
        if (released) return;
        released = true;
        t.viewers--;
        this.transports[via]--;
        const set = this.controls.get(sessionId);
        if (set && controls) set.delete(controls);
        if (set?.size === 0) this.controls.delete(sessionId);
      },
    };
  }

  /** The streams this replica serves right now, by transport. */
  streamsByTransport(): Record<StreamTransportKind, number> {
    return { ...this.transports };
  }

  /** The streams of the session this replica serves right now. */
  viewersOf(sessionId: string): ViewerControls[] {
    return [...(this.controls.get(sessionId) ?? [])];
  }

  totalsOf(sessionId: string): StreamTotals {
    const totals = this.totals.get(sessionId);
    return totals ? { ...totals } : zeroTotals();
  }

  /** The sessions with totals kept: streamed since they were last forgotten. */
  sessionIds(): string[] {
    return [...this.totals.keys()];
  }

  forget(sessionId: string): void {
    this.totals.delete(sessionId);
  }
}
