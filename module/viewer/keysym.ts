/**
 * KeyboardEvent → X11 keysym, as the RFB KeyEvent message carries it (RFC 6143 §7.5.4).
 *
 * Order of decision (as noVNC does it): AltGraph by `key`; modifiers by `code` (so left and right differ);
 * numeric keypad by `code`; named keys by `key`; printable characters by `key` (Latin-1 keysyms equal the
 * code point, any other Unicode character is 0x01000000 + code point); finally, when the browser could not
 * tell the character (`Unidentified`), a US-layout guess from `code`.
 */

export type KeyLike = Pick<KeyboardEvent, 'key' | 'code'> & Partial<Pick<KeyboardEvent, 'location'>>;

export const XK = {
  BackSpace: 0xff08,
  Tab: 0xff09,
  Clear: 0xff0b,
  Return: 0xff0d,
  Pause: 0xff13,
  Scroll_Lock: 0xff14,
  Escape: 0xff1b,
  Multi_key: 0xff20,
  Home: 0xff50,
  Left: 0xff51,
  Up: 0xff52,
  Right: 0xff53,
  Down: 0xff54,
  Page_Up: 0xff55,
  Page_Down: 0xff56,
  End: 0xff57,
  Select: 0xff60,
  Print: 0xff61,
  Execute: 0xff62,
  Insert: 0xff63,
  Undo: 0xff65,
  Redo: 0xff66,
  Menu: 0xff67,
  Find: 0xff68,
  Cancel: 0xff69,
  Help: 0xff6a,
  Num_Lock: 0xff7f,
  KP_Enter: 0xff8d,
  KP_Home: 0xff95,
  KP_Left: 0xff96,
  KP_Up: 0xff97,
  KP_Right: 0xff98,
  KP_Down: 0xff99,
  KP_Page_Up: 0xff9a,
  KP_Page_Down: 0xff9b,
  KP_End: 0xff9c,
  KP_Begin: 0xff9d,
  KP_Insert: 0xff9e,
  KP_Delete: 0xff9f,
  KP_Multiply: 0xffaa,
  KP_Add: 0xffab,
  KP_Separator: 0xffac,
  KP_Subtract: 0xffad,
  KP_Decimal: 0xffae,
  KP_Divide: 0xffaf,
  KP_0: 0xffb0,
  KP_Equal: 0xffbd,
  F1: 0xffbe,
  Shift_L: 0xffe1,
  Shift_R: 0xffe2,
  Control_L: 0xffe3,
  Control_R: 0xffe4,
  Caps_Lock: 0xffe5,
  Meta_L: 0xffe7,
  Meta_R: 0xffe8,
  Alt_L: 0xffe9,
  Alt_R: 0xffea,
  Super_L: 0xffeb,
  Super_R: 0xffec,
  ISO_Level3_Shift: 0xfe03,
  Delete: 0xffff,
} as const;

/** Modifiers, by `code`: left and right are different keys to the desktop. The OS key is Super (as noVNC). */
const MODIFIERS_BY_CODE: Readonly<Record<string, number>> = {
  ShiftLeft: XK.Shift_L,
  ShiftRight: XK.Shift_R,
  ControlLeft: XK.Control_L,
  ControlRight: XK.Control_R,
  AltLeft: XK.Alt_L,
  AltRight: XK.Alt_R,
  MetaLeft: XK.Super_L,
  MetaRight: XK.Super_R,
  OSLeft: XK.Super_L,
  OSRight: XK.Super_R,
};

/** Named keys, by `key` (UI Events KeyboardEvent key values). */
const NAMED: Readonly<Record<string, number>> = {
  Backspace: XK.BackSpace,
  Tab: XK.Tab,
  Clear: XK.Clear,
  Enter: XK.Return,
  Pause: XK.Pause,
  ScrollLock: XK.Scroll_Lock,
  Escape: XK.Escape,
  Esc: XK.Escape,
  Compose: XK.Multi_key,
  Home: XK.Home,
  ArrowLeft: XK.Left,
  ArrowUp: XK.Up,
  ArrowRight: XK.Right,
  ArrowDown: XK.Down,
  Left: XK.Left,
  Up: XK.Up,
  Right: XK.Right,
  Down: XK.Down,
  PageUp: XK.Page_Up,
  PageDown: XK.Page_Down,
  End: XK.End,
  Select: XK.Select,
  PrintScreen: XK.Print,
  Execute: XK.Execute,
  Insert: XK.Insert,
  Undo: XK.Undo,
  Redo: XK.Redo,
  ContextMenu: XK.Menu,
  Find: XK.Find,
  Cancel: XK.Cancel,
  Help: XK.Help,
  NumLock: XK.Num_Lock,
  CapsLock: XK.Caps_Lock,
  Delete: XK.Delete,
  Del: XK.Delete,
  AltGraph: XK.ISO_Level3_Shift,
  Shift: XK.Shift_L,
  Control: XK.Control_L,
  Alt: XK.Alt_L,
  Meta: XK.Super_L,
  OS: XK.Super_L,
  Super: XK.Super_L,
  Hyper: 0xffed,
  AudioVolumeDown: 0x1008ff11,
  AudioVolumeMute: 0x1008ff12,
  AudioVolumeUp: 0x1008ff13,
  MediaPlayPause: 0x1008ff14,
  MediaStop: 0x1008ff15,
  MediaTrackPrevious: 0x1008ff16,
  MediaTrackNext: 0x1008ff17,
};

