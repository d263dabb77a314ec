import {
  STREAM_DATACHANNEL_FRAGMENT_BYTES,
  StreamMessageReassembler,
  fragmentStreamMessage,
} from '../protocol/stream-datachannel-framing.ts';

/** The largest stream message accepted from the gateway (a full 8192×8192 Raw update is 256 MiB). */
const MAX_SERVER_MESSAGE_BYTES = 320 * 1024 * 1024;

/**
 * The stream's WebRTC DataChannel inside the decoder worker (the page created it and transferred it
 * here, so its messages never touch the main thread). Joins the gateway's fragments into whole
 * messages and frames what it sends (protocol/stream-datachannel-framing.ts).
 */
export class WorkerDataChannel {
  private readonly reassembler = new StreamMessageReassembler(MAX_SERVER_MESSAGE_BYTES);
  private ended = false;
  private unsent: Uint8Array[] = [];

  constructor(
    private readonly channel: RTCDataChannel,
    /** A whole message from the gateway. */
    onMessage: (message: Uint8Array) => void,
    /** The channel closed or broke the framing; called once. */
    onEnd: (reason: string) => void,
  ) {
    channel.binaryType = 'arraybuffer';
    const end = (reason: string): void => {
      if (this.ended) return;
      this.ended = true;
      channel.onopen = channel.onmessage = channel.onclose = channel.onerror = null;
      onEnd(reason);
    };
    channel.onmessage = (event: MessageEvent) => {
      if (!(event.data instanceof ArrayBuffer)) return end('text on the stream DataChannel');
      let message: Uint8Array | null;
      try {
        message = this.reassembler.push(new Uint8Array(event.data));
      } catch (error) {
        channel.close();
        return end(error instanceof Error ? error.message : String(error));
      }
      if (message) onMessage(message);
    };
    channel.onopen = () => {
      const unsent = this.unsent;
      this.unsent = [];
      for (const message of unsent) this.send(message);
    };
    channel.onclose = () => end('DataChannel closed');
    channel.onerror = () => end('DataChannel error');
  }

  /** Open, or still connecting (the gateway may announce the switch before our `open` event). */
  get usable(): boolean {
    return !this.ended && (this.channel.readyState === 'open' || this.channel.readyState === 'connecting');
  }

  /** Sends a message; queued while the channel is still connecting (acks must not be lost). */
  send(message: Uint8Array): void {
    if (this.ended) return;
    if (this.channel.readyState === 'connecting') {
      this.unsent.push(message);
      return;
    }
    if (this.channel.readyState !== 'open') return;
    for (const fragment of fragmentStreamMessage(message, STREAM_DATACHANNEL_FRAGMENT_BYTES)) {
      this.channel.send(fragment);
    }
  }

  close(): void {
    this.ended = true;
    this.channel.onopen = this.channel.onmessage = this.channel.onclose = this.channel.onerror = null;
    if (this.channel.readyState !== 'closed') this.channel.close();
  }
}
