import { transfer, type Remote } from 'comlink';
import {
  STREAM_DATACHANNEL_LABEL,
  STREAM_RTC_CONNECT_TIMEOUT_MS,
  type RtcSignal,
  type StreamTransportPreference,
} from '../../protocol/stream.ts';
import type { DecoderWorkerApi } from '../../worker/decoder-worker-api.ts';

export type WebRtcLinkState = 'negotiating' | 'connected' | 'failed' | 'closed';

export interface WebRtcLinkOptions {
  /** `auto` gives up after `timeoutMs`; `webrtc` waits as long as ICE keeps trying. */
  preference: Exclude<StreamTransportPreference, 'websocket'>;
  /** STUN/TURN servers for the page's ICE agent (the host page knows its network). */
  iceServers?: RTCIceServer[] | undefined;
  timeoutMs?: number | undefined;
  /** Told of every state change, with the reason when the link failed. */
  onState?: ((state: WebRtcLinkState, reason?: string) => void) | undefined;
}

/** The part of the decoder worker the link uses: signalling out, and the DataChannel handed over. */
export type WebRtcWorker = Pick<Remote<DecoderWorkerApi>, 'send' | 'attachDataChannel' | 'stats'>;

/**
 * The page's side of a stream's WebRTC transport. Chromium has no RTCPeerConnection in workers, so the
 * peer connection lives here on the main thread; its DataChannel is transferred to the decoder worker
 * the moment it is created (Chromium transfers RTCDataChannel to workers), so stream bytes never pass
 * through the main thread. Signalling goes through the worker's WebSocket (`rtc` messages).
 *
 * The stream runs on the WebSocket the whole time this negotiates; the gateway moves it to the
 * DataChannel once that is open. Failure (refusal, ICE failure, the time bound) just closes the peer:
 * the stream stays where it is.
 */
export class WebRtcLink {
  private pc: RTCPeerConnection | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private current: WebRtcLinkState = 'negotiating';
  private failReason: string | undefined;
  private applying: Promise<void> = Promise.resolve();
  private readonly earlyCandidates: Array<Extract<RtcSignal, { kind: 'candidate' }>> = [];

  constructor(
    private readonly worker: WebRtcWorker,
    private readonly options: WebRtcLinkOptions,
  ) {}

  get state(): WebRtcLinkState {
    return this.current;
  }

  /** Why the link failed (null unless `state` is `failed`). */
  get reason(): string | null {
    return this.failReason ?? null;
  }

  /** Creates the peer and its DataChannel, hands the channel to the worker and sends the offer. */
  async start(): Promise<void> {
    if (typeof RTCPeerConnection === 'undefined') return this.fail('this browser has no WebRTC');
    const { version } = await this.worker.stats();
    if (this.current !== 'negotiating') return;
    if (version < 2) return this.fail('the gateway speaks stream protocol v1 (no WebRTC)');
    let pc: RTCPeerConnection;
    try {
      pc = new RTCPeerConnection({ iceServers: this.options.iceServers ?? [] });
    } catch (error) {
      return this.fail(error instanceof Error ? error.message : 'WebRTC is not available');
    }
    this.pc = pc;
    const channel = pc.createDataChannel(STREAM_DATACHANNEL_LABEL, { ordered: true });
    // Only transferable before it is used (in the task that made it): hand it over right now.
    void this.worker
      .attachDataChannel(transfer(channel, [channel as unknown as Transferable]))
      .catch(() => this.fail('the worker did not take the DataChannel'));
    pc.onicecandidate = (event) => {
      const c = event.candidate;
      this.signal(
        c
          ? { kind: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid }
          : { kind: 'candidate', candidate: '', sdpMid: null },
      );
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') this.fail('ICE could not connect');
    };
    if (this.options.preference === 'auto') {
      const ms = this.options.timeoutMs ?? STREAM_RTC_CONNECT_TIMEOUT_MS;
      this.timer = setTimeout(() => {
        if (this.current === 'negotiating') this.fail(`not connected within ${ms} ms`);
      }, ms);
    }
    try {
      await pc.setLocalDescription(await pc.createOffer());
      const sdp = pc.localDescription?.sdp;
      if (!sdp) throw new Error('no offer');
      this.signal({ kind: 'offer', sdp });
    } catch (error) {
      this.fail(error instanceof Error ? error.message : 'the offer failed');
    }
  }

  /** A signal from the gateway (through the worker); applied one at a time, in order. */
  onSignal(signal: RtcSignal): Promise<void> {
    this.applying = this.applying.then(() => this.apply(signal));
    return this.applying;
  }

  private async apply(signal: RtcSignal): Promise<void> {
    const pc = this.pc;
    if (!pc || this.current !== 'negotiating') return;
    try {
      switch (signal.kind) {
        case 'answer':
          await pc.setRemoteDescription({ type: 'answer', sdp: signal.sdp });
          for (const early of this.earlyCandidates.splice(0)) await this.addCandidate(pc, early);
          return;
        case 'candidate':
          // Trickled before its answer arrived: kept until there is a remote description.
          if (!pc.remoteDescription) this.earlyCandidates.push(signal);
          else await this.addCandidate(pc, signal);
          return;
        case 'refused':
          this.fail(`the gateway refused: ${signal.reason}`);
          return;
        case 'offer':
          return; // the page offers; a gateway never does
      }
    } catch (error) {
      this.fail(error instanceof Error ? error.message : String(error));
    }
  }

  /** An empty candidate ends the gateway's candidates. */
  private async addCandidate(
    pc: RTCPeerConnection,
    signal: Extract<RtcSignal, { kind: 'candidate' }>,
  ): Promise<void> {
    await pc.addIceCandidate(
      signal.candidate ? { candidate: signal.candidate, sdpMid: signal.sdpMid ?? '0' } : null,
    );
  }

  /** The worker reports the stream moved to the DataChannel. */
  onTransport(): void {
    if (this.current !== 'negotiating') return;
    clearTimeout(this.timer);
    this.setState('connected');
  }

  /** Ends the peer (the stream's end, or the viewer going away). */
  close(): void {
    clearTimeout(this.timer);
    this.pc?.close();
    this.pc = null;
    if (this.current === 'negotiating' || this.current === 'connected') this.setState('closed');
  }

  private signal(signal: RtcSignal): void {
    if (this.current !== 'negotiating' && signal.kind === 'candidate') return;
    void this.worker.send({ t: 'rtc', signal }).catch(() => undefined);
  }

  /** Gives up before the switch: the peer (and with it the worker's channel) closes; the stream stays put. */
  private fail(reason: string): void {
    if (this.current !== 'negotiating') return;
    clearTimeout(this.timer);
    this.failReason = reason;
    this.pc?.close();
    this.pc = null;
    this.setState('failed', reason);
  }

  private setState(state: WebRtcLinkState, reason?: string): void {
    this.current = state;
    this.options.onState?.(state, reason);
  }
}
