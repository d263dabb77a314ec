import type { StreamQuality } from '../../protocol/stream.ts';
import type { ViewerControls } from './viewer-controls.ts';

export interface StreamRemediationOptions {
  /** Each lowering takes the JPEG quality down and the compression level up by this many steps… */
  step: number;
  /** …never below this JPEG quality (0–9): below it text becomes unreadable. */
  minJpeg: number;
  /** A viewer's stream owing progress this long is stalled (matches the remediation policy). */
  stallMs: number;
}

export const DEFAULT_STREAM_REMEDIATION: StreamRemediationOptions = { step: 2, minJpeg: 2, stallMs: 15_000 };

/** One step down from `q`: lower JPEG quality, more compression (fewer bytes per frame, more desktop CPU). */
export function lowerStep(q: StreamQuality, options: StreamRemediationOptions): StreamQuality {
  return {
    jpeg: Math.max(Math.min(options.minJpeg, q.jpeg), q.jpeg - options.step),
    compression: Math.min(9, q.compression + options.step),
  };
}

/**
 * The stream actions of N.E.X.U.S AI remediation, on the viewers this replica's gateway serves: lower the
 * image quality of every stream of a session (SetEncodings on each viewer's own RFB connection, and a `quality`
 * message to v2 viewers), and close the stalled ones with a reconnect close code. Each answers whether it
 * changed anything (false: already at the lowest quality, or no stalled stream here).
 */
export class StreamRemediation {
  private readonly options: StreamRemediationOptions;

  constructor(
    private readonly viewers: { viewersOf(sessionId: string): ViewerControls[] },
    options: Partial<StreamRemediationOptions> = {},
  ) {
    this.options = { ...DEFAULT_STREAM_REMEDIATION, ...options };
  }

  async lowerQuality(sessionId: string, reason: string): Promise<boolean> {
    let changed = false;
    for (const viewer of this.viewers.viewersOf(sessionId)) {
      if (viewer.lowerQuality(lowerStep(viewer.quality(), this.options), reason)) changed = true;
    }
    return changed;
  }

  async reconnectStream(sessionId: string, reason: string): Promise<boolean> {
    let changed = false;
    for (const viewer of this.viewers.viewersOf(sessionId)) {
      if (viewer.stalledMs() >= this.options.stallMs && viewer.reconnect(reason)) changed = true;
    }
    return changed;
  }

  stalledMs(sessionId: string): number {
    return Math.max(0, ...this.viewers.viewersOf(sessionId).map((v) => v.stalledMs()));
  }
}
