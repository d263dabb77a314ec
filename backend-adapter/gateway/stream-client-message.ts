import {
  CLIENT_MESSAGE_VERSION,
  STREAM_PROTOCOL_VERSION,
  type ClientStreamMessage,
  type RtcSignal,
} from '../../protocol/stream.ts';

/** Longest clipboard text a viewer may send, in UTF-16 code units. */
export const MAX_CLIPBOARD_CHARS = 1024 * 1024;

const FIELDS: Readonly<Record<ClientStreamMessage['t'], readonly string[]>> = {
  key: ['t', 'keysym', 'down'],
  pointer: ['t', 'x', 'y', 'buttons'],
  ack: ['t', 'seq'],
  clipboard: ['t', 'text'],
  ping: ['t', 'id'],
  pong: ['t', 'id'],
  quality: ['t', 'jpeg', 'compression'],
  resize: ['t', 'width', 'height'],
  rtc: ['t', 'signal'],
};

/** Longest SDP or ICE candidate a viewer may send. */
export const MAX_SIGNAL_CHARS = 64 * 1024;

/** Largest desktop a viewer may ask for (RFB sizes are 16-bit; Xvnc refuses more than it can allocate). */
export const MAX_DESKTOP_SIDE = 8192;

function parseRtcSignal(value: unknown): RtcSignal | null {
  if (!isPlainObject(value)) return null;
  const short = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_SIGNAL_CHARS;
  switch (value['kind']) {
    case 'offer':
      return short(value['sdp']) ? { kind: 'offer', sdp: value['sdp'] } : null;
    case 'candidate': {
      const { candidate, sdpMid } = value;
      return short(candidate) && (sdpMid === null || short(sdpMid))
        ? { kind: 'candidate', candidate, sdpMid }
        : null;
    }
    default:
      return null; // answers and refusals only travel towards the viewer
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

const isUint = (v: unknown, max: number): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;

/**
 * Checks a decoded viewer message strictly: known `t`, exactly its fields, each in range.
 * Returns null for anything else (the caller treats that as a protocol error). Pointer coordinates
 * are only required to be finite: the bridge clamps them to the framebuffer.
 */
export function parseClientStreamMessage(
  value: unknown,
  version: number = STREAM_PROTOCOL_VERSION,
): ClientStreamMessage | null {
  if (!isPlainObject(value)) return null;
  const t = value['t'];
  if (typeof t !== 'string' || !Object.hasOwn(FIELDS, t)) return null;
  // A message newer than the negotiated version is as unknown as a made-up one.
  if (CLIENT_MESSAGE_VERSION[t as ClientStreamMessage['t']] > version) return null;
  const fields = FIELDS[t as ClientStreamMessage['t']];
  const keys = Object.keys(value);
  if (keys.length !== fields.length || !keys.every((k) => fields.includes(k))) return null;

  switch (t) {
    case 'key': {
      const { keysym, down } = value;
      return isUint(keysym, 0xffffffff) && typeof down === 'boolean' ? { t, keysym, down } : null;
    }
    case 'pointer': {
      const { x, y, buttons } = value;
      return Number.isFinite(x) && Number.isFinite(y) && isUint(buttons, 0xff)
        ? { t, x: x as number, y: y as number, buttons }
        : null;
    }
    case 'ack': {
      const { seq } = value;
      return isUint(seq, Number.MAX_SAFE_INTEGER) ? { t, seq } : null;
    }
    case 'clipboard': {
      const { text } = value;
      return typeof text === 'string' && text.length <= MAX_CLIPBOARD_CHARS ? { t, text } : null;
    }
    case 'ping':
    case 'pong': {
      const { id } = value;
      return isUint(id, 0xffffffff) ? { t, id } : null;
    }
    case 'quality': {
      const { jpeg, compression } = value;
      return isUint(jpeg, 9) && isUint(compression, 9) ? { t, jpeg, compression } : null;
    }
    case 'resize': {
      const { width, height } = value;
      return isUint(width, MAX_DESKTOP_SIDE) && isUint(height, MAX_DESKTOP_SIDE) && width > 0 && height > 0
        ? { t, width, height }
        : null;
    }
    case 'rtc': {
      const signal = parseRtcSignal(value['signal']);
      return signal ? { t, signal } : null;
    }
    default:
      return null;
  }
}
