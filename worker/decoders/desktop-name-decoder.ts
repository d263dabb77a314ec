import type { StreamRect } from '../../protocol/stream.ts';
import { DecodeError } from './decode-error.ts';
import type { RectDecoder } from './rect-decoder.ts';

/** The gateway's limit too; a longer name is a broken server. */
export const MAX_DESKTOP_NAME_BYTES = 64 * 1024;

/**
 * DesktopName (-307) pseudo-rectangle: u32 length + the new name in UTF-8. Nothing is drawn; the name
 * is kept for `take()`.
 */
export class DesktopNameDecoder implements RectDecoder {
  private readonly utf8 = new TextDecoder('utf-8');
  private latest: string | null = null;

  decode(rect: StreamRect): void {
    const { data } = rect;
    if (data.length < 4) throw new DecodeError('DesktopName length is truncated');
    const length = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
    if (length > MAX_DESKTOP_NAME_BYTES) throw new DecodeError(`desktop name of ${length} bytes`);
    if (data.length !== 4 + length) {
      throw new DecodeError(`DesktopName says ${length} bytes, payload has ${data.length - 4}`);
    }
    // Invalid UTF-8 becomes U+FFFD: a garbled name is no reason to end the stream.
    this.latest = this.utf8.decode(data.subarray(4));
  }

  /** The last name decoded since the previous call, or null. */
  take(): string | null {
    const latest = this.latest;
    this.latest = null;
    return latest;
  }
}
