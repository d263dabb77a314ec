import { keysymFromChar } from './keysym.ts';

/**
 * What the user's keyboard layout (Settings) changes in the viewer.
 *
 * The viewer sends keysyms — the character a key produced, as the browser reports it in `key` — not scan codes,
 * and the desktop (Xvnc) types whatever keysym it is given whatever its own keymap. So for almost every key the
 * layout needs nothing. It matters where the browser cannot tell the character (`key` is `Unidentified`, e.g.
 * some remote-desktop-in-remote-desktop setups and virtual keyboards): the viewer then guesses the character from
 * the physical key (`code`), and that guess follows the chosen layout instead of always assuming US — `KeyZ` is
 * `y` on a German keyboard, `w` on a French one. Layouts without a table here keep the US guess.
 *
 * Each table lists only the keys that differ from US: [unshifted, shifted] characters by `code`.
 */
type LayoutTable = Readonly<Record<string, readonly [string, string]>>;

const US: LayoutTable = {
  Backquote: ['`', '~'],
  Digit1: ['1', '!'],
  Digit2: ['2', '@'],
  Digit3: ['3', '#'],
  Digit4: ['4', '$'],
  Digit5: ['5', '%'],
  Digit6: ['6', '^'],
  Digit7: ['7', '&'],
  Digit8: ['8', '*'],
  Digit9: ['9', '('],
  Digit0: ['0', ')'],
  Minus: ['-', '_'],
  Equal: ['=', '+'],
  BracketLeft: ['[', '{'],
  BracketRight: [']', '}'],
  Backslash: ['\\', '|'],
  Semicolon: [';', ':'],
  Quote: ["'", '"'],
  Comma: [',', '<'],
  Period: ['.', '>'],
  Slash: ['/', '?'],
  IntlBackslash: ['\\', '|'],
  Space: [' ', ' '],
};

/** Keys shared by the QWERTZ/QWERTY layouts of continental Europe listed below. */
const EURO_DIGITS: LayoutTable = {
  Digit2: ['2', '"'],
  Digit6: ['6', '&'],
  Digit7: ['7', '/'],
  Digit8: ['8', '('],
  Digit9: ['9', ')'],
  Digit0: ['0', '='],
  Comma: [',', ';'],
  Period: ['.', ':'],
  Slash: ['-', '_'],
  IntlBackslash: ['<', '>'],
};

const LAYOUTS: Readonly<Record<string, LayoutTable>> = {
  us: {},
  gb: {
    Backquote: ['`', '¬'],
    Digit2: ['2', '"'],
    Digit3: ['3', '£'],
    Quote: ["'", '@'],
    Backslash: ['#', '~'],
  },
  de: {
    ...EURO_DIGITS,
    Backquote: ['^', '°'],
    Digit3: ['3', '§'],
    Minus: ['ß', '?'],
    Equal: ['´', '`'],
    KeyY: ['z', 'Z'],
    KeyZ: ['y', 'Y'],
    BracketLeft: ['ü', 'Ü'],
    BracketRight: ['+', '*'],
    Backslash: ['#', "'"],
    Semicolon: ['ö', 'Ö'],
    Quote: ['ä', 'Ä'],
  },
  fr: {
    Backquote: ['²', '²'],
    Digit1: ['&', '1'],
    Digit2: ['é', '2'],
    Digit3: ['"', '3'],
    Digit4: ["'", '4'],
    Digit5: ['(', '5'],
    Digit6: ['-', '6'],
    Digit7: ['è', '7'],
    Digit8: ['_', '8'],
    Digit9: ['ç', '9'],
    Digit0: ['à', '0'],
    Minus: [')', '°'],
    KeyQ: ['a', 'A'],
    KeyA: ['q', 'Q'],
    KeyW: ['z', 'Z'],
    KeyZ: ['w', 'W'],
    Semicolon: ['m', 'M'],
    KeyM: [',', '?'],
    Comma: [';', '.'],
    Period: [':', '/'],
    Slash: ['!', '§'],
    Quote: ['ù', '%'],
    BracketLeft: ['^', '¨'],
    BracketRight: ['$', '£'],
    Backslash: ['*', 'µ'],
    IntlBackslash: ['<', '>'],
  },
  es: {
    ...EURO_DIGITS,
    Backquote: ['º', 'ª'],
    Digit3: ['3', '·'],
    Minus: ["'", '?'],
    Equal: ['¡', '¿'],
    BracketLeft: ['`', '^'],
    BracketRight: ['+', '*'],
    Semicolon: ['ñ', 'Ñ'],
    Quote: ['´', '¨'],
    Backslash: ['ç', 'Ç'],
  },
  it: {
    ...EURO_DIGITS,
    Backquote: ['\\', '|'],
    Digit3: ['3', '£'],
    Minus: ["'", '?'],
    Equal: ['ì', '^'],
    BracketLeft: ['è', 'é'],
    BracketRight: ['+', '*'],
    Semicolon: ['ò', 'ç'],
    Quote: ['à', '°'],
    Backslash: ['ù', '§'],
  },
};

/** Layouts whose physical-key guess the viewer knows; any other layout guesses as `us` does. */
export const GUESSED_LAYOUTS: readonly string[] = Object.keys(LAYOUTS);

/**
 * The keysym of the character physical key `code` types on `layout` (shifted or not), or null when the key is
 * not a character key (the caller falls back to its own mapping: named keys, keypad, function keys).
 */
export function layoutKeysym(layout: string, code: string, shift: boolean): number | null {
  const pair = LAYOUTS[layout]?.[code] ?? US[code];
  if (pair) return keysymFromChar(shift ? pair[1] : pair[0]);
  const letter = /^Key([A-Z])$/.exec(code)?.[1];
  if (!letter) return null;
  return keysymFromChar(shift ? letter : letter.toLowerCase());
}
