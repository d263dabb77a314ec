import { constants, deflateRawSync, deflateSync } from 'node:zlib';

/**
 * One zlib stream of a connection as a server writes it (Zlib, Tight): each piece ends with a sync
 * flush; the first carries the zlib header; later ones are raw deflate primed with the earlier output
 * as dictionary, so they really refer back across pieces. `reset()` starts a new stream.
 */
export class ZlibStreamEncoder {
  private history = Buffer.alloc(0);
  private started = false;

  reset(): void {
    this.history = Buffer.alloc(0);
    this.started = false;
  }

  piece(bytes: ArrayLike<number>): Uint8Array {
    const input = Buffer.from(Uint8Array.from(bytes));
    const opts = { finishFlush: constants.Z_SYNC_FLUSH };
    const compressed = !this.started
      ? deflateSync(input, opts)
      : deflateRawSync(input, { ...opts, dictionary: this.history.subarray(-32768) });
    this.started = true;
    this.history = Buffer.concat([this.history, input]).subarray(-32768);
    return new Uint8Array(compressed);
  }
}

/** Tight's compact length (1–3 bytes) followed by the data. */
export function compact(data: ArrayLike<number>): number[] {
  const n = data.length;
  const head =
    n < 0x80
      ? [n]
      : n < 0x4000
        ? [(n & 0x7f) | 0x80, n >> 7]
        : [(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14];
  return [...head, ...Array.from(data)];
}

/** A u32 big-endian length followed by the data (Zlib, ZRLE). */
export function lengthPrefixed(data: ArrayLike<number>): number[] {
  const n = data.length;
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, ...Array.from(data)];
}
