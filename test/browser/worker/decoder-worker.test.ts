import { expect } from '@open-wc/testing';
import { proxy, transfer, wrap } from 'comlink';
import { Packr, Unpackr } from 'msgpackr';
import type { StreamRect } from '../../../protocol/stream.ts';
import type { DecoderWorkerApi, ViewerEvent } from '../../../worker/decoder-worker-api.ts';
import { StreamDecoder } from '../../../worker/stream-decoder.ts';

const RAW = 0;
const COPY_RECT = 1;
const HEXTILE = 5;
const ZRLE = 16;

/**
 * A ZRLE payload whose zlib data uses stored (uncompressed) deflate blocks, so the browser test needs
 * no compressor: zlib header (first rectangle only), one non-final stored block, then the empty stored
 * block a sync flush ends with.
 */
function zrlePayload(tiles: number[], first: boolean): Uint8Array {
  const block = [
    0x00,
    tiles.length & 0xff,
    tiles.length >> 8,
    ~tiles.length & 0xff,
    (~tiles.length >> 8) & 0xff,
    ...tiles,
  ];
  const zlib = [...(first ? [0x78, 0x01] : []), ...block, 0x00, 0x00, 0x00, 0xff, 0xff];
  return Uint8Array.from([0, 0, (zlib.length >> 8) & 0xff, zlib.length & 0xff, ...zlib]);
}

function rect(
  x: number,
  y: number,
  w: number,
  h: number,
  encoding: number,
  data: ArrayLike<number>,
): StreamRect {
  return { x, y, w, h, encoding, data: Uint8Array.from(data) };
}

function canvasPixel(ctx: OffscreenCanvasRenderingContext2D, x: number, y: number): number[] {
  return Array.from(ctx.getImageData(x, y, 1, 1).data);
}

describe('stream decoder drawing into a real OffscreenCanvas', () => {
  it('decodes Raw, ZRLE, Hextile and CopyRect and puts only the dirty region', () => {
    const decoder = new StreamDecoder();
    decoder.apply({ t: 'init', version: 1, width: 8, height: 4, name: 'test' });
    const canvas = new OffscreenCanvas(8, 4);
    const ctx = canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error('no 2d context');
    // Paint the canvas so that anything outside the dirty region visibly stays untouched.
    ctx.fillStyle = 'rgb(200, 0, 200)';
    ctx.fillRect(0, 0, 8, 4);

    const outcome = decoder.apply({
      t: 'update',
      seq: 1,
      rects: [
        rect(0, 0, 1, 1, RAW, [255, 0, 0, 0]),
        { x: 1, y: 0, w: 2, h: 1, encoding: ZRLE, data: zrlePayload([0, 0, 255, 0, 0, 0, 255], true) },
        // Hextile: background (10, 20, 30) with one foreground (1, 2, 3) pixel at (1, 0) of the tile.
        rect(0, 1, 2, 2, HEXTILE, [0x0e, 10, 20, 30, 0, 1, 2, 3, 0, 1, 0x10, 0x00]),
        rect(3, 1, 2, 1, COPY_RECT, [0, 1, 0, 0]),
      ],
    });
    if (outcome.type !== 'update' || !outcome.dirty) throw new Error('expected a dirty update');
    expect(outcome.dirty).to.deep.equal({ x: 0, y: 0, w: 5, h: 3 });
    const fb = decoder.framebuffer;
    const { x, y, w, h } = outcome.dirty;
    ctx.putImageData(new ImageData(fb.data, fb.width, fb.height), 0, 0, x, y, w, h);

    expect(canvasPixel(ctx, 0, 0)).to.deep.equal([255, 0, 0, 255]);
    expect(canvasPixel(ctx, 1, 0)).to.deep.equal([0, 255, 0, 255]);
    expect(canvasPixel(ctx, 2, 0)).to.deep.equal([0, 0, 255, 255]);
    expect(canvasPixel(ctx, 0, 1)).to.deep.equal([10, 20, 30, 255]);
    expect(canvasPixel(ctx, 1, 1)).to.deep.equal([1, 2, 3, 255]);
    expect(canvasPixel(ctx, 3, 1)).to.deep.equal([0, 255, 0, 255]);
    expect(canvasPixel(ctx, 4, 1)).to.deep.equal([0, 0, 255, 255]);
    expect(canvasPixel(ctx, 7, 3), 'outside the dirty region').to.deep.equal([200, 0, 200, 255]);

    // The zlib stream continues in the next update (no header this time).
    decoder.apply({
      t: 'update',
      seq: 2,
      rects: [{ x: 7, y: 3, w: 1, h: 1, encoding: ZRLE, data: zrlePayload([1, 9, 8, 7], false) }],
    });
    expect(Array.from(fb.data.subarray((3 * 8 + 7) * 4, (3 * 8 + 8) * 4))).to.deep.equal([9, 8, 7, 255]);
  });

  it('takes messages as msgpackr unpacks them in a browser (bin as Uint8Array)', () => {
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
    const packr = new Packr({ useRecords: false });
    const decoder = new StreamDecoder();
    decoder.apply(unpackr.unpack(packr.pack({ t: 'init', version: 1, width: 1, height: 1, name: '' })));
    const message: unknown = unpackr.unpack(
      packr.pack({ t: 'update', seq: 1, rects: [rect(0, 0, 1, 1, RAW, [4, 5, 6, 0])] }),
    );
    expect(decoder.apply(message).type).to.equal('update');
    expect(Array.from(decoder.framebuffer.data)).to.deep.equal([4, 5, 6, 255]);
  });
});

describe('decoder worker', () => {
  it('attaches a transferred canvas and reports closed when the stream cannot connect', async () => {
    const worker = new Worker(new URL('../../../worker/decoder-worker.ts', import.meta.url), {
      type: 'module',
    });
    try {
      const api = wrap<DecoderWorkerApi>(worker);
      const offscreen = document.createElement('canvas').transferControlToOffscreen();
      await api.attach(transfer(offscreen, [offscreen]));
      const events: ViewerEvent[] = [];
      const closed = new Promise<ViewerEvent>((resolve) => {
        void api.connect(
          { url: 'ws://127.0.0.1:1/', protocols: ['v-supercore-stream.v1'] },
          proxy((event: ViewerEvent) => {
            events.push(event);
            if (event.type === 'closed') resolve(event);
          }),
        );
      });
      // Sending before the socket is open is dropped, not an error.
      await api.send({ t: 'ack', seq: 0 });
      const event = await closed;
      expect(event).to.deep.equal({ type: 'closed', code: 1006, reason: '' });
      expect(events.map((e) => e.type)).to.deep.equal(['closed']);
      expect(await api.stats()).to.deep.equal({
        updates: 0,
        rects: 0,
        bytes: 0,
        decodeMs: 0,
        rttMs: null,
        transport: 'websocket',
        version: 0,
      });
      await api.disconnect();
    } finally {
      worker.terminate();
    }
  });
});
