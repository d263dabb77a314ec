import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Packr, Unpackr } from 'msgpackr';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import type { ServerStreamMessage } from '../../../protocol/stream.ts';
import { DecodeError } from '../../../worker/decoders/decode-error.ts';
import { StreamDecoder, toServerStreamMessage } from '../../../worker/stream-decoder.ts';
import { rect, region, ZrleStreamEncoder } from './helpers.ts';

const init = (width: number, height: number): ServerStreamMessage => ({
  t: 'init',
  version: 1,
  width,
  height,
  name: 'desk',
});

describe('StreamDecoder', () => {
  it('sizes the framebuffer on init, applies updates and reports the dirty union box', () => {
    const d = new StreamDecoder();
    assert.deepEqual(d.apply(init(8, 4)), { type: 'init', width: 8, height: 4, name: 'desk' });
    assert.equal(d.framebuffer.width, 8);
    const outcome = d.apply({
      t: 'update',
      seq: 7,
      rects: [
        rect(1, 1, 1, 1, Encoding.Raw, [1, 2, 3, 0]),
        rect(5, 2, 1, 1, Encoding.CopyRect, [0, 1, 0, 1]),
      ],
    });
    assert.deepEqual(outcome, {
      type: 'update',
      seq: 7,
      rects: 2,
      dirty: { x: 1, y: 1, w: 5, h: 2 },
      resized: false,
    });
    assert.deepEqual(region(d.framebuffer, 5, 2, 1, 1), ['1,2,3']);
    assert.deepEqual(d.apply({ t: 'update', seq: 8, rects: [] }), {
      type: 'update',
      seq: 8,
      rects: 0,
      dirty: null,
      resized: false,
    });
  });

  it('reports a DesktopSize inside an update as a resize with the whole screen dirty', () => {
    const d = new StreamDecoder();
    d.apply(init(4, 4));
    const outcome = d.apply({ t: 'update', seq: 1, rects: [rect(0, 0, 6, 3, Encoding.DesktopSize, [])] });
    assert.deepEqual(outcome, {
      type: 'update',
      seq: 1,
      rects: 1,
      dirty: { x: 0, y: 0, w: 6, h: 3 },
      resized: true,
    });
  });

  it('starts a fresh zlib stream on a new init', () => {
    const d = new StreamDecoder();
    for (let i = 0; i < 2; i++) {
      d.apply(init(2, 2));
      const data = new ZrleStreamEncoder().payload([1, 9, 9, 9]);
      d.apply({ t: 'update', seq: 1, rects: [{ x: 0, y: 0, w: 2, h: 2, encoding: Encoding.ZRLE, data }] });
      assert.deepEqual(region(d.framebuffer, 1, 1, 1, 1), ['9,9,9']);
    }
  });

  it('clears the previous picture on init', () => {
    const d = new StreamDecoder();
    d.apply(init(1, 1));
    d.apply({ t: 'update', seq: 1, rects: [rect(0, 0, 1, 1, Encoding.Raw, [5, 5, 5, 0])] });
    d.apply(init(1, 1));
    assert.deepEqual(region(d.framebuffer, 0, 0, 1, 1), ['0,0,0']);
  });

  it('passes bell, clipboard, state and error through and ignores unknown message types', () => {
    const d = new StreamDecoder();
    assert.deepEqual(d.apply({ t: 'bell' }), { type: 'bell' });
    assert.deepEqual(d.apply({ t: 'clipboard', text: 'hi' }), { type: 'clipboard', text: 'hi' });
    assert.deepEqual(d.apply({ t: 'state', state: 'paused' }), { type: 'state', state: 'paused' });
    assert.deepEqual(d.apply({ t: 'error', code: 'UPSTREAM_CLOSED', message: 'gone' }), {
      type: 'error',
      code: 'UPSTREAM_CLOSED',
      message: 'gone',
    });
    assert.deepEqual(d.apply({ t: 'error', code: 'FROM_THE_FUTURE', message: 'x' }), {
      type: 'error',
      code: 'INTERNAL',
      message: 'x',
    });
    assert.deepEqual(d.apply({ t: 'fence', id: 1 }), { type: 'ignored' });
  });

  it('rejects malformed messages and updates before init', () => {
    const d = new StreamDecoder();
    assert.throws(() => d.apply({ t: 'update', seq: 1, rects: [] }), /before init/);
    for (const bad of [
      null,
      [1, 2],
      'init',
      {},
      { t: 5 },
      { t: 'init', version: 99, width: 1, height: 1, name: '' },
      { t: 'init', version: 1, width: -1, height: 1, name: '' },
      { t: 'init', version: 1, width: 1, height: 1 },
      { t: 'update', seq: -1, rects: [] },
      { t: 'update', seq: 1, rects: {} },
      { t: 'update', seq: 1, rects: [{ x: 0, y: 0, w: 1, h: 1, encoding: 0, data: [1, 2, 3, 4] }] },
      { t: 'update', seq: 1, rects: [{ x: 0, y: 0, w: 1.5, h: 1, encoding: 0, data: new Uint8Array(4) }] },
      { t: 'update', seq: 1, rects: [{ x: 0, y: 0, w: 1, h: 1, data: new Uint8Array(4) }] },
      { t: 'clipboard', text: 3 },
      { t: 'state', state: 'napping' },
      { t: 'error', code: 'INTERNAL' },
    ]) {
      assert.throws(() => toServerStreamMessage(bad), DecodeError, JSON.stringify(bad));
    }
    d.apply(init(2, 2));
    assert.throws(
      () =>
        d.apply({
          t: 'update',
          seq: 1,
          rects: [rect(1, 1, 2, 2, Encoding.Raw, new Array<number>(16).fill(0))],
        }),
      DecodeError,
    );
  });

  it('decodes messages as the worker unpacks them (msgpackr, records off, bin → Uint8Array)', () => {
    const packr = new Packr({ useRecords: false });
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
    const d = new StreamDecoder();
    d.apply(unpackr.unpack(packr.pack(init(2, 1))));
    const update = { t: 'update', seq: 3, rects: [rect(1, 0, 1, 1, Encoding.Raw, [4, 5, 6, 0])] };
    const outcome = d.apply(unpackr.unpack(packr.pack(update)));
    assert.equal(outcome.type, 'update');
    assert.deepEqual(region(d.framebuffer, 0, 0, 2, 1), ['0,0,0', '4,5,6']);
  });
});
