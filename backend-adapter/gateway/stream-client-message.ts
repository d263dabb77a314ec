import type { ClientStreamMessage } from '../../protocol/stream.ts';

/** Longest clipboard text a viewer may send, in UTF-16 code units. */
export const MAX_CLIPBOARD_CHARS = 1024 * 1024;

const FIELDS: Readonly<Record<ClientStreamMessage['t'], readonly string[]>> = {
  key: ['t', 'keysym', 'down'],
  pointer: ['t', 'x', 'y', 'buttons'],
  ack: ['t', 'seq'],
  clipboard: ['t', 'text'],
};

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
export function parseClientStreamMessage(value: unknown): ClientStreamMessage | null {
  if (!isPlainObject(value)) return null;
  const t = value['t'];
  if (typeof t !== 'string' || !Object.hasOwn(FIELDS, t)) return null;
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
    default:
      return null;
  }
}
