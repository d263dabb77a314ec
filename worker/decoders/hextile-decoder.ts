import type { StreamRect } from '../../protocol/stream.ts';
import { rgbAt, type Framebuffer } from '../framebuffer.ts';
import { DecodeError } from './decode-error.ts';
import type { RectDecoder } from './rect-decoder.ts';

const TILE = 16;
const RAW = 0x01;
const BACKGROUND_SPECIFIED = 0x02;
const FOREGROUND_SPECIFIED = 0x04;
const ANY_SUBRECTS = 0x08;
const SUBRECTS_COLOURED = 0x10;

/**
 * Hextile (5): 16×16 tiles, row-major, each a subencoding byte of flags then its data; pixels are
 * 4 bytes R, G, B, X. Background and foreground carry over from tile to tile within one rectangle.
 */
export class HextileDecoder implements RectDecoder {
  decode(rect: StreamRect, fb: Framebuffer): void {
    const { x, y, w, h, data } = rect;
    fb.checkRect(x, y, w, h);
    const end = data.length;
    let pos = 0;
    // -1 = not yet specified in this rectangle (a packed colour is never negative).
    let background = -1;
    let foreground = -1;
    for (let ty = y; ty < y + h; ty += TILE) {
      const th = Math.min(TILE, y + h - ty);
      for (let tx = x; tx < x + w; tx += TILE) {
        const tw = Math.min(TILE, x + w - tx);
        if (pos >= end) throw new DecodeError('Hextile tile is truncated');
        const flags = data[pos++] as number;
        if (flags > 0x1f) throw new DecodeError(`Hextile subencoding ${flags} has undefined bits`);
        if (flags & RAW) {
          // The other flags mean nothing on a raw tile.
          fb.putRgbx(tx, ty, tw, th, data, pos);
          pos += tw * th * 4;
          continue;
        }
        if (flags & BACKGROUND_SPECIFIED) {
          if (pos + 4 > end) throw new DecodeError('Hextile background is truncated');
          background = rgbAt(data, pos);
          pos += 4;
        }
        if (background < 0) throw new DecodeError('Hextile tile has no background colour');
        if (flags & FOREGROUND_SPECIFIED) {
          if (pos + 4 > end) throw new DecodeError('Hextile foreground is truncated');
          foreground = rgbAt(data, pos);
          pos += 4;
        }
        fb.fillRect(tx, ty, tw, th, background);
        if (!(flags & ANY_SUBRECTS)) continue;
        if (pos >= end) throw new DecodeError('Hextile subrectangle count is truncated');
        const count = data[pos++] as number;
        const coloured = (flags & SUBRECTS_COLOURED) !== 0;
        if (!coloured && count > 0 && foreground < 0)
          throw new DecodeError('Hextile tile has no foreground colour');
        if (pos + count * (coloured ? 6 : 2) > end)
          throw new DecodeError('Hextile subrectangles are truncated');
        for (let i = 0; i < count; i++) {
          let color = foreground;
          if (coloured) {
            color = rgbAt(data, pos);
            pos += 4;
          }
          const xy = data[pos] as number;
          const wh = data[pos + 1] as number;
          pos += 2;
          const sx = xy >> 4;
          const sy = xy & 15;
          const sw = (wh >> 4) + 1;
          const sh = (wh & 15) + 1;
          if (sx + sw > tw || sy + sh > th) {
            throw new DecodeError(
              `Hextile subrectangle ${sw}x${sh}+${sx}+${sy} is outside its ${tw}x${th} tile`,
            );
          }
          fb.fillRect(tx + sx, ty + sy, sw, sh, color);
        }
      }
    }
    if (pos !== end) throw new DecodeError(`Hextile rectangle has ${end - pos} bytes left over`);
    fb.markDirty(x, y, w, h);
  }
}
