import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { DesktopNameDecoder } from '../../../worker/decoders/desktop-name-decoder.ts';
import { rect } from './helpers.ts';
import { lengthPrefixed } from './zlib-stream-encoder.ts';

const NAME = Encoding.DesktopName;

describe('DesktopNameDecoder', () => {
  it('reads a UTF-8 name once', () => {
    const decoder = new DesktopNameDecoder();
    decoder.decode(rect(0, 0, 0, 0, NAME, lengthPrefixed(new TextEncoder().encode('bureau ☕ 1'))));
    assert.equal(decoder.take(), 'bureau ☕ 1');
    assert.equal(decoder.take(), null);
    decoder.decode(rect(0, 0, 0, 0, NAME, lengthPrefixed([0x61, 0xff])));
    assert.equal(decoder.take(), 'a\ufffd', 'invalid UTF-8 is replaced, not fatal');
  });

  it('rejects a bad length', () => {
    const bad = (data: number[], pattern: RegExp): void =>
      assert.throws(
        () => new DesktopNameDecoder().decode(rect(0, 0, 0, 0, NAME, data)),
        (e: unknown) => e instanceof DecodeError && pattern.test(e.message),
      );
    bad([0, 0, 0], /truncated/);
    bad([0, 0, 0, 2, 0x61], /says 2 bytes, payload has 1/);
    bad([0, 1, 0, 1], /65537 bytes/);
  });
});
