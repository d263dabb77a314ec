import { Inflate } from 'fflate';
import { DecodeError } from './decode-error.ts';

/**
 * Deflate's best case: a 258-byte match coded in 2 bits (1-bit length and distance codes), so one
 * input byte can never produce more than 1032 output bytes.
 */
const MAX_DEFLATE_RATIO = 1032;
/**
 * Smallest piece of input pushed at a time when the output is capped. A piece's output can overshoot
 * the cap by at most this × MAX_DEFLATE_RATIO (~1 MB) before the cap is noticed and the push refused.
 */
const MIN_CAPPED_SLICE = 1024;

/**
 * One zlib stream fed piece by piece, as ZRLE, Zlib and Tight use it: the server deflates every
 * rectangle into the same stream and ends each with a sync flush, so the bytes of one rectangle
 * inflate completely on their own while later ones may refer back into earlier output.
 *
 * fflate's streaming `Inflate` hands over everything it can decode synchronously from `ondata`
 * during `push`, and a sync flush ends on a byte boundary after a complete (empty stored) block, so
 * nothing of a rectangle is held back. The 2-byte zlib header is stripped here because fflate's
 * `Unzlib` waits for 6 bytes before it starts, which a tiny first rectangle might not have.
 */
export class InflateStream {
  private inflate: Inflate;
  private readonly pieces: Uint8Array[] = [];
  private produced = 0;
  private readonly header = new Uint8Array(2);
  private headerBytes = 0;

  constructor() {
    this.inflate = this.newInflate();
  }

  /** Forgets the stream: the next push starts a new one, zlib header first (Tight's reset bits). */
  reset(): void {
    this.inflate = this.newInflate();
    this.headerBytes = 0;
  }

  /**
   * Inflates the next part of the stream and returns all of its output. With `maxOutput`, more output
   * than that is a DecodeError, found before much more than that has been allocated: the input is then
   * pushed in pieces small enough that none can expand far past what is left of the cap (a zlib bomb
   * in a rectangle cannot make the worker allocate gigabytes).
   */
  push(chunk: Uint8Array, maxOutput = Infinity): Uint8Array {
    let body = chunk;
    if (this.headerBytes < 2) {
      const take = Math.min(2 - this.headerBytes, body.length);
      this.header.set(body.subarray(0, take), this.headerBytes);
      this.headerBytes += take;
      body = body.subarray(take);
      if (this.headerBytes === 2) this.checkHeader();
    }
    this.pieces.length = 0;
    this.produced = 0;
    try {
      if (body.length <= Math.max(MIN_CAPPED_SLICE, maxOutput / MAX_DEFLATE_RATIO)) {
        this.inflate.push(body, false);
      } else {
        for (let at = 0; at < body.length && this.produced <= maxOutput;) {
          const room = maxOutput - this.produced;
          const take = Math.max(MIN_CAPPED_SLICE, Math.floor(room / MAX_DEFLATE_RATIO));
          this.inflate.push(body.subarray(at, at + take), false);
          at += take;
        }
      }
    } catch (error) {
      this.pieces.length = 0;
      throw new DecodeError(`zlib: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (this.produced > maxOutput) {
      this.pieces.length = 0;
      throw new DecodeError(`zlib: rectangle inflates to more than ${maxOutput} bytes`);
    }
    const [only] = this.pieces;
    if (this.pieces.length === 1 && only) {
      this.pieces.length = 0;
      return only;
    }
    const out = new Uint8Array(this.produced);
    let at = 0;
    for (const p of this.pieces) {
      out.set(p, at);
      at += p.length;
    }
    this.pieces.length = 0;
    return out;
  }

  private newInflate(): Inflate {
    return new Inflate((data) => {
      if (data.length === 0) return;
      this.pieces.push(data);
      this.produced += data.length;
    });
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
