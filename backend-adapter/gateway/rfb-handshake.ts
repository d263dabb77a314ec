import { DES } from 'des.js';
import { RfbProtocolError } from './rfb-protocol-error.ts';
import { RfbUpstreamError } from './upstream-error.ts';

/**
 * Client side of the RFB handshake (RFC 6143 §7.1–7.3): ProtocolVersion, security (None or VNC
 * Authentication), SecurityResult, ClientInit and ServerInit.
 */

export type RfbVersion = '3.3' | '3.7' | '3.8';

/** What the server's version string maps to; the odd ones are servers that speak 3.8 (or 3.3) anyway, as in noVNC. */
const VERSIONS: Readonly<Record<string, RfbVersion>> = {
  '003.003': '3.3',
  '003.006': '3.3', // UltraVNC
  '003.007': '3.7',
  '003.008': '3.8',
  '003.889': '3.8', // Apple Remote Desktop
  '004.000': '3.8', // Intel AMT KVM
  '004.001': '3.8', // RealVNC 4.6
  '005.000': '3.8', // RealVNC 5.3
};

export const SecurityType = { Invalid: 0, None: 1, VncAuth: 2 } as const;

export interface RfbPixelFormat {
  bitsPerPixel: number;
  depth: number;
  bigEndian: boolean;
  trueColour: boolean;
  redMax: number;
  greenMax: number;
  blueMax: number;
  redShift: number;
  greenShift: number;
  blueShift: number;
}

export interface RfbServerInit {
  version: RfbVersion;
  securityType: number;
  width: number;
  height: number;
  /** The server's native format; the gateway replaces it with SetPixelFormat right after. */
  pixelFormat: RfbPixelFormat;
  name: string;
}

/** The byte transport the handshake runs over (a SocketReader plus socket.write, or a test double). */
export interface RfbHandshakeIo {
  read(n: number): Promise<Uint8Array>;
  write(bytes: Uint8Array): void;
}

const MAX_REASON_BYTES = 64 * 1024;
const MAX_NAME_BYTES = 64 * 1024;

const u16 = (d: Uint8Array, p: number): number => ((d[p] as number) << 8) | (d[p + 1] as number);
const u32 = (d: Uint8Array, p: number): number =>
  new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(p);

function reverseBits(byte: number): number {
  let out = 0;
  for (let i = 0; i < 8; i++) if (byte & (1 << i)) out |= 0x80 >> i;
  return out;
}

/**
 * The VNC Authentication response: the 16-byte challenge DES-encrypted (ECB) with the password as key —
 * its first 8 bytes (UTF-8, zero padded), each byte's bit order reversed, as VNC has always done.
 */
export function vncAuthResponse(challenge: Uint8Array, password: string): Uint8Array {
  if (challenge.length !== 16) throw new RangeError('the VNC Authentication challenge is 16 bytes');
  const bytes = new TextEncoder().encode(password);
  const key = new Uint8Array(8);
  for (let i = 0; i < 8; i++) key[i] = reverseBits(bytes[i] ?? 0);
  return Uint8Array.from(DES.create({ type: 'encrypt', key, padding: false }).update(challenge));
}

/** Names and reasons: UTF-8 when valid (TigerVNC), otherwise Latin-1 (older servers). */
function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return text;
  }
}

async function readString(io: RfbHandshakeIo, limit: number, what: string): Promise<string> {
  const length = u32(await io.read(4), 0);
  if (length > limit) throw new RfbProtocolError(`${what} of ${length} bytes`);
  return decodeText(await io.read(length));
}

function parseVersion(bytes: Uint8Array): RfbVersion {
  const text = String.fromCharCode(...bytes);
  const match = /^RFB (\d{3}\.\d{3})\n$/.exec(text);
  const version = match ? VERSIONS[match[1] as string] : undefined;
  if (!version) throw new RfbProtocolError(`unsupported ProtocolVersion ${JSON.stringify(text)}`);
  return version;
}

async function negotiateSecurity(
  io: RfbHandshakeIo,
  version: RfbVersion,
  password: string | undefined,
): Promise<number> {
  if (version === '3.3') {
    // 3.3: the server decides.
    const type = u32(await io.read(4), 0);
    if (type === SecurityType.Invalid) {
      throw new RfbUpstreamError(
        'UPSTREAM_REFUSED',
        `VNC server refused: ${await readString(io, MAX_REASON_BYTES, 'reason')}`,
      );
    }
    if (type !== SecurityType.None && type !== SecurityType.VncAuth) {
      throw new RfbProtocolError(`unsupported security type ${type}`);
    }
    return type;
  }
  const count = (await io.read(1))[0] as number;
  if (count === 0) {
    throw new RfbUpstreamError(
      'UPSTREAM_REFUSED',
      `VNC server refused: ${await readString(io, MAX_REASON_BYTES, 'reason')}`,
    );
  }
  const offered = await io.read(count);
  // None when offered (nothing to get wrong); VNC Authentication otherwise.
  let chosen: number;
  if (offered.includes(SecurityType.None)) chosen = SecurityType.None;
  else if (offered.includes(SecurityType.VncAuth)) {
    if (password === undefined) {
      throw new RfbUpstreamError(
        'UPSTREAM_AUTH_FAILED',
        'the VNC server requires a password and none was given',
      );
    }
    chosen = SecurityType.VncAuth;
  } else {
    throw new RfbProtocolError(`no supported security type among [${Array.from(offered).join(', ')}]`);
  }
  io.write(Uint8Array.of(chosen));
  return chosen;
}

/** Runs the whole handshake; rejects with RfbUpstreamError (UPSTREAM_PROTOCOL, _AUTH_FAILED, _REFUSED, _CLOSED). */
export async function performRfbHandshake(
  io: RfbHandshakeIo,
  options: { password?: string | undefined } = {},
): Promise<RfbServerInit> {
  const version = parseVersion(await io.read(12));
  io.write(new TextEncoder().encode(`RFB 003.00${version.slice(2)}\n`));

  const securityType = await negotiateSecurity(io, version, options.password);
  if (securityType === SecurityType.VncAuth) {
    if (options.password === undefined) {
      throw new RfbUpstreamError(
        'UPSTREAM_AUTH_FAILED',
        'the VNC server requires a password and none was given',
      );
    }
    io.write(vncAuthResponse(await io.read(16), options.password));
  }

  // 3.3 and 3.7 send no SecurityResult after None; only 3.8 explains a failure.
  if (securityType === SecurityType.VncAuth || version === '3.8') {
    const result = u32(await io.read(4), 0);
    if (result !== 0) {
      const reason =
        version === '3.8' ? await readString(io, MAX_REASON_BYTES, 'reason') : 'authentication failed';
      throw new RfbUpstreamError('UPSTREAM_AUTH_FAILED', `VNC authentication failed: ${reason}`);
    }
  }

  io.write(Uint8Array.of(1)); // ClientInit, shared: each viewer has its own connection next to the others
  const init = await io.read(20); // width, height, pixel format; the name follows
  const pf = init.subarray(4, 20);
  return {
    version,
    securityType,
    width: u16(init, 0),
    height: u16(init, 2),
    pixelFormat: {
      bitsPerPixel: pf[0] as number,
      depth: pf[1] as number,
      bigEndian: pf[2] !== 0,
      trueColour: pf[3] !== 0,
      redMax: u16(pf, 4),
      greenMax: u16(pf, 6),
      blueMax: u16(pf, 8),
      redShift: pf[10] as number,
      greenShift: pf[11] as number,
      blueShift: pf[12] as number,
    },
    name: await readString(io, MAX_NAME_BYTES, 'desktop name'),
  };
}
