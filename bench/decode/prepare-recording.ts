import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { RfbMessageParser } from '../../backend-adapter/gateway/rfb-message-parser.ts';
import { STREAM_PROTOCOL_VERSION, type ServerStreamMessage } from '../../protocol/stream.ts';
import { parseRecordingChunks, type RfbRecordingMeta } from '../../test/support/rfb-recordings.ts';

/** A recording made ready for both replays, before anything is timed. */
export interface PreparedRecording {
  name: string;
  meta: RfbRecordingMeta;
  /** The whole server-to-client RFB stream (what noVNC gets). */
  stream: Uint8Array;
  /** The gateway's msgpack messages for it (what our worker gets): init, then the updates in order. */
  init: Uint8Array;
  messages: Array<{ data: Uint8Array; update: boolean }>;
  updates: number;
  /** Whether any rectangle is lossy (Tight JPEG), so frames may differ slightly between decoders. */
  lossy: boolean;
}

/** Exactly what the gateway does with the bytes after ServerInit (stream-bridge.ts): frame, then pack. */
function packed(message: ServerStreamMessage): Uint8Array {
  // msgpackr reuses its buffer between calls; keep a copy.
  return new Uint8Array(pack(message));
}

export function prepareRecording(folder: string, name: string): PreparedRecording {
  const meta = JSON.parse(readFileSync(join(folder, `${name}.json`), 'utf8')) as RfbRecordingMeta;
  if (meta.format !== 'rfb-server-stream/1')
    throw new Error(`${name}: unknown format ${String(meta.format)}`);
  const file = readFileSync(join(folder, `${name}.rfb`));
  const chunks = parseRecordingChunks(new Uint8Array(file.buffer, file.byteOffset, file.byteLength));
  const stream = new Uint8Array(chunks.reduce((n, c) => n + c.data.length, 0));
  let at = 0;
  for (const c of chunks) {
    stream.set(c.data, at);
    at += c.data.length;
  }
  const parser = new RfbMessageParser({ width: meta.width, height: meta.height });
  const messages: PreparedRecording['messages'] = [];
  let seq = 0;
  let lossy = false;
  for (const message of parser.push(stream.subarray(meta.handshakeBytes))) {
    switch (message.type) {
      case 'framebufferUpdate':
        for (const r of message.rects) if (r.encoding === 7 && (r.data[0] ?? 0) >> 4 === 0x9) lossy = true;
        messages.push({ data: packed({ t: 'update', seq: ++seq, rects: message.rects }), update: true });
        break;
      case 'bell':
        messages.push({ data: packed({ t: 'bell' }), update: false });
        break;
      case 'serverCutText':
        messages.push({ data: packed({ t: 'clipboard', text: message.text }), update: false });
        break;
      case 'setColourMapEntries':
        break; // the gateway drops these too
    }
  }
  const init = packed({
    t: 'init',
    version: STREAM_PROTOCOL_VERSION,
    width: meta.width,
    height: meta.height,
    name: meta.desktopName,
  });
  return { name, meta, stream, init, messages, updates: seq, lossy };
}