/** Keypad keys by `code`, for the value they produce (`key` a digit or operator, NumLock on). */
const KEYPAD_CHAR: Readonly<Record<string, number>> = {
  NumpadMultiply: XK.KP_Multiply,
  NumpadAdd: XK.KP_Add,
  NumpadComma: XK.KP_Separator,
  NumpadSubtract: XK.KP_Subtract,
  NumpadDecimal: XK.KP_Decimal,
  NumpadDivide: XK.KP_Divide,
  NumpadEqual: XK.KP_Equal,
  NumpadEnter: XK.KP_Enter,
};

/** Keypad navigation (NumLock off), by `key`. */
const KEYPAD_NAV: Readonly<Record<string, number>> = {
  Home: XK.KP_Home,
  ArrowLeft: XK.KP_Left,
  ArrowUp: XK.KP_Up,
  ArrowRight: XK.KP_Right,
  ArrowDown: XK.KP_Down,
  PageUp: XK.KP_Page_Up,
  PageDown: XK.KP_Page_Down,
  End: XK.KP_End,
  Clear: XK.KP_Begin,
  Insert: XK.KP_Insert,
  Delete: XK.KP_Delete,
  Enter: XK.KP_Enter,
};

/** US-layout characters by `code`, used only when `key` is `Unidentified`. */
const US_BY_CODE: Readonly<Record<string, string>> = {
  Space: ' ',
  Minus: '-',
  Equal: '=',
  BracketLeft: '[',
  BracketRight: ']',
  Backslash: '\\',
  Semicolon: ';',
  Quote: "'",
  Backquote: '`',
  Comma: ',',
  Period: '.',
  Slash: '/',
  IntlBackslash: '<',
};

const NAMED_BY_CODE: Readonly<Record<string, string>> = {
  Enter: 'Enter',
  Tab: 'Tab',
  Backspace: 'Backspace',
  Escape: 'Escape',
  CapsLock: 'CapsLock',
  ArrowLeft: 'ArrowLeft',
  ArrowRight: 'ArrowRight',
  ArrowUp: 'ArrowUp',
  ArrowDown: 'ArrowDown',
  Home: 'Home',
  End: 'End',
  PageUp: 'PageUp',
  PageDown: 'PageDown',
  Insert: 'Insert',
  Delete: 'Delete',
  ContextMenu: 'ContextMenu',
  PrintScreen: 'PrintScreen',
  ScrollLock: 'ScrollLock',
  Pause: 'Pause',
  NumLock: 'NumLock',
};

/** The keysym of one character: Latin-1 is its own code, other Unicode is 0x01000000 + code point. */
export function keysymFromChar(char: string): number | null {
  const codePoint = char.codePointAt(0);
  if (codePoint === undefined || [...char].length !== 1) return null;
  if ((codePoint >= 0x20 && codePoint <= 0x7e) || (codePoint >= 0xa0 && codePoint <= 0xff)) return codePoint;
  if (codePoint < 0x100) return null; // C0/C1 control characters and DEL: not keys
  return 0x01000000 + codePoint;
}

const FUNCTION_KEY = /^F([1-9]|[12][0-9]|3[0-5])$/;

function functionKey(name: string): number | null {
  const match = FUNCTION_KEY.exec(name);
  return match?.[1] ? XK.F1 + Number(match[1]) - 1 : null;
}

/** The X11 keysym for a key event, or null when the event is not a key the desktop should see (dead keys, IME). */
export function keysymFromEvent(event: KeyLike): number | null {
  const { key, code } = event;

  if (key === 'AltGraph') return XK.ISO_Level3_Shift;

  const modifier = MODIFIERS_BY_CODE[code];
  if (modifier !== undefined) return modifier;

  if (code.startsWith('Numpad') || event.location === 3) {
    const keypad = keypadKeysym(key, code);
    if (keypad !== null) return keypad;
  }

  const named = NAMED[key] ?? functionKey(key);
  if (named !== null && named !== undefined) return named;

  if (key === 'Dead' || key === 'Process' || key === '') return null;

  if (key !== 'Unidentified') {
    const char = keysymFromChar(key);
    if (char !== null) return char;
  }

  return keysymFromCode(code);
}

function keypadKeysym(key: string, code: string): number | null {
  if (key.length === 1 && key >= '0' && key <= '9') return XK.KP_0 + Number(key);
  const byCode = KEYPAD_CHAR[code];
  if (byCode !== undefined && (key.length === 1 || key === 'Enter')) return byCode;
  return KEYPAD_NAV[key] ?? null;
}

/** A guess from the physical key, for events whose `key` the browser could not tell (US layout). */
export function keysymFromCode(code: string): number | null {
  if (/^Key[A-Z]$/.test(code)) return code.charCodeAt(3) + 0x20; // lower-case letter
  if (/^Digit[0-9]$/.test(code)) return code.charCodeAt(5);
  if (/^Numpad[0-9]$/.test(code)) return XK.KP_0 + Number(code.slice(6));
  const char = US_BY_CODE[code];
  if (char !== undefined) return keysymFromChar(char);
  const name = NAMED_BY_CODE[code];
  if (name !== undefined) return NAMED[name] ?? null;
  return functionKey(code) ?? KEYPAD_CHAR[code] ?? null;
}
