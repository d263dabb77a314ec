import { defaultImageDecoder, type ImageDecodeFn } from './image-decoder.ts';
import { TightDecoder } from './tight-decoder.ts';

/**
 * TightPNG (-260): Tight's framing with fill, JPEG and PNG rectangles (mode 0xA: compact length + PNG
 * data) and no basic compression, so no zlib stream of ours is involved. PNG decodes asynchronously
 * like JPEG (see TightDecoder).
 */
export class TightPngDecoder extends TightDecoder {
  constructor(decodeImage: ImageDecodeFn = defaultImageDecoder()) {
    super(decodeImage, true);
  }
}
