/** What the benchmark page (bench-page.ts, bundled for the browser) offers the Node driver. */

/** One client's run as the page saw it. */
export interface PageClientReport {
  /** Time spent inside the page's own handlers for this client (see run-decode-bench.ts). */
  handlerMs: number;
  /** Handler invocations counted in handlerMs. */
  handlerCalls: number;
  /** A decode or connection error the client reported, if any. */
  error: string | null;
}

export interface OursPageReport extends PageClientReport {
  /** Updates the worker applied and its own unpack + decode + draw time (StreamStats). */
  workerUpdates: number;
  workerDecodeMs: number;
}

export interface FrameComparison {
  /** Both pictures have the recording's size. */
  sameSize: boolean;
  /** Largest difference of any R, G or B value between the two, and how many pixels differ at all. */
  maxChannelDiff: number;
  differingPixels: number;
  /** SHA-256 of our final frame as R, G, B bytes (the sidecar's `finalFrame.rgbSha256` form). */
  oursRgbSha256: string;
}

export interface BenchPageApi {
  /** Starts our decoder worker (bundled) on a new canvas and connects it to the stream at `url`. */
  startOurs(url: string): Promise<void>;
  /** Ends our run: keeps our final frame for compare(), closes the worker. */
  endOurs(): Promise<OursPageReport>;
  /** Starts noVNC's RFB client on a new element, connected to the raw RFB replay at `url`. */
  startNovnc(url: string): Promise<void>;
  /** Ends noVNC's run once its render queue is empty: keeps its final frame for compare(). */
  endNovnc(): Promise<PageClientReport>;
  /** Compares the two kept frames (then forgets them). */
  compare(width: number, height: number): Promise<FrameComparison>;
}

declare global {
  interface Window {
    vscDecodeBench: BenchPageApi;
  }
}
