import { expect } from '@open-wc/testing';
import { XK, keysymFromChar, keysymFromCode, keysymFromEvent } from '../../../module/viewer/keysym.ts';

const ev = (key: string, code = '', location = 0): { key: string; code: string; location: number } => ({
  key,
  code,
  location,
});

describe('keysym', () => {
  it('maps letters to their Latin-1 code, case as typed', () => {
    expect(keysymFromEvent(ev('a', 'KeyA'))).to.equal(0x61);
    expect(keysymFromEvent(ev('A', 'KeyA'))).to.equal(0x41);
    expect(keysymFromEvent(ev('z', 'KeyZ'))).to.equal(0x7a);
    expect(keysymFromEvent(ev('5', 'Digit5'))).to.equal(0x35);
    expect(keysymFromEvent(ev(' ', 'Space'))).to.equal(0x20);
  });

  it('maps shifted symbols by the character produced', () => {
    expect(keysymFromEvent(ev('!', 'Digit1'))).to.equal(0x21);
    expect(keysymFromEvent(ev('@', 'Digit2'))).to.equal(0x40);
    expect(keysymFromEvent(ev('~', 'Backquote'))).to.equal(0x7e);
    expect(keysymFromEvent(ev('{', 'BracketLeft'))).to.equal(0x7b);
    expect(keysymFromEvent(ev('"', 'Quote'))).to.equal(0x22);
  });

  it('maps Latin-1 characters to themselves and other Unicode to 0x01000000 + code point', () => {
    expect(keysymFromEvent(ev('é', 'Digit2'))).to.equal(0xe9);
    expect(keysymFromEvent(ev('ß', 'Minus'))).to.equal(0xdf);
    expect(keysymFromEvent(ev('£', 'Digit3'))).to.equal(0xa3);
    expect(keysymFromEvent(ev('€', 'KeyE'))).to.equal(0x010020ac);
    expect(keysymFromEvent(ev('ж', 'Semicolon'))).to.equal(0x01000436);
    expect(keysymFromEvent(ev('😀', ''))).to.equal(0x0101f600);
    expect(keysymFromChar('ab')).to.equal(null);
    expect(keysymFromChar('\u0007')).to.equal(null);
    expect(keysymFromChar('\u0085')).to.equal(null);
  });

  it('maps Enter, Backspace, Tab, Escape and editing keys', () => {
    expect(keysymFromEvent(ev('Enter', 'Enter'))).to.equal(0xff0d);
    expect(keysymFromEvent(ev('Backspace', 'Backspace'))).to.equal(0xff08);
    expect(keysymFromEvent(ev('Tab', 'Tab'))).to.equal(0xff09);
    expect(keysymFromEvent(ev('Escape', 'Escape'))).to.equal(0xff1b);
    expect(keysymFromEvent(ev('Insert', 'Insert'))).to.equal(0xff63);
    expect(keysymFromEvent(ev('Delete', 'Delete'))).to.equal(0xffff);
    expect(keysymFromEvent(ev('CapsLock', 'CapsLock'))).to.equal(0xffe5);
    expect(keysymFromEvent(ev('ContextMenu', 'ContextMenu'))).to.equal(0xff67);
    expect(keysymFromEvent(ev('PrintScreen', 'PrintScreen'))).to.equal(0xff61);
  });

  it('maps arrows and Home/End/PageUp/PageDown', () => {
    expect(keysymFromEvent(ev('ArrowLeft', 'ArrowLeft'))).to.equal(0xff51);
    expect(keysymFromEvent(ev('ArrowUp', 'ArrowUp'))).to.equal(0xff52);
    expect(keysymFromEvent(ev('ArrowRight', 'ArrowRight'))).to.equal(0xff53);
    expect(keysymFromEvent(ev('ArrowDown', 'ArrowDown'))).to.equal(0xff54);
    expect(keysymFromEvent(ev('Home', 'Home'))).to.equal(0xff50);
    expect(keysymFromEvent(ev('End', 'End'))).to.equal(0xff57);
    expect(keysymFromEvent(ev('PageUp', 'PageUp'))).to.equal(0xff55);
    expect(keysymFromEvent(ev('PageDown', 'PageDown'))).to.equal(0xff56);
  });

  it('maps F1–F12 (and beyond)', () => {
    expect(keysymFromEvent(ev('F1', 'F1'))).to.equal(0xffbe);
    expect(keysymFromEvent(ev('F5', 'F5'))).to.equal(0xffc2);
    expect(keysymFromEvent(ev('F12', 'F12'))).to.equal(0xffc9);
    expect(keysymFromEvent(ev('F24', 'F24'))).to.equal(0xffd5);
    expect(keysymFromEvent(ev('F0', ''))).to.equal(null);
  });

  it('tells left and right modifiers apart by code', () => {
    expect(keysymFromEvent(ev('Shift', 'ShiftLeft', 1))).to.equal(0xffe1);
    expect(keysymFromEvent(ev('Shift', 'ShiftRight', 2))).to.equal(0xffe2);
    expect(keysymFromEvent(ev('Control', 'ControlLeft', 1))).to.equal(0xffe3);
    expect(keysymFromEvent(ev('Control', 'ControlRight', 2))).to.equal(0xffe4);
    expect(keysymFromEvent(ev('Alt', 'AltLeft', 1))).to.equal(0xffe9);
    expect(keysymFromEvent(ev('Alt', 'AltRight', 2))).to.equal(0xffea);
    expect(keysymFromEvent(ev('Meta', 'MetaLeft', 1))).to.equal(XK.Super_L);
    expect(keysymFromEvent(ev('Meta', 'MetaRight', 2))).to.equal(XK.Super_R);
  });

  it('maps AltGr to ISO_Level3_Shift, whatever its code', () => {
    expect(keysymFromEvent(ev('AltGraph', 'AltRight', 2))).to.equal(0xfe03);
    expect(keysymFromEvent(ev('AltGraph', ''))).to.equal(0xfe03);
  });

  it('maps the numeric keypad to KP_ keysyms, with NumLock on and off', () => {
    expect(keysymFromEvent(ev('7', 'Numpad7', 3))).to.equal(0xffb7);
    expect(keysymFromEvent(ev('+', 'NumpadAdd', 3))).to.equal(0xffab);
    expect(keysymFromEvent(ev('Enter', 'NumpadEnter', 3))).to.equal(0xff8d);
    expect(keysymFromEvent(ev('ArrowLeft', 'Numpad4', 3))).to.equal(0xff96);
    expect(keysymFromEvent(ev('Clear', 'Numpad5', 3))).to.equal(0xff9d);
  });

  it('ignores dead keys and IME processing, and guesses from code when the key is Unidentified', () => {
    expect(keysymFromEvent(ev('Dead', 'BracketLeft'))).to.equal(null);
    expect(keysymFromEvent(ev('Process', 'KeyA'))).to.equal(null);
    expect(keysymFromEvent(ev('Unidentified', 'KeyQ'))).to.equal(0x71);
    expect(keysymFromEvent(ev('Unidentified', 'Digit0'))).to.equal(0x30);
    expect(keysymFromEvent(ev('Unidentified', 'Enter'))).to.equal(0xff0d);
    expect(keysymFromCode('Slash')).to.equal(0x2f);
    expect(keysymFromCode('F3')).to.equal(0xffc0);
    expect(keysymFromCode('Nothing')).to.equal(null);
  });

  it('works on real KeyboardEvents', () => {
    expect(
      keysymFromEvent(new KeyboardEvent('keydown', { key: 'Q', code: 'KeyQ', shiftKey: true })),
    ).to.equal(0x51);
  });
});
