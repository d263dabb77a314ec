/**
 * Encoders for the RFB client-to-server messages the gateway sends (RFC 6143 §7.5).
 * Arguments out of their wire range are programming errors and throw RangeError; callers validate input first.
 */

/**
 * SetPixelFormat with noVNC's format: 32 bpp, depth 24, little-endian, true colour, max 255,
 * red-shift 0, green-shift 8, blue-shift 16 — bytes R,G,B,X in memory, as a browser's ImageData wants them.
 */
const SET_PIXEL_FORMAT_RGBX = Uint8Array.of(
  0,
  0,
  0,
  0,
  32,
  24,
  0,
  1,
  0,
  255,
  0,
  255,
  0,
  255,
  0,
  8,
  16,
  0,
  0,
  0,
);

function checkRange(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new RangeError(`${name} ${value} outside 0..${max}`);
}

export function encodeSetPixelFormat(): Uint8Array {
  return SET_PIXEL_FORMAT_RGBX.slice();
}

/** `encodings` in preference order; pseudo-encodings are negative. */
export function encodeSetEncodings(encodings: readonly number[]): Uint8Array {
  checkRange('encoding count', encodings.length, 0xffff);
  const out = new Uint8Array(4 + encodings.length * 4);
  const view = new DataView(out.buffer);
  out[0] = 2;
  view.setUint16(2, encodings.length);
  encodings.forEach((encoding, i) => {
    if (!Number.isInteger(encoding) || encoding < -0x80000000 || encoding > 0x7fffffff) {
      throw new RangeError(`encoding ${encoding} is not a 32-bit integer`);
    }
    view.setInt32(4 + i * 4, encoding);
  });
  return out;
}

export function encodeFramebufferUpdateRequest(
  incremental: boolean,
  x: number,
  y: number,
  width: number,
  height: number,
): Uint8Array {
  checkRange('x', x, 0xffff);
  checkRange('y', y, 0xffff);
  checkRange('width', width, 0xffff);
  checkRange('height', height, 0xffff);
  const out = new Uint8Array(10);
  const view = new DataView(out.buffer);
  out[0] = 3;
  out[1] = incremental ? 1 : 0;
  view.setUint16(2, x);
  view.setUint16(4, y);
  view.setUint16(6, width);
  view.setUint16(8, height);
  return out;
}

/** `keysym` is an X11 keysym. */
export function encodeKeyEvent(keysym: number, down: boolean): Uint8Array {
  checkRange('keysym', keysym, 0xffffffff);
  const out = new Uint8Array(8);
  out[0] = 4;
  out[1] = down ? 1 : 0;
  new DataView(out.buffer).setUint32(4, keysym);
  return out;
}

/** `buttons` is the RFB button mask (bit 0 left … bit 7). */
export function encodePointerEvent(x: number, y: number, buttons: number): Uint8Array {
  checkRange('x', x, 0xffff);
  checkRange('y', y, 0xffff);
  checkRange('buttons', buttons, 0xff);
  const out = new Uint8Array(6);
  const view = new DataView(out.buffer);
  out[0] = 5;
  out[1] = buttons;
  view.setUint16(2, x);
  view.setUint16(4, y);
  return out;
}

/** ClientCutText carries Latin-1 (RFC 6143 §7.5.6): any other character (code point) becomes one '?'. */
export function encodeClientCutText(text: string): Uint8Array {
  const out = new Uint8Array(8 + text.length);
  out[0] = 6;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++; // a surrogate pair is one character
    }
    out[8 + n++] = code <= 0xff ? code : 0x3f;
  }
  new DataView(out.buffer).setUint32(4, n);
  return out.subarray(0, 8 + n);
}

/** One screen of an ExtendedDesktopSize layout (RFC 6143 §7.8.2 as extended by the community registry). */
export interface RfbScreen {
  id: number;
  x: number;
  y: number;
  width: number;
  height: number;
  flags: number;
}

/** SetDesktopSize (type 251): the whole desktop's new size and its screens' layout. */
export function encodeSetDesktopSize(
  width: number,
  height: number,
  screens: readonly RfbScreen[],
): Uint8Array {
  checkRange('width', width, 0xffff);
  checkRange('height', height, 0xffff);
  checkRange('screen count', screens.length, 0xff);
  const out = new Uint8Array(8 + screens.length * 16);
  const view = new DataView(out.buffer);
  out[0] = 251;
  view.setUint16(2, width);
  view.setUint16(4, height);
  out[6] = screens.length;
  screens.forEach((s, i) => {
    const p = 8 + i * 16;
    checkRange('screen id', s.id, 0xffffffff);
    checkRange('screen x', s.x, 0xffff);
    checkRange('screen y', s.y, 0xffff);
    checkRange('screen width', s.width, 0xffff);
    checkRange('screen height', s.height, 0xffff);
    checkRange('screen flags', s.flags, 0xffffffff);
    view.setUint32(p, s.id);
    view.setUint16(p + 4, s.x);
    view.setUint16(p + 6, s.y);
    view.setUint16(p + 8, s.width);
    view.setUint16(p + 10, s.height);
    view.setUint32(p + 12, s.flags);
  });
  return out;
}

/** The screens an ExtendedDesktopSize rectangle's payload describes (null when truncated). */
export function parseExtendedDesktopSize(data: Uint8Array): RfbScreen[] | null {
  if (data.length < 4) return null;
  const count = data[0] as number;
  if (data.length < 4 + count * 16) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const screens: RfbScreen[] = [];
  for (let i = 0; i < count; i++) {
    const p = 4 + i * 16;
    screens.push({
      id: view.getUint32(p),
      x: view.getUint16(p + 4),
      y: view.getUint16(p + 6),
      width: view.getUint16(p + 8),
      height: view.getUint16(p + 10),
      flags: view.getUint32(p + 12),
    });
  }
  return screens;
}
