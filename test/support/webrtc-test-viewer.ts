import { pack, unpack } from 'msgpackr';
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import type WebSocket from 'ws';
import {
  STREAM_DATACHANNEL_FRAGMENT_BYTES,
  StreamMessageReassembler,
  fragmentStreamMessage,
} from '../../protocol/stream-datachannel-framing.ts';
import {
  STREAM_DATACHANNEL_LABEL,
  type ClientStreamMessage,
  type RtcSignal,
  type ServerStreamMessage,
} from '../../protocol/stream.ts';

export interface ReceivedMessage {
  via: 'websocket' | 'datachannel';
  message: ServerStreamMessage;
  /** Size of the DataChannel message(s) it came in (fragments), for framing checks. */
  fragments: number[];
}

/**
 * A stream viewer in Node that speaks the WebRTC transport as the browser's viewer does (werift as the
 * offering peer): signalling on the WebSocket, one ordered reliable DataChannel, the switch on
 * `transport`, fragments joined. Records every server message with the transport that carried it.
 */
export class WebRtcTestViewer {
  readonly received: ReceivedMessage[] = [];
  readonly signals: RtcSignal[] = [];
  via: 'websocket' | 'datachannel' = 'websocket';
  readonly pc: RTCPeerConnection;
  readonly channel: RTCDataChannel;
  private readonly reassembler = new StreamMessageReassembler(512 * 1024 * 1024);
  private held: ReceivedMessage[] = [];
  private fragments: number[] = [];
  private dropCandidates = false;

  constructor(
    readonly ws: WebSocket,
    options: { dropCandidates?: boolean } = {},
  ) {
    this.dropCandidates = options.dropCandidates ?? false;
    this.pc = new RTCPeerConnection({ maxMessageSize: 256 * 1024 });
    this.channel = this.pc.createDataChannel(STREAM_DATACHANNEL_LABEL, { ordered: true });
    this.channel.onMessage.subscribe((data) => {
      if (typeof data === 'string') throw new Error('text on the stream DataChannel');
      this.fragments.push(data.length);
      const whole = this.reassembler.push(data);
      if (!whole) return;
      const entry: ReceivedMessage = {
        via: 'datachannel',
        message: unpack(whole) as ServerStreamMessage,
        fragments: this.fragments,
      };
      this.fragments = [];
      if (this.via === 'datachannel') this.received.push(entry);
      else this.held.push(entry); // arrived before the WebSocket's `transport`: kept in order for after it
    });
    this.pc.onIceCandidate.subscribe((candidate) => {
      if (this.dropCandidates) return;
      const json = candidate?.toJSON();
      this.send(
        {
          t: 'rtc',
          signal: { kind: 'candidate', candidate: json?.candidate ?? '', sdpMid: json?.sdpMid ?? null },
        },
        'websocket',
      );
    });
    ws.on('message', (data: Buffer) => {
      const message = unpack(data) as ServerStreamMessage;
      if (message.t === 'rtc') {
        this.signals.push(message.signal);
        void this.onSignal(message.signal);
        return;
      }
      this.received.push({ via: 'websocket', message, fragments: [] });
      if (message.t === 'transport') {
        this.via = 'datachannel';
        this.received.push(...this.held);
        this.held = [];
      }
    });
  }

  /** Sends the offer (with the DataChannel in it) on the WebSocket. */
  async offer(): Promise<void> {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    const sdp = this.pc.localDescription?.sdp ?? '';
    this.send(
      {
        t: 'rtc',
        signal: { kind: 'offer', sdp: this.dropCandidates ? sdp.replace(/^a=candidate:.*\r\n/gm, '') : sdp },
      },
      'websocket',
    );
  }

  /** Sends on the transport in use (or the one named), framed on the DataChannel. */
  send(message: ClientStreamMessage, via: 'websocket' | 'datachannel' = this.via): void {
    const bytes = pack(message);
    if (via === 'websocket') {
      this.ws.send(bytes);
      return;
    }
    for (const fragment of fragmentStreamMessage(bytes, STREAM_DATACHANNEL_FRAGMENT_BYTES)) {
      this.channel.send(Buffer.from(fragment.buffer, fragment.byteOffset, fragment.byteLength));
    }
  }

  messages(): ServerStreamMessage[] {
    return this.received.map((r) => r.message);
  }

  async close(): Promise<void> {
    await this.pc.close();
  }

  private async onSignal(signal: RtcSignal): Promise<void> {
    if (signal.kind === 'answer') {
      // Dropping candidates: the answer's own candidate lines too, so ICE has no pair to try.
      const sdp = this.dropCandidates ? signal.sdp.replace(/^a=candidate:.*\r\n/gm, '') : signal.sdp;
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
    } else if (signal.kind === 'candidate' && !this.dropCandidates) {
      await this.pc
        .addIceCandidate(
          signal.candidate ? { candidate: signal.candidate, sdpMid: signal.sdpMid ?? '0' } : null,
        )
        .catch(() => undefined);
    }
  }
}
