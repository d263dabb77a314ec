import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Reader for the recorded RFB server streams in /work/shared/fixtures/rfb (format `rfb-server-stream/1`,
 * described in that folder's README.md). Set RFB_FIXTURES to read them from elsewhere.
 */

export interface RfbRecordingPixelFormat {
  bitsPerPixel: number;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

/** The sidecar fields tests rely on (the JSON holds more). */
export interface RfbRecordingMeta {
  format: 'rfb-server-stream/1';
  width: number;
  height: number;
  pixelFormat: RfbRecordingPixelFormat;
  /** The 20 SetPixelFormat bytes the recording client sent, as spaced hex. */
  setPixelFormatMessage: string;
  encodings: Array<{ code: number; name: string }>;
  chunks: number;
  bytes: number;
  framebufferUpdates: number;
  /** Rectangle headers in all updates, LastRect pseudo-rectangles included. */
  rects: number;
  pixelRects: number;
  /** Keyed by encoding name: Raw, CopyRect, Hextile, ZRLE, Tight, LastRect, … */
  rectsByEncoding: Record<string, number>;
  bytesByEncoding: Record<string, number>;
  tightSubtypes?: Record<string, number>;
  hextileTiles?: { raw: number; other: number };
  serverMessages: Record<string, number>;
  /** Bytes before the first server message (ProtocolVersion … ServerInit). */
  handshakeBytes: number;
  desktopName: string;
  scenario: string;
  durationMs: number;
  firstUpdateMs: number;
  lastChunkMs: number;
  stopReason: 'signal' | 'duration' | 'max-bytes';
  finalFrame: { width: number; height: number; rgbSha256: string; rgbSha256Note?: string };
}

export interface RfbRecordingChunk {
  /** Milliseconds since the connection was established. */
  t: number;
  data: Uint8Array;
}

export interface RfbRecording {
  name: string;
  meta: RfbRecordingMeta;
  /** The socket reads as recorded (payloads are views into one file buffer: do not modify them). */
  chunks: RfbRecordingChunk[];
  /** A new copy of all payload bytes: the complete server-to-client stream, handshake included. */
  stream(): Uint8Array;
}

/** Encoding names as the sidecars spell them, by RFB encoding number. */
export const RECORDING_ENCODING_NAMES: Readonly<Record<number, string>> = {
  0: 'Raw',
  1: 'CopyRect',
  2: 'RRE',
  5: 'Hextile',
  6: 'Zlib',
  7: 'Tight',
  16: 'ZRLE',
  [-223]: 'DesktopSize',
  [-224]: 'LastRect',
  [-239]: 'Cursor',
  [-307]: 'DesktopName',
  [-308]: 'ExtendedDesktopSize',
};

export function rfbFixturesDir(): string {
  const fromEnv = process.env['RFB_FIXTURES'];
  if (fromEnv) return fromEnv;
  // test/support → repository root → its parent, where shared/ sits beside the repository.
  return fileURLToPath(new URL('../../../shared/fixtures/rfb/', import.meta.url));
}

/** Recording names (file names without `.rfb`), sorted. */
export function listRecordings(): string[] {
  return readdirSync(rfbFixturesDir())
    .filter((file) => file.endsWith('.rfb'))
    .map((file) => file.slice(0, -'.rfb'.length))
    .sort();
}

export function parseRecordingChunks(file: Uint8Array): RfbRecordingChunk[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const chunks: RfbRecordingChunk[] = [];
  let pos = 0;
  while (pos < file.length) {
    if (pos + 8 > file.length) throw new Error(`truncated chunk header at ${pos}`);
    const t = view.getUint32(pos);
    const n = view.getUint32(pos + 4);
    if (n === 0 || pos + 8 + n > file.length) throw new Error(`bad chunk length ${n} at ${pos}`);
    chunks.push({ t, data: file.subarray(pos + 8, pos + 8 + n) });
    pos += 8 + n;
  }
  return chunks;
}

export function loadRecording(name: string): RfbRecording {
  const dir = rfbFixturesDir();
  const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as RfbRecordingMeta;
  if (meta.format !== 'rfb-server-stream/1')
    throw new Error(`${name}: unknown format ${String(meta.format)}`);
  const file = readFileSync(join(dir, `${name}.rfb`));
  const chunks = parseRecordingChunks(new Uint8Array(file.buffer, file.byteOffset, file.byteLength));
  const total = chunks.reduce((sum, c) => sum + c.data.length, 0);
  if (total !== meta.bytes) throw new Error(`${name}: ${total} payload bytes, sidecar says ${meta.bytes}`);
  return {
    name,
    meta,
    chunks,
    stream() {
      // A fresh copy each call: callers may transfer or modify it.
      const out = new Uint8Array(meta.bytes);
      let at = 0;
      for (const c of chunks) {
        out.set(c.data, at);
        at += c.data.length;
      }
      return out;
    },
  };
}
