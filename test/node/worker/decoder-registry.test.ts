import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { DecoderRegistry } from '../../../worker/decoders/decoder-registry.ts';
import { Framebuffer, packRgb } from '../../../worker/framebuffer.ts';
import { rect, region } from './helpers.ts';

describe('DecoderRegistry', () => {
  it('knows every encoding the gateway frames, pseudo-encodings included', () => {
    const registry = new DecoderRegistry();
    for (const e of Object.values(Encoding)) assert.ok(registry.has(e), String(e));
    assert.equal(registry.has(8), false);
  });

  it('dispatches by encoding number', () => {
    const fb = new Framebuffer(2, 1);
    new DecoderRegistry().decode(rect(1, 0, 1, 1, Encoding.Raw, [9, 8, 7, 0]), fb);
    assert.deepEqual(region(fb, 0, 0, 2, 1), ['0,0,0', '9,8,7']);
  });

  it('treats DesktopSize as a resize that keeps the overlapping picture', () => {
    const fb = new Framebuffer(2, 2);
    fb.fillRect(0, 0, 2, 2, packRgb(5, 5, 5));
    fb.takeDirty();
    new DecoderRegistry().decode(rect(0, 0, 3, 1, Encoding.DesktopSize, []), fb);
    assert.equal(fb.width, 3);
    assert.equal(fb.height, 1);
    assert.deepEqual(region(fb, 0, 0, 3, 1), ['5,5,5', '5,5,5', '0,0,0']);
    assert.deepEqual(fb.takeDirty(), { x: 0, y: 0, w: 3, h: 1 });
    assert.throws(
      () => new DecoderRegistry().decode(rect(0, 0, 3, 1, Encoding.DesktopSize, [0]), fb),
      DecodeError,
    );
  });

  it('resizes on an ExtendedDesktopSize with status 0 only', () => {
    const fb = new Framebuffer(2, 2);
    const screen = new Array<number>(16).fill(0);
    const registry = new DecoderRegistry();
    registry.decode(rect(1, 3, 9, 9, Encoding.ExtendedDesktopSize, [1, 0, 0, 0, ...screen]), fb);
    assert.deepEqual([fb.width, fb.height], [2, 2], 'status 3 is a refusal');
    registry.decode(rect(1, 0, 8, 6, Encoding.ExtendedDesktopSize, [1, 0, 0, 0, ...screen]), fb);
    assert.deepEqual([fb.width, fb.height], [8, 6]);
    assert.throws(
      () => registry.decode(rect(0, 0, 8, 6, Encoding.ExtendedDesktopSize, [2, 0, 0, 0, ...screen]), fb),
      DecodeError,
    );
  });

  it('ignores a stray LastRect and rejects encodings it cannot decode', () => {
    const fb = new Framebuffer(2, 2);
    const registry = new DecoderRegistry();
    registry.decode(rect(0, 0, 0, 0, Encoding.LastRect, []), fb);
    assert.throws(() => registry.decode(rect(0, 0, 1, 1, 8, [0]), fb), /unsupported encoding 8/);
    assert.throws(() => registry.decode(rect(0, 0, 0, 0, 12345, []), fb), DecodeError);
  });

  it('rejects an absurd DesktopSize instead of allocating it', () => {
    const fb = new Framebuffer(2, 2);
    assert.throws(
      () => new DecoderRegistry().decode(rect(0, 0, 65535, 65535, Encoding.DesktopSize, []), fb),
      /too large/,
    );
  });
});
