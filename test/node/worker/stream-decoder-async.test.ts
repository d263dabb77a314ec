import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Encoding } from '../../../protocol/rfb-encodings.ts';
import { StreamDecoder } from '../../../worker/stream-decoder.ts';
import { rect, region } from './helpers.ts';
import { lengthPrefixed } from './zlib-stream-encoder.ts';

const init = (width: number, height: number) => ({ t: 'init', version: 1, width, height, name: 'desk' });
const jpeg = (x: number, w: number) => rect(x, 0, w, 1, Encoding.Tight, [0x90, 1, 0]);

describe('StreamDecoder with asynchronous rectangles', () => {
  it('returns a promise for an update with JPEG and the outcome directly otherwise', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const d = new StreamDecoder({
      decodeImage: async (_data, _mime, w, h) => {
        await gate;
        return new Uint8ClampedArray(w * h * 4).fill(7);
      },
    });
    d.applyMessage(init(3, 1));
    const pending = d.applyMessage({
      t: 'update',
      seq: 1,
      rects: [jpeg(0, 2), rect(2, 0, 1, 1, Encoding.CopyRect, [0, 0, 0, 0])],
    });
    assert.ok(pending instanceof Promise);
    // Nothing may be applied before it has finished: the worker queues messages meanwhile.
    assert.throws(() => d.applyMessage({ t: 'bell' }), /still decoding/);
    release();
    assert.deepEqual(await pending, {
      type: 'update',
      seq: 1,
      rects: 2,
      dirty: { x: 0, y: 0, w: 3, h: 1 },
      resized: false,
    });
    assert.deepEqual(region(d.framebuffer, 0, 0, 3, 1), ['7,7,7', '7,7,7', '7,7,7']);
    assert.deepEqual(d.applyMessage({ t: 'bell' }), { type: 'bell' });
  });

  it('refuses such an update in the synchronous apply(), and is free again afterwards', async () => {
    const d = new StreamDecoder({
      decodeImage: (_data, _mime, w, h) => Promise.resolve(new Uint8ClampedArray(w * h * 4)),
    });
    d.apply(init(2, 1));
    assert.throws(() => d.apply({ t: 'update', seq: 1, rects: [jpeg(0, 1)] }), /applyMessage/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(d.apply({ t: 'update', seq: 2, rects: [] }).type, 'update');
  });

  it('frees the decoder after a failed asynchronous update', async () => {
    const d = new StreamDecoder({ decodeImage: () => Promise.reject(new Error('corrupt JPEG')) });
    d.apply(init(2, 1));
    await assert.rejects(
      Promise.resolve(d.applyMessage({ t: 'update', seq: 1, rects: [jpeg(0, 1)] })),
      /corrupt JPEG/,
    );
    assert.deepEqual(d.apply({ t: 'bell' }), { type: 'bell' });
  });

  it('reports a new cursor shape and desktop name with the update that carried them', () => {
    const d = new StreamDecoder();
    d.apply(init(2, 2));
    const cursor = rect(0, 0, 1, 1, Encoding.Cursor, [1, 2, 3, 0, 0x80]);
    const name = rect(0, 0, 0, 0, Encoding.DesktopName, lengthPrefixed(new TextEncoder().encode('new name')));
    assert.deepEqual(d.apply({ t: 'update', seq: 1, rects: [cursor, name] }), {
      type: 'update',
      seq: 1,
      rects: 2,
      dirty: null,
      resized: false,
      cursor: { width: 1, height: 1, hotX: 0, hotY: 0, rgba: new Uint8ClampedArray([1, 2, 3, 255]) },
      desktopName: 'new name',
    });
    assert.deepEqual(d.apply({ t: 'update', seq: 2, rects: [] }), {
      type: 'update',
      seq: 2,
      rects: 0,
      dirty: null,
      resized: false,
    });
  });
});
