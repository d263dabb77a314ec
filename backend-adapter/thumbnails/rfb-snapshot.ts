import { Encoding } from '../../protocol/rfb-encodings.ts';
import type { StreamRect } from '../../protocol/stream.ts';
import { RfbConnection } from '../gateway/rfb-connection.ts';
import { RfbUpstreamError } from '../gateway/upstream-error.ts';

/** A desktop's screen as RGBX bytes (4 per pixel, row by row), the gateway's pixel format. */
export interface Snapshot {
  width: number;
  height: number;
  rgbx: Uint8Array;
}

export interface SnapshotTarget {
  host: string;
  port: number;
  password: string;
}

/** Larger screens are refused rather than allocated (a thumbnail never needs more). */
export const MAX_SNAPSHOT_PIXELS = 4096 * 4096;

/**
 * One picture of a desktop over a short RFB connection of its own: only Raw is announced, so the whole screen
 * comes as plain pixels that need no decoder on the server (nothing to inflate, nothing to trust beyond bounds),
 * one non-incremental update is asked for, and the connection is closed once it has arrived. Every rectangle is
 * checked against the screen before it is copied. Rejects with RfbUpstreamError (UPSTREAM_… codes).
 */
export async function takeSnapshot(
  target: SnapshotTarget,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<Snapshot> {
  const aborter = new AbortController();
  const abort = (): void => aborter.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  const timer = setTimeout(abort, options.timeoutMs);
  const rfb = new RfbConnection({
    host: target.host,
    port: target.port,
    password: target.password,
    connectTimeoutMs: options.timeoutMs,
    encodings: [Encoding.Raw],
    maxMessageBytes: MAX_SNAPSHOT_PIXELS * 4 + 64 * 1024,
    signal: aborter.signal,
  });
  try {
    const update = new Promise<StreamRect[]>((resolve, reject) => {
      rfb.on('message', (message) => {
        if (message.type === 'framebufferUpdate') resolve(message.rects);
      });
      rfb.once('closed', (error) =>
        reject(
          aborter.signal.aborted
            ? new RfbUpstreamError(
                'UPSTREAM_TIMEOUT',
                `no picture from the desktop within ${options.timeoutMs} ms`,
              )
            : (error ?? new RfbUpstreamError('UPSTREAM_CLOSED', 'the desktop closed the connection')),
        ),
      );
    });
    update.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    const init = await rfb.connect();
    const { width, height } = init;
    if (width <= 0 || height <= 0 || width * height > MAX_SNAPSHOT_PIXELS) {
      throw new RfbUpstreamError(
        'UPSTREAM_PROTOCOL',
        `a ${width}×${height} screen is too large for a thumbnail`,
      );
    }
    rfb.requestUpdate(false);
    return composeRaw(width, height, await update);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', abort);
    rfb.close();
  }
}

/** The screen from one update's Raw rectangles; anything else, or anything out of bounds, is refused. */
export function composeRaw(width: number, height: number, rects: readonly StreamRect[]): Snapshot {
  const rgbx = new Uint8Array(width * height * 4);
  for (const rect of rects) {
    if (rect.encoding !== Encoding.Raw) continue; // pseudo-rectangles the server may add carry no pixels
    const { x, y, w, h, data } = rect;
    if (x < 0 || y < 0 || x + w > width || y + h > height) {
      throw new RfbUpstreamError(
        'UPSTREAM_PROTOCOL',
        `a ${w}×${h} rectangle at ${x},${y} lies outside the screen`,
      );
    }
    const rowBytes = w * 4;
    if (data.length !== rowBytes * h) {
      throw new RfbUpstreamError(
        'UPSTREAM_PROTOCOL',
        `a Raw rectangle of ${w}×${h} carries ${data.length} bytes`,
      );
    }
    for (let row = 0; row < h; row++) {
      rgbx.set(data.subarray(row * rowBytes, (row + 1) * rowBytes), ((y + row) * width + x) * 4);
    }
  }
  return { width, height, rgbx };
}
