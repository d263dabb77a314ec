import type { WebSocket } from 'ws';

/**
 * What carries one viewer's stream messages towards the viewer: the stream's WebSocket, or the WebRTC
 * DataChannel the stream switched to. The bridge only sees this, so flow control and input rules are the
 * same whichever transport is in use.
 */
export interface StreamTransport {
  readonly via: 'websocket' | 'datachannel';
  readonly isOpen: boolean;
  /** Bytes accepted by send() and not yet handed to the network. */
  readonly bufferedAmount: number;
  /**
   * Sends one whole msgpack message. `onProgress` runs later, once some of the queue has left (the
   * caller re-reads bufferedAmount then); it may not run if the transport fails.
   */
  send(message: Uint8Array, onProgress: () => void): void;
}

/** The stream's WebSocket as a transport (it stays the control channel after a switch). */
export function webSocketTransport(ws: WebSocket): StreamTransport {
  return {
    via: 'websocket',
    get isOpen() {
      return ws.readyState === ws.OPEN;
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send(message, onProgress) {
      ws.send(message, { binary: true }, (err) => {
        if (!err) onProgress();
      });
    },
  };
}
