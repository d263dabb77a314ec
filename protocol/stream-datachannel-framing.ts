/**
 * Framing of stream messages on the WebRTC DataChannel (both directions).
 *
 * A DataChannel message is limited by the peer's SCTP `max-message-size` (the gateway advertises 64 KiB,
 * Chromium 256 KiB), while one stream message (an update) can be megabytes. So every stream message is
 * cut into fragments of at most STREAM_DATACHANNEL_FRAGMENT_BYTES, each one DataChannel message:
 *
 *   byte 0     1 = more fragments of this message follow, 0 = this fragment ends the message
 *   bytes 1…   the next bytes of the msgpack-encoded stream message
 *
 * The channel is ordered and reliable, so fragments arrive in order and the receiver appends them until
 * a fragment with byte 0 = 0. A message of up to STREAM_DATACHANNEL_FRAGMENT_BYTES − 1 bytes is one
 * fragment.
 */

/** The largest DataChannel message either end sends: header byte included; both ends accept it. */
export const STREAM_DATACHANNEL_FRAGMENT_BYTES = 64 * 1024;

const MORE = 1;
const LAST = 0;

/** The fragments of one message, each at most `maxFragmentBytes` long (header included). */
export function fragmentStreamMessage(
  message: Uint8Array,
  maxFragmentBytes: number = STREAM_DATACHANNEL_FRAGMENT_BYTES,
): Uint8Array<ArrayBuffer>[] {
  if (!Number.isInteger(maxFragmentBytes) || maxFragmentBytes < 2) {
    throw new RangeError(`a fragment must hold at least 2 bytes, got ${maxFragmentBytes}`);
  }
  const room = maxFragmentBytes - 1;
  const fragments: Uint8Array<ArrayBuffer>[] = [];
  let offset = 0;
  do {
    const end = Math.min(offset + room, message.length);
    const fragment = new Uint8Array(1 + end - offset);
    fragment[0] = end < message.length ? MORE : LAST;
    fragment.set(message.subarray(offset, end), 1);
    fragments.push(fragment);
    offset = end;
  } while (offset < message.length);
  return fragments;
}

/** A fragment that breaks the framing (empty, an unknown header, or a message over the size bound). */
export class StreamFramingError extends Error {}

/**
 * Joins fragments back into messages. Bounded: a message growing past `maxMessageBytes` throws, so a
 * peer cannot make the receiver buffer without limit.
 */
export class StreamMessageReassembler {
  private parts: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of the message being joined (0 between messages). */
  get pendingBytes(): number {
    return this.size;
  }

  /** Takes the next fragment; returns the whole message when this fragment ended one, else null. */
  push(fragment: Uint8Array): Uint8Array | null {
    if (fragment.length === 0) throw new StreamFramingError('empty DataChannel fragment');
    const header = fragment[0];
    if (header !== MORE && header !== LAST) {
      throw new StreamFramingError(`unknown DataChannel fragment header ${String(header)}`);
    }
    const body = fragment.subarray(1);
    if (this.size + body.length > this.maxMessageBytes) {
      throw new StreamFramingError(`stream message over ${this.maxMessageBytes} bytes`);
    }
    if (header === LAST && this.parts.length === 0) return body; // the common case: no copy
    this.parts.push(body);
    this.size += body.length;
    if (header === MORE) return null;
    const message = new Uint8Array(this.size);
    let offset = 0;
    for (const part of this.parts) {
      message.set(part, offset);
      offset += part.length;
    }
    this.parts = [];
    this.size = 0;
    return message;
  }
}
