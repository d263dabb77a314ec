import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pack, unpack } from 'msgpackr';
import {
  MAX_CLIPBOARD_CHARS,
  parseClientStreamMessage,
} from '../../../backend-adapter/gateway/stream-client-message.ts';

describe('parseClientStreamMessage', () => {
  it('accepts every well-formed viewer message, also after a msgpack round trip', () => {
    for (const message of [
      { t: 'key', keysym: 0xffffffff, down: false },
      { t: 'pointer', x: -3.5, y: 1e6, buttons: 255 },
      { t: 'ack', seq: 0 },
      { t: 'clipboard', text: 'x'.repeat(MAX_CLIPBOARD_CHARS) },
    ]) {
      assert.deepEqual(parseClientStreamMessage(message), message);
      assert.deepEqual(parseClientStreamMessage(unpack(pack(message))), message);
    }
  });

  it('rejects anything else', () => {
    for (const bad of [
      undefined,
      null,
      42,
      'key',
      ['key', 1, true],
      new Map([['t', 'ack']]),
      {},
      { t: 'nope' },
      { t: 'toString' },
      { t: 'key', keysym: 1 },
      { t: 'key', keysym: 1, down: 1 },
      { t: 'key', keysym: -1, down: true },
      { t: 'key', keysym: 2 ** 32, down: true },
      { t: 'key', keysym: 1.5, down: true },
      { t: 'key', keysym: 1, down: true, extra: 0 },
      { t: 'pointer', x: Number.NaN, y: 0, buttons: 0 },
      { t: 'pointer', x: 0, y: Infinity, buttons: 0 },
      { t: 'pointer', x: '1', y: 0, buttons: 0 },
      { t: 'pointer', x: 0, y: 0, buttons: 256 },
      { t: 'ack', seq: -1 },
      { t: 'ack', seq: 1.5 },
      { t: 'ack', seq: '1' },
      { t: 'clipboard', text: 5 },
      { t: 'clipboard', text: 'x'.repeat(MAX_CLIPBOARD_CHARS + 1) },
      Object.assign(Object.create({ inherited: true }) as object, { t: 'ack', seq: 1 }),
    ]) {
      assert.equal(parseClientStreamMessage(bad), null, JSON.stringify(bad) ?? String(bad));
    }
  });
});
