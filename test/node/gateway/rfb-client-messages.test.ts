import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeClientCutText,
  encodeFramebufferUpdateRequest,
  encodeKeyEvent,
  encodePointerEvent,
  encodeSetEncodings,
  encodeSetPixelFormat,
} from '../../../backend-adapter/gateway/rfb-client-messages.ts';
import { loadRecording } from '../../support/rfb-recordings.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('RFB client message encoders', () => {
  it('SetPixelFormat is byte for byte what noVNC (and the recordings) sent', () => {
    assert.equal(hex(encodeSetPixelFormat()), '00000000' + '20180001' + '00ff00ff00ff' + '000810' + '000000');
    const { meta } = loadRecording('terminal-zrle');
    assert.equal(hex(encodeSetPixelFormat()), meta.setPixelFormatMessage.replaceAll(' ', ''));
  });

  it('SetEncodings with negative pseudo-encodings', () => {
    assert.equal(
      hex(encodeSetEncodings([16, 1, -223, -224])),
      '02000004' + '00000010' + '00000001' + 'ffffff21' + 'ffffff20',
    );
    assert.throws(() => encodeSetEncodings([1.5]), RangeError);
  });

  it('FramebufferUpdateRequest', () => {
    assert.equal(
      hex(encodeFramebufferUpdateRequest(false, 0, 0, 1920, 1080)),
      '0300' + '0000' + '0000' + '0780' + '0438',
    );
    assert.equal(
      hex(encodeFramebufferUpdateRequest(true, 1, 2, 3, 4)),
      '0301' + '0001' + '0002' + '0003' + '0004',
    );
    assert.throws(() => encodeFramebufferUpdateRequest(true, 0, 0, 65536, 1), RangeError);
  });

  it('KeyEvent and PointerEvent', () => {
    assert.equal(hex(encodeKeyEvent(0xffe1, true)), '04010000' + '0000ffe1');
    assert.equal(hex(encodeKeyEvent(0x61, false)), '04000000' + '00000061');
    assert.equal(hex(encodePointerEvent(65535, 2, 0x7f)), '057f' + 'ffff' + '0002');
    assert.throws(() => encodeKeyEvent(-1, true), RangeError);
    assert.throws(() => encodePointerEvent(-1, 0, 0), RangeError);
    assert.throws(() => encodePointerEvent(0, 0, 256), RangeError);
  });

  it('ClientCutText is Latin-1, one ? per character outside it', () => {
    assert.equal(hex(encodeClientCutText('aé\n')), '06000000' + '00000003' + '61e90a');
    assert.equal(hex(encodeClientCutText('€😀x')), '06000000' + '00000003' + '3f3f78');
    assert.equal(hex(encodeClientCutText('\ud800')), '06000000' + '00000001' + '3f'); // lone surrogate
    assert.equal(hex(encodeClientCutText('')), '06000000' + '00000000');
  });
});
