/** Builders for hand-made RFB server-to-client bytes, and a seeded PRNG, for the gateway tests. */

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function u16(v: number): Uint8Array {
  return Uint8Array.of(v >> 8, v & 0xff);
}

export function u32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0);
  return out;
}

/** FramebufferUpdate header: type 0, padding, number of rectangles. */
export function fbuHeader(count: number): Uint8Array {
  return concat(Uint8Array.of(0, 0), u16(count));
}

export function rectHeader(x: number, y: number, w: number, h: number, encoding: number): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint16(0, x);
  view.setUint16(2, y);
  view.setUint16(4, w);
  view.setUint16(6, h);
  view.setInt32(8, encoding);
  return out;
}

export function rect(
  x: number,
  y: number,
  w: number,
  h: number,
  encoding: number,
  payload: Uint8Array,
): Uint8Array {
  return concat(rectHeader(x, y, w, h, encoding), payload);
}

export function serverCutText(bytes: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(3, 0, 0, 0), u32(bytes.length), bytes);
}

/** Deterministic PRNG (mulberry32): the same seed gives the same test input on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits `data` into pieces of 1..maxSize bytes (views, not copies). */
export function randomChunks(data: Uint8Array, random: () => number, maxSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length;) {
    const size = 1 + Math.floor(random() * maxSize);
    out.push(data.subarray(at, at + size));
    at += size;
  }
  return out;
}
