import { isIP } from 'node:net';
import { ConfigError, flag, integer } from '../env-vars.ts';

/** A STUN or TURN server the gateway's ICE agent uses (the viewer is given its own list by its host). */
export interface IceServerConfig {
  urls: string;
  username?: string;
  credential?: string;
}

/** The stream gateway's WebRTC DataChannel transport; documented in README.md (configuration). */
export interface WebRtcConfig {
  /**
   * STREAM_WEBRTC (default off): answer viewers' WebRTC offers. Off, every stream stays on its WebSocket;
   * werift's SCTP costs far more CPU per byte than a WebSocket (README, configuration), so it is opt-in.
   */
  enabled: boolean;
  iceServers: IceServerConfig[];
  /** UDP ports the ICE agent binds (inclusive); any free port when absent. */
  portRange?: [number, number];
  /** Local address the ICE agent's UDP sockets bind to (and the only host candidate); all when absent. */
  bindAddress?: string;
  /** Extra host candidates to announce, e.g. the public address of a 1:1 NAT or 127.0.0.1 in a sandbox. */
  announceAddresses: string[];
  /** A peer whose DataChannel is not open this long after the offer is dropped (the stream stays on WS). */
  connectTimeoutMs: number;
}

function iceServers(env: NodeJS.ProcessEnv): IceServerConfig[] {
  const urls = (env.STREAM_WEBRTC_ICE_SERVERS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  const username = env.STREAM_WEBRTC_TURN_USERNAME || undefined;
  const credential = env.STREAM_WEBRTC_TURN_CREDENTIAL || undefined;
  return urls.map((u) => {
    if (!/^(stun|turns?):[^\s]+$/.test(u)) {
      throw new ConfigError(
        `STREAM_WEBRTC_ICE_SERVERS entries must be stun:, turn: or turns: URLs, got "${u}"`,
      );
    }
    const turn = u.startsWith('turn');
    if (turn && (!username || !credential)) {
      throw new ConfigError(
        'a turn: server in STREAM_WEBRTC_ICE_SERVERS needs STREAM_WEBRTC_TURN_USERNAME and _CREDENTIAL',
      );
    }
    return turn ? { urls: u, username, credential } : { urls: u };
  });
}

function portRange(env: NodeJS.ProcessEnv): [number, number] | undefined {
  const raw = env.STREAM_WEBRTC_PORT_RANGE?.trim();
  if (!raw) return undefined;
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(raw);
  const min = Number(match?.[1]);
  const max = Number(match?.[2]);
  // werift needs two different ports (one per candidate it may gather).
  if (!match || min < 1024 || max > 65535 || min >= max) {
    throw new ConfigError(
      `STREAM_WEBRTC_PORT_RANGE must look like "50000-50100" (1024…65535, min < max), got "${raw}"`,
    );
  }
  return [min, max];
}

function address(name: string, raw: string): string {
  if (isIP(raw) === 0) throw new ConfigError(`${name} must be IP addresses, got "${raw}"`);
  return raw;
}

export function loadWebRtcConfig(env: NodeJS.ProcessEnv): WebRtcConfig {
  const bind = env.STREAM_WEBRTC_BIND_ADDRESS?.trim();
  const range = portRange(env);
  return {
    enabled: flag(env, 'STREAM_WEBRTC', false),
    iceServers: iceServers(env),
    ...(range ? { portRange: range } : {}),
    ...(bind ? { bindAddress: address('STREAM_WEBRTC_BIND_ADDRESS', bind) } : {}),
    announceAddresses: (env.STREAM_WEBRTC_ANNOUNCE_ADDRESSES ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean)
      .map((a) => address('STREAM_WEBRTC_ANNOUNCE_ADDRESSES', a)),
    connectTimeoutMs: integer(env, 'STREAM_WEBRTC_CONNECT_TIMEOUT_MS', 10_000, 500, 120_000),
  };
}
