import type { StreamObserver } from '../gateway/stream-bridge.ts';

export interface StreamTotals {
  txBytes: number;
  rxBytes: number;
  updatesDrawn: number;
  viewers: number;
}

/** Cumulative stream traffic per session, fed by every viewer's bridge; the sampler turns it into rates. */
export class StreamStats {
  private readonly totals = new Map<string, StreamTotals>();

  private of(sessionId: string): StreamTotals {
    let t = this.totals.get(sessionId);
    if (!t) {
      t = { txBytes: 0, rxBytes: 0, updatesDrawn: 0, viewers: 0 };
      this.totals.set(sessionId, t);
    }
    return t;
  }

  /** Counts one viewer for as long as the returned `release` has not been called. */
  observe(sessionId: string, onInput: () => void): { observer: StreamObserver; release: () => void } {
    const t = this.of(sessionId);
    t.viewers++;
    let released = false;
    return {
      observer: {
        onInput,
        onUpdateSent: (bytes) => (t.txBytes += bytes),
        onViewerBytes: (bytes) => (t.rxBytes += bytes),
        onUpdatesDrawn: (count) => (t.updatesDrawn += count),
      },
      release: () => {
        if (released) return;
        released = true;
        t.viewers--;
      },
    };
  }

  totalsOf(sessionId: string): StreamTotals {
    return { ...this.of(sessionId) };
  }

  forget(sessionId: string): void {
    this.totals.delete(sessionId);
  }
}
