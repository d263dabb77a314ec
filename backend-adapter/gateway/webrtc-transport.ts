import type { Logger } from 'pino';
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import {
  STREAM_DATACHANNEL_FRAGMENT_BYTES,
  StreamMessageReassembler,
  fragmentStreamMessage,
} from '../../protocol/stream-datachannel-framing.ts';
import { STREAM_DATACHANNEL_LABEL, type RtcSignal } from '../../protocol/stream.ts';
import type { StreamTransport } from './stream-transport.ts';
import type { WebRtcConfig } from './webrtc-config.ts';

/** What a WebRTC peer tells the stream bridge. */
export interface WebRtcPeerHandlers {
  /** A signal for the viewer (answer, ICE candidates), carried on the stream's WebSocket. */
  onSignal(signal: RtcSignal): void;
  /** The DataChannel is open: the stream may continue on `transport`. */
  onOpen(transport: StreamTransport): void;
  /** A whole viewer message (reassembled) arrived on the DataChannel. */
  onMessage(message: Uint8Array): void;
  /** The peer failed, timed out or closed; called once, never after close() was called by the bridge. */
  onClosed(reason: string): void;
}

export interface WebRtcPeerOptions {
  config: WebRtcConfig;
  logger: Logger;
  /** The largest viewer message accepted (the same bound as a WebSocket message). */
  maxViewerMessageBytes: number;
  /** The DataChannel's send queue above which the bridge holds updates back (it is told when it drains). */
  highWaterBytes: number;
}

function peerConfig(config: WebRtcConfig): ConstructorParameters<typeof RTCPeerConnection>[0] {
  return {
    iceServers: config.iceServers,
    ...(config.portRange ? { icePortRange: config.portRange } : {}),
    ...(config.bindAddress
      ? {
          iceInterfaceAddresses: config.bindAddress.includes(':')
            ? { udp6: config.bindAddress }
            : { udp4: config.bindAddress },
        }
      : {}),
    ...(config.announceAddresses.length > 0 ? { iceAdditionalHostAddresses: config.announceAddresses } : {}),
    // What the gateway accepts per DataChannel message; the viewer frames to exactly this (see framing).
    maxMessageSize: STREAM_DATACHANNEL_FRAGMENT_BYTES,
  } as ConstructorParameters<typeof RTCPeerConnection>[0];
}

/**
 * The gateway's side of one viewer's WebRTC link (werift: ICE, DTLS, SCTP in TypeScript). The viewer
 * offers with one DataChannel already in its offer; the gateway answers, trickles its ICE candidates,
 * and reports the channel once open. Anything other than one ordered, reliable channel with the stream's
 * label is refused.
 */
export class WebRtcPeer {
  private readonly pc: RTCPeerConnection;
  private readonly log: Logger;
  private channel: RTCDataChannel | null = null;
  private closed = false;
  private opened = false;
  private readonly timer: ReturnType<typeof setTimeout>;
  private readonly reassembler: StreamMessageReassembler;
  /** Candidates gathered before the answer was sent (null once it was). */
  private unsentCandidates: RtcSignal[] | null = [];

