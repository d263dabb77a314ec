/** RFB encoding numbers (RFC 6143 §7.7 and the community registry) that cross the wire unchanged. */
export const Encoding = {
  Raw: 0,
  CopyRect: 1,
  RRE: 2,
  Hextile: 5,
  Zlib: 6,
  Tight: 7,
  ZRLE: 16,
  TightPNG: -260,
  DesktopSize: -223,
  LastRect: -224,
  Cursor: -239,
  DesktopName: -307,
  ExtendedDesktopSize: -308,
} as const;
export type EncodingName = keyof typeof Encoding;
