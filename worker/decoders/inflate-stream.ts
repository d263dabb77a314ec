import { Inflate } from 'fflate';
import { DecodeError } from './decode-error.ts';

/**
 * One zlib stream fed piece by piece, as ZRLE (and Tight) use it: the server deflates every
 * rectangle into the same stream and ends each with a sync flush, so the bytes of one rectangle
 * inflate completely on their own while later ones may refer back into earlier output.
 *
 * fflate's streaming `Inflate` hands over everything it can decode synchronously from `ondata`
 * during `push`, and a sync flush ends on a byte boundary after a complete (empty stored) block, so
 * nothing of a rectangle is held back. The 2-byte zlib header is stripped here because fflate's
 * `Unzlib` waits for 6 bytes before it starts, which a tiny first rectangle might not have.
 */
export class InflateStream {
  private readonly inflate: Inflate;
  private readonly pieces: Uint8Array[] = [];
  private readonly header = new Uint8Array(2);
  private headerBytes = 0;

  constructor() {
    this.inflate = new Inflate((data) => {
      if (data.length > 0) this.pieces.push(data);
    });
  }

  /** Inflates the next part of the stream and returns all of its output. */
  push(chunk: Uint8Array): Uint8Array {
    let body = chunk;
    if (this.headerBytes < 2) {
      const take = Math.min(2 - this.headerBytes, body.length);
      this.header.set(body.subarray(0, take), this.headerBytes);
      this.headerBytes += take;
      body = body.subarray(take);
      if (this.headerBytes === 2) this.checkHeader();
    }
    this.pieces.length = 0;
    try {
      this.inflate.push(body, false);
    } catch (error) {
      throw new DecodeError(`zlib: ${error instanceof Error ? error.message : String(error)}`);
    }
    const [only] = this.pieces;
    if (this.pieces.length === 1 && only) return only;
    let total = 0;
    for (const p of this.pieces) total += p.length;
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of this.pieces) {
      out.set(p, at);
      at += p.length;
    }
    this.pieces.length = 0;
    return out;
  }

  private checkHeader(): void {
    const [cmf = 0, flg = 0] = this.header;
    if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0) {
      throw new DecodeError('zlib: invalid stream header');
    }
    // A preset dictionary is never used by RFB servers and we would have no way to know it.
    if (flg & 0x20) throw new DecodeError('zlib: preset dictionary not supported');
  }
}
