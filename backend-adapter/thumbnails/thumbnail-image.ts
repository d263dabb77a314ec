import { crc32, deflateSync } from 'node:zlib';
import type { Snapshot } from './rfb-snapshot.ts';

/** A thumbnail fits in this box, keeping the desktop's aspect ratio (never enlarged). */
export const THUMBNAIL_MAX_WIDTH = 192;
export const THUMBNAIL_MAX_HEIGHT = 120;

export interface ThumbnailImage {
  width: number;
  height: number;
  png: Buffer;
}

/** The snapshot shrunk into the thumbnail box (each output pixel the mean of its source block), as a PNG. */
export function thumbnailOf(snapshot: Snapshot): ThumbnailImage {
  const { width: sw, height: sh, rgbx } = snapshot;
  const scale = Math.min(THUMBNAIL_MAX_WIDTH / sw, THUMBNAIL_MAX_HEIGHT / sh, 1);
  const width = Math.max(1, Math.round(sw * scale));
  const height = Math.max(1, Math.round(sh * scale));
  const rgb = new Uint8Array(width * height * 3);
  for (let ty = 0; ty < height; ty++) {
    const y0 = Math.floor((ty * sh) / height);
    const y1 = Math.max(y0 + 1, Math.floor(((ty + 1) * sh) / height));
    for (let tx = 0; tx < width; tx++) {
      const x0 = Math.floor((tx * sw) / width);
      const x1 = Math.max(x0 + 1, Math.floor(((tx + 1) * sw) / width));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let y = y0; y < y1; y++) {
        let i = (y * sw + x0) * 4;
        for (let x = x0; x < x1; x++, i += 4) {
          r += rgbx[i] as number;
          g += rgbx[i + 1] as number;
          b += rgbx[i + 2] as number;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (ty * width + tx) * 3;
      rgb[o] = Math.round(r / n);
      rgb[o + 1] = Math.round(g / n);
      rgb[o + 2] = Math.round(b / n);
    }
  }
  return { width, height, png: encodePng(width, height, rgb) };
}

/** An 8-bit RGB PNG (no filtering: thumbnails are small, zlib does the rest). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter type None
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, truecolour, deflate, no filter method variants, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}