  private constructor(
    private readonly options: WebRtcPeerOptions,
    private readonly handlers: WebRtcPeerHandlers,
  ) {
    this.log = options.logger;
    this.reassembler = new StreamMessageReassembler(options.maxViewerMessageBytes);
    this.pc = new RTCPeerConnection(peerConfig(options.config));
    this.timer = setTimeout(() => {
      if (!this.opened) this.fail(`not connected within ${options.config.connectTimeoutMs} ms`);
    }, options.config.connectTimeoutMs);
    this.timer.unref();
    this.pc.onIceCandidate.subscribe((candidate) => {
      if (this.closed || this.opened) return; // once the channel is open the path is chosen
      const json = candidate?.toJSON();
      const signal: RtcSignal = json
        ? { kind: 'candidate', candidate: json.candidate, sdpMid: json.sdpMid ?? null }
        : { kind: 'candidate', candidate: '', sdpMid: null };
      // werift gathers while making the answer: candidates wait until the answer has gone out.
      if (this.unsentCandidates) this.unsentCandidates.push(signal);
      else handlers.onSignal(signal);
    });
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed' || state === 'closed') this.fail(`peer connection ${state}`);
    });
    this.pc.onDataChannel.subscribe((channel) => this.adopt(channel));
  }

  /**
   * Answers a viewer's offer; rejects (and closes everything) when the offer cannot be used. `created`
   * gets the peer at once, so candidates trickled while the answer is being made are not lost.
   */
  static async answer(
    offerSdp: string,
    options: WebRtcPeerOptions,
    handlers: WebRtcPeerHandlers,
    created: (peer: WebRtcPeer) => void,
  ): Promise<WebRtcPeer> {
    const peer = new WebRtcPeer(options, handlers);
    created(peer);
    try {
      if (!/^m=application .*webrtc-datachannel/m.test(offerSdp)) {
        throw new Error('the offer has no DataChannel');
      }
      await peer.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      const answer = await peer.pc.createAnswer();
      await peer.pc.setLocalDescription(answer);
      const sdp = peer.pc.localDescription?.sdp;
      if (!sdp) throw new Error('no local description');
      if (!peer.closed) handlers.onSignal({ kind: 'answer', sdp });
      const early = peer.unsentCandidates ?? [];
      peer.unsentCandidates = null;
      for (const candidate of early) if (!peer.closed) handlers.onSignal(candidate);
      return peer;
    } catch (err) {
      peer.close();
      throw err;
    }
  }

  /** A trickled candidate from the viewer; an empty one ends the viewer's candidates. */
  async addCandidate(candidate: string, sdpMid: string | null): Promise<void> {
    if (this.closed) return;
    try {
      await this.pc.addIceCandidate(candidate === '' ? null : { candidate, sdpMid: sdpMid ?? '0' });
    } catch (err) {
      // One unusable candidate (say, an mDNS name nobody answers) is not fatal: others may connect.
      this.log.debug({ reason: (err as Error).message, candidate }, 'ignored ICE candidate');
    }
  }

  /** Ends the peer without calling onClosed (the bridge asked). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.channel?.close();
    this.pc.close().catch((err: unknown) => this.log.debug({ err }, 'closing the peer connection failed'));
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.close();
    this.handlers.onClosed(reason);
  }

  private adopt(channel: RTCDataChannel): void {
    if (this.closed) return;
    const reliable = channel.ordered && channel.maxRetransmits === null && channel.maxPacketLifeTime === null;
    if (this.channel || channel.label !== STREAM_DATACHANNEL_LABEL || !reliable) {
      this.fail(`unexpected DataChannel "${channel.label}"`);
      return;
    }
    this.channel = channel;
    channel.bufferedAmountLowThreshold = this.options.highWaterBytes;
    channel.onMessage.subscribe((data) => {
      if (this.closed) return;
      if (typeof data === 'string') return this.fail('text on the DataChannel');
      let message: Uint8Array | null;
      try {
        message = this.reassembler.push(data);
      } catch (err) {
        return this.fail((err as Error).message);
      }
      if (message) this.handlers.onMessage(message);
    });
    channel.stateChanged.subscribe((state) => {
      if (state === 'open') this.onChannelOpen(channel);
      else if (state === 'closing' || state === 'closed') this.fail(`DataChannel ${state}`);
    });
    if (channel.readyState === 'open') this.onChannelOpen(channel);
  }

  private onChannelOpen(channel: RTCDataChannel): void {
    if (this.closed || this.opened) return;
    this.opened = true;
    clearTimeout(this.timer);
    this.handlers.onOpen(new DataChannelTransport(channel, this.pc, this.options.highWaterBytes));
  }
}

/** One open DataChannel as a stream transport: messages framed into fragments the viewer accepts. */
class DataChannelTransport implements StreamTransport {
  readonly via = 'datachannel' as const;
  private waiting: Array<() => void> = [];
  private readonly fragmentBytes: number;

  constructor(
    private readonly channel: RTCDataChannel,
    pc: RTCPeerConnection,
    private readonly highWaterBytes: number,
  ) {
    // The viewer's max-message-size (Chromium: 256 KiB); 0 in SDP means no limit.
    const remote = pc.sctpTransport?.remoteMaxMessageSize ?? 0;
    this.fragmentBytes =
      remote > 0 ? Math.min(remote, STREAM_DATACHANNEL_FRAGMENT_BYTES) : STREAM_DATACHANNEL_FRAGMENT_BYTES;
    channel.bufferedAmountLow.subscribe(() => {
      const waiting = this.waiting;
      this.waiting = [];
      for (const resume of waiting) resume();
    });
  }

  get isOpen(): boolean {
    return this.channel.readyState === 'open';
  }

  get bufferedAmount(): number {
    return this.channel.bufferedAmount;
  }

  send(message: Uint8Array, onProgress: () => void): void {
    for (const fragment of fragmentStreamMessage(message, this.fragmentBytes)) {
      this.channel.send(Buffer.from(fragment.buffer, fragment.byteOffset, fragment.byteLength));
    }
    // Below the high-water mark the caller may go on at once; above it, when the queue drains below it.
    if (this.channel.bufferedAmount <= this.highWaterBytes) setImmediate(onProgress);
    else this.waiting.push(onProgress);
  }
}
