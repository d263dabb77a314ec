/**
 * The part of noVNC 1.7 (`@novnc/novnc`, plain JavaScript without types) that the decode benchmark
 * and the browser tests comparing against it use. The underscored members are noVNC internals: they
 * are what it takes to know when noVNC has finished drawing and to read its picture back.
 */
declare module '@novnc/novnc' {
  /** What noVNC accepts instead of a URL: a WebSocket, an RTCDataChannel, or anything shaped like one. */
  export interface NovncChannel {
    binaryType: string;
    protocol: string;
    readyState: number | string;
    onopen: ((event: Event) => void) | null;
    onmessage: ((event: { data: ArrayBuffer }) => void) | null;
    onerror: ((event: Event) => void) | null;
    onclose: ((event: CloseEvent) => void) | null;
    send(data: Uint8Array): void;
    close(): void;
  }

  export interface NovncDisplay {
    /** Whether drawing operations wait in its render queue (images still loading). */
    pending(): boolean;
    /** Resolves once the render queue is empty. */
    flush(): Promise<void>;
    /** Draws what waits in the render queue (called again when an image has loaded). */
    _scanRenderQ(): void;
  }

  export interface NovncOptions {
    shared?: boolean;
    wsProtocols?: string[];
  }

  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket | NovncChannel, options?: NovncOptions);
    viewOnly: boolean;
    focusOnClick: boolean;
    disconnect(): void;
    readonly _display: NovncDisplay;
    readonly _canvas: HTMLCanvasElement;
    /** Parses and decodes what is in the receive queue (also called when a flush of images is done). */
    _handleMessage(): void;
  }
}
