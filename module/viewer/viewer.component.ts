import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import { proxy, transfer } from 'comlink';
import type { ClientStreamMessage, StreamQuality, StreamTransportPreference } from '../../protocol/stream.ts';
import { DEFAULT_STREAM_QUALITY, StreamCloseCode } from '../../protocol/stream.ts';
import type { Preferences } from '../../protocol/preferences.ts';
import type { Session } from '../../protocol/session.ts';
import type { WorkspaceRole } from '../../protocol/workspace-constants.ts';
import type { StreamStats, ViewerEvent } from '../../worker/decoder-worker-api.ts';
import { toApiError, type ApiClient, type ApiError } from '../api/api-client.ts';
import { shortId, stateLabel, stateTone } from '../shared/format.ts';
import { renderLaunchSteps } from '../shared/launch-steps.ts';
import { VscElement } from '../shared/vsc-element.ts';
import type { PreferencesState, PreferencesStore } from '../state/preferences-store.ts';
import type { SessionsState, SessionsStore } from '../state/sessions-store.ts';
import { StoreController } from '../state/store-controller.ts';
import type { DecoderWorkerHandle } from './start-decoder-worker.ts';
import { layoutKeysym } from './keyboard-layouts.ts';
import { keysymFromEvent } from './keysym.ts';
import { WheelAccumulator, mapToFramebuffer, rfbButtons } from './pointer.ts';
import { qualityForPreference, scalingForPreference, type ViewerScaling } from './stream-preferences.ts';
import { styles } from './viewer.styles.ts';
import { WebRtcLink } from './webrtc-link.ts';

export type DecoderWorkerFactory = () => DecoderWorkerHandle | Promise<DecoderWorkerHandle>;

/** Starts the real decoder worker; loaded on first use so the module's entry stays small. */
const startRealDecoderWorker: DecoderWorkerFactory = async () =>
  (await import('./start-decoder-worker.ts')).startDecoderWorker();

export type ViewerStatus =
  | { kind: 'idle' }
  | { kind: 'connecting' }
  | { kind: 'connected'; width: number; height: number; name: string }
  | { kind: 'closed'; code: number; reason: string }
  | { kind: 'error'; code: string; message: string }
  /** The stream dropped; a new one to the same session starts in `inMs` (attempt `attempt` of `of`). */
  | { kind: 'reconnecting'; attempt: number; of: number; inMs: number; code: number };

export type { ViewerScaling } from './stream-preferences.ts';

/** What the stats overlay shows, measured over the last second. */
export interface ViewerStreamStats {
  fps: number;
  /** Bytes per second received. */
  bandwidth: number;
  /** Round trip of the last latency probe; null on a gateway without probes (protocol v1). */
  latencyMs: number | null;
  /** Mean decode + draw time per update. */
  decodeMs: number;
  transport: StreamStats['transport'];
  version: number;
}

/**
 * Close codes after which the same session is reconnected automatically (network drops, a gateway
 * restarting, the desktop connection lost). Authentication, a missing or ended session and our own
 * close (1000) are final.
 */
const RETRYABLE_CLOSE_CODES = new Set([
  1001,
  1005,
  1006,
  1011,
  1012,
  1013,
  1014,
  4408,
  StreamCloseCode.UpstreamError,
  StreamCloseCode.TransportLost,
]);
/** Remote resize requests leave the page at most this often (the gateway limits them again). */
const RESIZE_DEBOUNCE_MS = 250;

/** Ctrl+Shift+F12 moves focus from the desktop to the toolbar: every other key goes to the desktop. */
function isReleaseShortcut(event: KeyboardEvent): boolean {
  return event.key === 'F12' && event.ctrlKey && event.shiftKey && !event.altKey && !event.metaKey;
}

const CLOSE_REASONS: Readonly<Record<number, string>> = {
  [StreamCloseCode.Normal]: 'The stream was closed.',
  [StreamCloseCode.AuthFailed]: 'Authentication failed.',
  [StreamCloseCode.NotFound]: 'The session was not found.',
  [StreamCloseCode.NotStreamable]: 'The session has no running desktop to show.',
  [StreamCloseCode.ProtocolError]: 'The stream was malformed.',
  [StreamCloseCode.UpstreamError]: 'The connection to the desktop was lost.',
  [StreamCloseCode.SessionEnded]: 'The session has ended.',
  [StreamCloseCode.Removed]:
    'You no longer have access: you left or were removed from the workspace that shared this session, or it was closed.',
  1006: 'The connection was lost.',
};

/**
 * @tagname vsc-viewer
 * @summary The remote desktop of one session: a canvas the decoder worker draws into, keyboard and pointer input
 * sent back as RFB events, and a toolbar with the session's actions.
 *
 * The canvas is transferred to the worker (`transferControlToOffscreen`), so pixels never touch the main thread.
 * While the canvas has focus every key goes to the desktop (Tab included); Ctrl+Shift+F12 moves focus back to the
 * toolbar, and leaving the canvas releases every key and button still held. Removing the element closes the
 * stream, terminates the worker and removes every listener. With `view-only` nothing is sent to the desktop (an
 * observer); `embedded` hides the Back button (the session parcel).
 *
 * @event vsc-close-viewer - The user asked to leave the viewer (Back, or after Terminate). `detail: { sessionId }`.
 * @event vsc-viewer-status - The stream's status changed. `detail: ViewerStatus`.
 * @event vsc-first-frame - The first update of a connection has been drawn. `detail: { sessionId }`.
 *
 * @csspart toolbar - The row of session controls.
 * @csspart status - The status line (an aria-live region).
 * @csspart screen - The box the desktop is scaled into.
 * @csspart canvas - The desktop's canvas.
 *
 * @cssproperty --vsc-color-surface - Toolbar background.
 * @cssproperty --vsc-color-focus - Focus ring colour.
 */
export class VscViewer extends VscElement {
  static override styles = styles;

  /** The session to show. Changing it reconnects. */
  @property({ attribute: 'session-id' }) sessionId = '';

  /** API client: stream URL, token and subprotocols. */
  @property({ attribute: false }) api?: ApiClient;

  /** Sessions store: the toolbar's actions and the session's state. Optional (no toolbar actions without it). */
  @property({ attribute: false }) store?: SessionsStore;

  /** Set when opened straight from a launch: shows the last launch step until the desktop is connected. */
  @property({ type: Boolean }) launching = false;

  /** Starts the decoder worker. Tests pass a fake; by default the real worker is loaded lazily. */
  @property({ attribute: false }) workerFactory?: DecoderWorkerFactory;

  /** Watch only (an observer in a workspace): no key, pointer or clipboard input is sent to the desktop. */
  @property({ type: Boolean, attribute: 'view-only', reflect: true }) viewOnly = false;

  /** Embedded in another page (the session parcel): no Back button, since there is nowhere to go back to. */
  @property({ type: Boolean }) embedded = false;

  /** `fit` scales the desktop into the viewer, `none` shows it 1:1 (scrolling), `remote` resizes the desktop. */
  @property({ reflect: true }) scaling: ViewerScaling = 'fit';

  /** JPEG quality and compression level the desktop is asked for (each 0…9). */
  @property({ attribute: false }) quality: StreamQuality = { ...DEFAULT_STREAM_QUALITY };

  /** X layout name (Settings): how a key the browser cannot identify is guessed from its position. */
  @property({ attribute: 'keyboard-layout' }) keyboardLayout = 'us';

  /**
   * The user's settings. Stream quality, scaling and keyboard layout start from them and follow each later
   * change of them (also while the viewer is open); the toolbar still changes this viewer alone. Their stream
   * transport sets `transport`; while they are still loading a connected viewer waits for them before it offers
   * WebRTC, so a `websocket` choice never sends an offer.
   */
  @property({ attribute: false }) preferences?: PreferencesStore;

  /** Shows fps, latency, bandwidth and decode time over the desktop. */
  @property({ type: Boolean, attribute: 'show-stats' }) showStats = false;

  /** Reconnects by itself after a network drop, with exponential backoff from this many ms (0 = never). */
  @property({ type: Number, attribute: 'reconnect-delay' }) reconnectDelayMs = 500;

  /** How many automatic reconnection attempts before giving up (the Reconnect button stays). */
  @property({ type: Number, attribute: 'reconnect-attempts' }) reconnectAttempts = 8;

  /**
   * `auto` tries WebRTC (DataChannel) and stays on the WebSocket if it cannot connect; `webrtc` keeps trying
   * (the gateway may still refuse); `websocket` never tries. Set from the user's settings when `preferences` is
   * given. A change takes effect on the next connection, except that `websocket` also drops an attempt still
   * negotiating (the stream has not left the WebSocket then).
   */
  @property() transport: StreamTransportPreference = 'auto';

  /** STUN/TURN servers for WebRTC (the host page knows its network); none: host candidates only. */
  @property({ attribute: false }) iceServers: RTCIceServer[] = [];

  private rtcLink: WebRtcLink | undefined;
  /** Connected, but the user's settings (and with them the transport) have not loaded yet: WebRTC waits. */
  private rtcWaitsForSettings = false;
  /** A DataChannel died under this viewer: in `auto` its reconnections stay on the WebSocket. */
  private rtcLost = false;

  @state() private status: ViewerStatus = { kind: 'idle' };
  @state() private confirmingTerminate = false;
  @state() private busy = false;
  @state() private actionError: ApiError | null = null;
  @state() private liveStats: ViewerStreamStats | null = null;
  /** The desktop's clipboard as last received (shown in the clipboard panel when the page may not write it). */
  @state() private remoteClipboard = '';
  @state() private clipboardOpen = false;
  @state() private clipboardNote = '';
  /** Watching through a workspace: the role and whether the gateway passes our input on (its `access` message). */
  @state() private access: { role: WorkspaceRole; input: boolean } | null = null;
  /** view-only was turned on by the gateway's `access` message (so it may turn it off again). */
  private viewOnlyFromAccess = false;

  private readonly prefs = new StoreController<PreferencesState>(
    this,
    () => this.preferences?.state$,
    (value, previous) => this.onPreferences(value, previous),
  );

  private readonly sessions = new StoreController<SessionsState>(
    this,
    () => this.store?.state$,
    (value, previous) => this.onSessions(value, previous),
  );

  private canvas: HTMLCanvasElement = this.createCanvas();
  private canvasUsed = false;
  private worker: DecoderWorkerHandle | undefined;
  /** Bumped on every (re)start and teardown; events and async steps of an older generation are dropped. */
  private generation = 0;
  private listeners: AbortController | undefined;
  private framebuffer = { width: 0, height: 0 };
  /** Keys held down on the desktop, by `code`, with the keysym sent for them (so key-up matches key-down). */
  private readonly heldKeys = new Map<string, number>();
  private buttons = 0;
  /** Whether this connection has drawn its first update (reported once as `vsc-first-frame`). */
  private firstFrameSeen = false;
  private lastPointer = { x: -1, y: -1, buttons: -1 };
  private readonly wheel = new WheelAccumulator();
  private lastError: { code: string; message: string } | null = null;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private lastStats: { at: number; stats: StreamStats } | null = null;
  private resizeObserver: ResizeObserver | undefined;
  private resizeTimer: ReturnType<typeof setTimeout> | undefined;
  private lastResizeSent = { width: 0, height: 0 };
  /** The last text sent to (or received from) the desktop's clipboard, so the same text is not sent twice. */
  private clipboardSynced = '';

  /** The stream's status (read-only). */
  get streamStatus(): ViewerStatus {
    return this.status;
  }

  /** Stream figures of the last second (null before the first second of a connection). */
  get streamStats(): ViewerStreamStats | null {
    return this.liveStats;
  }

  /** The desktop's clipboard text as last received. */
  get desktopClipboard(): string {
    return this.remoteClipboard;
  }

  /**
   * Puts `text` on the desktop's clipboard (ClientCutText: Latin-1, other characters become '?').
   * Ignored in view-only mode or while not connected.
   */
  sendClipboard(text: string): void {
    if (!this.connected || this.viewOnly) return;
    this.clipboardSynced = text;
    this.send({ t: 'clipboard', text });
  }

  /** Shows the desktop in the whole screen (the Fullscreen API on the screen box). */
  async enterFullscreen(): Promise<void> {
    const screen = this.renderRoot.querySelector<HTMLElement>('.screen');
    if (!screen || document.fullscreenElement) return;
    await screen.requestFullscreen().catch(() => undefined);
    this.canvas.focus({ preventScroll: true });
  }

  /** Keysyms currently held down on the desktop (read-only copy, for tests and diagnostics). */
  get heldKeysyms(): number[] {
    return [...this.heldKeys.values()];
  }

  private get session(): Session | undefined {
    return this.sessions.value?.sessions.find((s) => s.sessionId === this.sessionId);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    // Reattached after a teardown: the previous canvas was handed to a worker that is gone.
    if (this.hasUpdated) this.requestUpdate();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.cancelReconnect();
    this.teardown();
    this.confirmingTerminate = false;
  }

  protected override willUpdate(changed: PropertyValues): void {
    if ((changed.has('sessionId') || changed.has('api')) && this.status.kind !== 'idle') {
      this.cancelReconnect();
      this.attempt = 0;
      this.teardown();
      // Another session: what one workspace allowed says nothing about it.
      this.access = null;
      if (this.viewOnlyFromAccess) this.viewOnly = this.viewOnlyFromAccess = false;
    }
    if (changed.has('quality') && changed.get('quality') !== undefined) this.sendQuality();
    if (changed.has('transport') && this.transport === 'websocket' && this.rtcLink?.state === 'negotiating') {
      this.rtcLink.close();
      this.rtcLink = undefined;
    }
    if (changed.has('scaling')) {
      this.lastResizeSent = { width: 0, height: 0 };
      this.scheduleRemoteResize();
    }
    if (this.isConnected && this.status.kind === 'idle' && this.api && this.sessionId) void this.start();
  }

  private setStatus(status: ViewerStatus): void {
    this.status = status;
    this.emit('vsc-viewer-status', status);
  }

  /** Drops the current stream and starts a new one (a new worker and a new canvas). */
  reconnect(): void {
    this.cancelReconnect();
    this.teardown();
    this.requestUpdate();
  }

  private cancelReconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  /** After a drop: the same session again after 0.5 s, 1 s, 2 s … (capped at 15 s, ±20 % jitter). */
  private scheduleReconnect(code: number): boolean {
    if (this.reconnectDelayMs <= 0 || !RETRYABLE_CLOSE_CODES.has(code)) return false;
    if (this.attempt >= this.reconnectAttempts) return false;
    const state = this.session?.state;
    if (state !== undefined && state !== 'active') return false; // paused or ended: onSessions takes over
    this.attempt++;
    const base = Math.min(this.reconnectDelayMs * 2 ** (this.attempt - 1), 15_000);
    const inMs = Math.round(base * (0.8 + Math.random() * 0.4));
    this.setStatus({ kind: 'reconnecting', attempt: this.attempt, of: this.reconnectAttempts, inMs, code });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.teardown();
      this.requestUpdate();
    }, inMs);
    return true;
  }

  private async start(): Promise<void> {
    const generation = ++this.generation;
    const api = this.api;
    if (!api) return;
    this.setStatus({ kind: 'connecting' });
    this.lastError = null;
    if (this.canvasUsed) this.canvas = this.createCanvas();
    const canvas = this.canvas;
    this.attachListeners(canvas);
    let handle: DecoderWorkerHandle | undefined;
    try {
      handle = await (this.workerFactory ?? startRealDecoderWorker)();
      if (generation !== this.generation) {
        handle.terminate();
        return;
      }
      this.worker = handle;
      this.canvasUsed = true;
      const offscreen = canvas.transferControlToOffscreen();
      await handle.api.attach(transfer(offscreen, [offscreen]));
      const token = await api.token();
      if (generation !== this.generation) return;
      const onEvent = (event: ViewerEvent): void => this.onViewerEvent(generation, event);
      await handle.api.connect(
        { url: api.streamUrl(this.sessionId), protocols: api.streamProtocols(token) },
        proxy(onEvent),
      );
    } catch (error) {
      if (generation !== this.generation) return;
      const apiError = toApiError(error);
      this.setStatus({ kind: 'error', code: apiError.code, message: apiError.message });
    }
  }

  /** Stops the stream: keys released, socket closed, worker terminated, listeners removed. */
  private teardown(): void {
    this.generation++;
    this.releaseInput();
    clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    this.lastStats = null;
    this.liveStats = null;
    this.resizeObserver?.disconnect();
    this.resizeObserver = undefined;
    clearTimeout(this.resizeTimer);
    this.resizeTimer = undefined;
    this.lastResizeSent = { width: 0, height: 0 };
    this.listeners?.abort();
    this.listeners = undefined;
    this.rtcLink?.close();
    this.rtcLink = undefined;
    this.rtcWaitsForSettings = false;
    const handle = this.worker;
    this.worker = undefined;
    if (handle) {
      // Let the worker close its socket cleanly (code 1000), but never wait on it for long.
      const closed = Promise.resolve()
        .then(() => handle.api.disconnect())
        .catch(() => undefined);
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 250));
      void Promise.race([closed, timeout]).then(() => handle.terminate());
    }
    this.framebuffer = { width: 0, height: 0 };
    if (this.status.kind !== 'idle') this.setStatus({ kind: 'idle' });
  }

  /** Polls the worker's counters once a second for the stats overlay (and `streamStats`). */
  private startStats(generation: number): void {
    clearInterval(this.statsTimer);
    this.statsTimer = setInterval(() => {
      const worker = this.worker;
      if (!worker || generation !== this.generation) return;
      void worker.api
        .stats()
        .then((stats) => {
          if (generation !== this.generation) return;
          const at = performance.now();
          const last = this.lastStats;
          this.lastStats = { at, stats };
          if (!last) return;
          const seconds = Math.max((at - last.at) / 1000, 0.001);
          const updates = stats.updates - last.stats.updates;
          this.liveStats = {
            fps: Math.round((updates / seconds) * 10) / 10,
            bandwidth: Math.round((stats.bytes - last.stats.bytes) / seconds),
            latencyMs: stats.rttMs,
            decodeMs:
              updates > 0 ? Math.round(((stats.decodeMs - last.stats.decodeMs) / updates) * 100) / 100 : 0,
            transport: stats.transport,
            version: stats.version,
          };
        })
        .catch(() => undefined);
    }, 1000);
  }

  private sendQuality(): void {
    if (!this.connected) return;
    const jpeg = Math.min(Math.max(Math.round(this.quality.jpeg), 0), 9);
    const compression = Math.min(Math.max(Math.round(this.quality.compression), 0), 9);
    // Only this viewer's own connection changes, so an observer may choose its quality too.
    this.worker?.api.send({ t: 'quality', jpeg, compression }).catch(() => undefined);
  }

  /** In `remote` scaling, asks the desktop for the screen box's size (debounced; never in view-only mode). */
  private scheduleRemoteResize(): void {
    clearTimeout(this.resizeTimer);
    if (this.scaling !== 'remote' || !this.connected || this.viewOnly) return;
    this.resizeTimer = setTimeout(() => {
      this.resizeTimer = undefined;
      const screen = this.renderRoot.querySelector<HTMLElement>('.screen');
      if (!screen || this.scaling !== 'remote' || this.viewOnly) return;
      const width = Math.min(Math.max(Math.floor(screen.clientWidth), 64), 8192) & ~1;
      const height = Math.min(Math.max(Math.floor(screen.clientHeight), 64), 8192) & ~1;
      const fb = this.framebuffer;
      if (width === fb.width && height === fb.height) return;
      if (width === this.lastResizeSent.width && height === this.lastResizeSent.height) return;
      this.lastResizeSent = { width, height };
      this.send({ t: 'resize', width, height });
    }, RESIZE_DEBOUNCE_MS);
  }

  private observeScreenSize(): void {
    if (this.resizeObserver || typeof ResizeObserver === 'undefined') return;
    const screen = this.renderRoot.querySelector<HTMLElement>('.screen');
    if (!screen) return;
    this.resizeObserver = new ResizeObserver(() => this.scheduleRemoteResize());
    this.resizeObserver.observe(screen);
  }

  /** The desktop's clipboard arrived: onto the page's clipboard if the browser lets us, else into the panel. */
  private onRemoteClipboard(text: string): void {
    this.remoteClipboard = text;
    this.clipboardSynced = text;
    this.emit('vsc-clipboard', { text });
    const clipboard = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
    if (!clipboard?.writeText) {
      this.clipboardNote =
        'Copy it from the clipboard panel: this browser gives the page no clipboard access.';
      return;
    }
    clipboard.writeText(text).then(
      () => (this.clipboardNote = ''),
      () =>
        (this.clipboardNote =
          'The browser did not let the page write the clipboard: copy it from the panel.'),
    );
  }

  /** When the desktop gets focus, the page's clipboard goes to the desktop if the browser allows reading it. */
  private syncLocalClipboard(): void {
    if (!this.connected || this.viewOnly) return;
    const clipboard = typeof navigator !== 'undefined' ? navigator.clipboard : undefined;
    if (!clipboard?.readText) return;
    clipboard.readText().then(
      (text) => {
        if (text && text !== this.clipboardSynced) this.sendClipboard(text);
      },
      () => undefined, // no permission: the panel and the paste event remain
    );
  }

  /** A paste event (e.g. the browser's Paste menu on the focused desktop) carries the text without permissions. */
  private onPaste(event: ClipboardEvent): void {
    const text = event.clipboardData?.getData('text/plain');
    if (!text || this.viewOnly) return;
    event.preventDefault();
    this.sendClipboard(text);
  }

  /** Text from an input method (composition), typed as key presses of its characters. */
  private onCompositionEnd(event: CompositionEvent): void {
    if (!this.connected || this.viewOnly || !event.data) return;
    for (const char of event.data) {
      const keysym = keysymFromEvent({ key: char, code: '' });
      if (keysym === null) continue;
      this.send({ t: 'key', keysym, down: true });
      this.send({ t: 'key', keysym, down: false });
    }
  }

  private onViewerEvent(generation: number, event: ViewerEvent): void {
    if (generation !== this.generation) return;
    switch (event.type) {
      case 'connected':
        this.firstFrameSeen = false;
        this.framebuffer = { width: event.width, height: event.height };
        this.setStatus({ kind: 'connected', width: event.width, height: event.height, name: event.name });
        this.launching = false;
        this.canvas.focus({ preventScroll: true });
        this.startStats(generation);
        this.startWebRtc();
        if (
          this.quality.jpeg !== DEFAULT_STREAM_QUALITY.jpeg ||
          this.quality.compression !== DEFAULT_STREAM_QUALITY.compression
        )
          this.sendQuality();
        void this.updateComplete.then(() => {
          if (generation !== this.generation) return;
          this.observeScreenSize();
          this.scheduleRemoteResize();
        });
        return;
      case 'resize':
        this.framebuffer = { width: event.width, height: event.height };
        if (this.status.kind === 'connected')
          this.setStatus({ ...this.status, width: event.width, height: event.height });
        return;
      case 'error':
        this.lastError = { code: event.code, message: event.message };
        return;
      case 'rtc':
        void this.rtcLink?.onSignal(event.signal);
        return;
      case 'transport':
        this.rtcLink?.onTransport();
        return;
      case 'closed':
        if (event.code === StreamCloseCode.TransportLost) this.rtcLost = true;
        this.heldKeys.clear();
        this.buttons = 0;
        clearInterval(this.statsTimer);
        this.statsTimer = undefined;
        if (!this.lastError && this.scheduleReconnect(event.code)) return;
        this.setStatus(
          this.lastError
            ? { kind: 'error', ...this.lastError }
            : { kind: 'closed', code: event.code, reason: event.reason },
        );
        return;
      case 'frame':
        if (!this.firstFrameSeen) {
          this.firstFrameSeen = true;
          this.attempt = 0; // a connection that drew is a success: the next drop starts the backoff again
          this.emit('vsc-first-frame', { sessionId: this.sessionId });
        }
        return;
      case 'cursor': {
        // The desktop's pointer shape (Cursor pseudo-encoding) as the canvas's CSS cursor; 0×0 hides it.
        if (event.width === 0 || event.height === 0) {
          this.canvas.style.cursor = 'none';
          return;
        }
        const shape = document.createElement('canvas');
        shape.width = event.width;
        shape.height = event.height;
        const pixels = new ImageData(new Uint8ClampedArray(event.rgba), event.width, event.height);
        shape.getContext('2d')?.putImageData(pixels, 0, 0);
        this.canvas.style.cursor = `url(${shape.toDataURL()}) ${event.hotX} ${event.hotY}, default`;
        return;
      }
      case 'clipboard':
        this.onRemoteClipboard(event.text);
        return;
      case 'access':
        this.onAccess(event.role, event.input);
        return;
      case 'bell':
      case 'desktopName':
        return;
    }
  }

  /** The gateway's word on a workspace viewer's input: view-only exactly while it drops what we would send. */
  private onAccess(role: WorkspaceRole, input: boolean): void {
    this.access = { role, input };
    if (!input && !this.viewOnly) {
      this.releaseInput(); // keys held while control is taken away must not stay down
      this.viewOnly = true;
      this.viewOnlyFromAccess = true;
    } else if (input && this.viewOnlyFromAccess) {
      this.viewOnly = false;
      this.viewOnlyFromAccess = false;
    }
  }

  /** Tries the WebRTC DataChannel beside the WebSocket the stream already runs on (webrtc-link.ts). */
  private startWebRtc(): void {
    const worker = this.worker;
    this.rtcWaitsForSettings = worker !== undefined && this.settingsLoading();
    if (!worker || this.rtcWaitsForSettings) return;
    if (this.transport === 'websocket' || (this.rtcLost && this.transport === 'auto')) return;
    this.rtcLink?.close();
    this.rtcLink = new WebRtcLink(worker.api, { preference: this.transport, iceServers: this.iceServers });
    void this.rtcLink.start();
  }

  /** A stream that ended while its session was paused comes back by itself once the session is active again. */
  private onSessions(value: SessionsState, previous: SessionsState | undefined): void {
    const now = value.sessions.find((s) => s.sessionId === this.sessionId)?.state;
    const before = previous?.sessions.find((s) => s.sessionId === this.sessionId)?.state;
    const ended =
      this.status.kind === 'closed' || this.status.kind === 'error' || this.status.kind === 'reconnecting';
    if (ended && now === 'active' && before !== undefined && before !== 'active') {
      this.attempt = 0;
      this.reconnect();
    }
  }

  /**
   * Whether the user's settings are given but not known yet. Settings that cannot be loaded (an error, offline
   * with nothing cached) do not hold the viewer back: it then goes by `transport` as it is.
   */
  private settingsLoading(): boolean {
    if (!this.preferences) return false;
    const value = this.prefs.value;
    if (!value) return true; // given, not subscribed yet (the next update subscribes)
    return value.preferences === null && (value.loading || (value.error === null && value.online));
  }

  /** Applies the settings that changed (all of them on the first value): each field follows the user's choice. */
  private onPreferences(value: PreferencesState, previous: PreferencesState | undefined): void {
    const now = value.preferences;
    if (now) this.applyPreferences(now, previous?.preferences ?? null);
    if (this.rtcWaitsForSettings && this.status.kind === 'connected' && !this.settingsLoading()) {
      this.startWebRtc();
    }
  }

  private applyPreferences(now: Preferences, before: Preferences | null): void {
    if (!before || before.streamQuality !== now.streamQuality) {
      this.quality = qualityForPreference(now.streamQuality);
    }
    if (!before || before.scaling !== now.scaling) {
      const scaling = scalingForPreference(now.scaling);
      // An observer may not resize the owner's desktop: fit instead.
      this.scaling = scaling === 'remote' && this.viewOnly ? 'fit' : scaling;
    }
    if (!before || before.keyboardLayout !== now.keyboardLayout) this.keyboardLayout = now.keyboardLayout;
    if (!before || before.streamTransport !== now.streamTransport) this.transport = now.streamTransport;
  }

  /** The keysym of a key event; a key the browser could not identify is guessed on the user's layout. */
  private keysymOf(event: KeyboardEvent): number | null {
    if (event.key === 'Unidentified' && event.code) {
      const guessed = layoutKeysym(this.keyboardLayout, event.code, event.shiftKey);
      if (guessed !== null) return guessed;
    }
    return keysymFromEvent(event);
  }

  private createCanvas(): HTMLCanvasElement {
    const canvas = document.createElement('canvas');
    canvas.tabIndex = 0;
    canvas.setAttribute('part', 'canvas');
    canvas.setAttribute('role', 'application');
    canvas.setAttribute('aria-roledescription', 'remote desktop');
    canvas.setAttribute('aria-describedby', 'keyboard-hint');
    return canvas;
  }

  private attachListeners(canvas: HTMLCanvasElement): void {
    if (this.listeners) return;
    this.listeners = new AbortController();
    const options = { signal: this.listeners.signal };
    canvas.addEventListener('keydown', (e) => this.onKeyDown(e), options);
    canvas.addEventListener('keyup', (e) => this.onKeyUp(e), options);
    canvas.addEventListener('blur', () => this.releaseInput(), options);
    canvas.addEventListener('focus', () => this.syncLocalClipboard(), options);
    canvas.addEventListener('paste', (e) => this.onPaste(e), options);
    canvas.addEventListener('compositionend', (e) => this.onCompositionEnd(e), options);
    // A hidden tab gets no key-up events: release everything rather than leave keys down on the desktop.
    document.addEventListener(
      'visibilitychange',
      () => {
        if (document.visibilityState === 'hidden') this.releaseInput();
      },
      options,
    );
    document.addEventListener('fullscreenchange', () => this.requestUpdate(), options);
    canvas.addEventListener('pointerdown', (e) => this.onPointer(e), options);
    canvas.addEventListener('pointermove', (e) => this.onPointer(e), options);
    canvas.addEventListener('pointerup', (e) => this.onPointer(e), options);
    canvas.addEventListener('pointercancel', () => this.releaseInput(), options);
    canvas.addEventListener('wheel', (e) => this.onWheel(e), { ...options, passive: false });
    canvas.addEventListener('contextmenu', (e) => e.preventDefault(), options);
  }

  private get connected(): boolean {
    return this.status.kind === 'connected' && this.worker !== undefined;
  }

  private send(message: ClientStreamMessage): void {
    if (!this.connected || this.viewOnly) return;
    this.worker?.api.send(message).catch(() => undefined);
  }

  private onKeyDown(event: KeyboardEvent): void {
    if (!this.connected || event.isComposing || this.viewOnly) return;
    if (isReleaseShortcut(event)) {
      event.preventDefault();
      this.renderRoot.querySelector<HTMLElement>('.toolbar button:not(:disabled)')?.focus();
      return;
    }
    const keysym = this.keysymOf(event);
    if (keysym === null) return;
    event.preventDefault();
    const id = event.code || event.key;
    const held = this.heldKeys.get(id);
    // The same physical key now means another keysym (a modifier changed under auto-repeat): release the old one.
    if (held !== undefined && held !== keysym) this.send({ t: 'key', keysym: held, down: false });
    this.heldKeys.set(id, keysym);
    this.send({ t: 'key', keysym, down: true });
  }

  private onKeyUp(event: KeyboardEvent): void {
    if (!this.connected) return;
    const id = event.code || event.key;
    const keysym = this.heldKeys.get(id) ?? this.keysymOf(event);
    if (keysym === null) return;
    event.preventDefault();
    this.heldKeys.delete(id);
    this.send({ t: 'key', keysym, down: false });
  }

  /** Key-up for every key still held and release of every button: nothing sticks when focus leaves. */
  private releaseInput(): void {
    for (const keysym of this.heldKeys.values()) this.send({ t: 'key', keysym, down: false });
    this.heldKeys.clear();
    if (this.buttons !== 0 && this.lastPointer.x >= 0) {
      this.buttons = 0;
      this.send({ t: 'pointer', x: this.lastPointer.x, y: this.lastPointer.y, buttons: 0 });
    }
    this.buttons = 0;
    this.wheel.reset();
  }

  private pointerPosition(event: MouseEvent): { x: number; y: number } | null {
    return mapToFramebuffer(
      event.clientX,
      event.clientY,
      this.canvas.getBoundingClientRect(),
      this.framebuffer,
    );
  }

  private onPointer(event: PointerEvent): void {
    if (!this.connected || this.viewOnly) return;
    if (event.type === 'pointerdown') {
      event.preventDefault();
      this.canvas.focus({ preventScroll: true });
      try {
        this.canvas.setPointerCapture(event.pointerId);
      } catch {
        // Synthetic or already-ended pointers cannot be captured; input still works without capture.
      }
    }
    const position = this.pointerPosition(event);
    if (!position) return;
    this.buttons = rfbButtons(event.buttons);
    const { x, y } = position;
    const last = this.lastPointer;
    if (last.x === x && last.y === y && last.buttons === this.buttons) return;
    this.lastPointer = { x, y, buttons: this.buttons };
    this.send({ t: 'pointer', x, y, buttons: this.buttons });
  }

  private onWheel(event: WheelEvent): void {
    if (!this.connected || this.viewOnly) return;
    event.preventDefault();
    const position = this.pointerPosition(event);
    if (!position) return;
    const { x, y } = position;
    for (const button of this.wheel.push(event, this.framebuffer)) {
      this.send({ t: 'pointer', x, y, buttons: this.buttons | button });
      this.send({ t: 'pointer', x, y, buttons: this.buttons });
    }
    this.lastPointer = { x, y, buttons: this.buttons };
  }

  private async runAction(action: 'pause' | 'resume' | 'terminate'): Promise<void> {
    const store = this.store;
    if (!store || this.busy) return;
    this.busy = true;
    this.actionError = null;
    try {
      await store[action](this.sessionId);
      if (action === 'terminate') {
        this.confirmingTerminate = false;
        this.teardown();
        this.emit('vsc-close-viewer', { sessionId: this.sessionId });
      }
    } catch (error) {
      this.actionError = toApiError(error);
    } finally {
      this.busy = false;
    }
  }

  private async askTerminate(): Promise<void> {
    this.confirmingTerminate = true;
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLElement>('[data-action="cancel-terminate"]')?.focus();
  }

  private async cancelTerminate(): Promise<void> {
    this.confirmingTerminate = false;
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLElement>('[data-action="terminate"]')?.focus();
  }

  private back(): void {
    this.emit('vsc-close-viewer', { sessionId: this.sessionId });
  }

  private statusText(): string {
    const id = shortId(this.sessionId);
    switch (this.status.kind) {
      case 'idle':
        return `Session ${id}: not connected.`;
      case 'connecting':
        return `Connecting to session ${id}…`;
      case 'connected':
        return `Connected to session ${id}, ${this.status.width} × ${this.status.height}.`;
      case 'closed': {
        const code = this.status.code;
        const reason =
          (code === StreamCloseCode.Removed ? CLOSE_REASONS[code] : this.status.reason) ||
          CLOSE_REASONS[code] ||
          'The stream was closed.';
        return `Disconnected from session ${id}: ${reason} (code ${this.status.code})`;
      }
      case 'error':
        return `Could not show session ${id}: ${this.status.message} (${this.status.code})`;
      case 'reconnecting':
        return `Connection to session ${id} lost (code ${this.status.code}); reconnecting in ${(this.status.inMs / 1000).toFixed(1)} s (attempt ${this.status.attempt} of ${this.status.of}).`;
    }
  }

  override render(): TemplateResult {
    const session = this.session;
    const state = session?.state;
    const fb = this.framebuffer;
    const aspect = fb.width > 0 && fb.height > 0 ? `${fb.width} / ${fb.height}` : '16 / 10';
    this.canvas.setAttribute('aria-label', `Desktop of session ${shortId(this.sessionId)}`);
    const ended =
      this.status.kind === 'closed' || this.status.kind === 'error' || this.status.kind === 'reconnecting';
    return html`
      <div class="toolbar" part="toolbar" role="group" aria-label="Session controls">
        ${this.embedded ? nothing : html`<button type="button" data-action="back" @click=${this.back}>← Back</button>`}
        <span class="title">
          Session <code>${shortId(this.sessionId)}</code>
          ${
            session
              ? html`<span class="tier">${session.tier}</span>
                  <span class="badge" data-tone=${stateTone(session.state)}
                    >${stateLabel(session.state)}</span
                  >`
              : nothing
          }
        </span>
        <span class="spacer"></span>
        ${this.renderViewControls()}
        ${this.store && (this.access === null || this.access.role === 'owner') ? this.renderActions(state) : nothing}
        ${
          ended
            ? html`<button type="button" data-action="reconnect" @click=${() => this.reconnect()}>
                Reconnect
              </button>`
            : nothing
        }
      </div>
      ${
        this.actionError
          ? html`<div class="alert" role="alert">
              ${this.actionError.message} <code>${this.actionError.code}</code>
            </div>`
          : nothing
      }
      <p class="status" part="status" role="status" aria-live="polite" data-status=${this.status.kind}>
        ${this.statusText()}
      </p>
      ${this.clipboardOpen ? this.renderClipboardPanel() : nothing}
      <div
        class="screen"
        part="screen"
        style="--fb-aspect: ${aspect}"
        data-status=${this.status.kind}
        data-scaling=${this.scaling}
      >
        ${this.canvas} ${this.renderOverlay()} ${this.showStats ? this.renderStats() : nothing}
      </div>
      <p
        id="keyboard-hint"
        class="hint"
        aria-live="polite"
        data-access=${this.access ? (this.access.input ? 'control' : 'view-only') : nothing}
      >
        ${
          this.viewOnly
            ? this.viewOnlyHint()
            : html`${
                this.access?.role === 'participant'
                  ? html`<strong>You have control of this desktop.</strong> `
                  : nothing
              }Click
              the desktop or focus it with Tab to type; every key goes to the desktop. Press Ctrl+Shift+F12 to
              move focus back to the session controls.`
        }
      </p>
    `;
  }

  private viewOnlyHint(): string {
    if (this.access?.role === 'observer')
      return 'View only: you are an observer in this workspace; your keyboard and mouse are not sent to the desktop.';
    if (this.access?.role === 'participant')
      return 'View only: the owner has not given you control; your keyboard and mouse are not sent until they do.';
    return 'View only: you are watching this desktop; your keyboard and mouse are not sent to it.';
  }

  private renderActions(state: Session['state'] | undefined): TemplateResult {
    if (this.confirmingTerminate) {
      return html`<span
        class="confirm"
        role="group"
        aria-label="Confirm termination"
        @keydown=${this.onConfirmKey}
      >
        <span>Terminate this session? Unsaved work is lost.</span>
        <button
          type="button"
          class="danger"
          data-action="confirm-terminate"
          ?disabled=${this.busy}
          @click=${() => this.runAction('terminate')}
        >
          Terminate
        </button>
        <button type="button" data-action="cancel-terminate" @click=${this.cancelTerminate}>Cancel</button>
      </span>`;
    }
    const canTerminate = state !== undefined && state !== 'terminated' && state !== 'terminating';
    return html`
      <button
        type="button"
        data-action="pause"
        ?disabled=${this.busy || state !== 'active'}
        @click=${() => this.runAction('pause')}
      >
        Pause
      </button>
      <button
        type="button"
        data-action="resume"
        ?disabled=${this.busy || (state !== 'paused' && state !== 'hibernated')}
        @click=${() => this.runAction('resume')}
      >
        Resume
      </button>
      <button
        type="button"
        class="danger"
        data-action="terminate"
        ?disabled=${this.busy || !canTerminate}
        @click=${this.askTerminate}
      >
        Terminate
      </button>
    `;
  }

  private renderViewControls(): TemplateResult {
    const levels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const setQuality = (patch: Partial<StreamQuality>): void => {
      this.quality = { ...this.quality, ...patch };
    };
    return html`
      <label class="control"
        >Scale
        <select
          data-control="scaling"
          .value=${this.scaling}
          @change=${(e: Event) => (this.scaling = (e.target as HTMLSelectElement).value as ViewerScaling)}
        >
          <option value="fit" ?selected=${this.scaling === 'fit'}>Fit</option>
          <option value="none" ?selected=${this.scaling === 'none'}>1:1</option>
          <option value="remote" ?selected=${this.scaling === 'remote'} ?disabled=${this.viewOnly}>
            Resize desktop
          </option>
        </select></label
      >
      <label class="control"
        >Quality
        <select
          data-control="jpeg"
          title="JPEG quality (0 smallest … 9 best)"
          @change=${(e: Event) => setQuality({ jpeg: Number((e.target as HTMLSelectElement).value) })}
        >
          ${levels.map((l) => html`<option value=${l} ?selected=${l === this.quality.jpeg}>${l}</option>`)}
        </select></label
      >
      <label class="control"
        >Compression
        <select
          data-control="compression"
          title="Compression level (0 fastest … 9 smallest)"
          @change=${(e: Event) => setQuality({ compression: Number((e.target as HTMLSelectElement).value) })}
        >
          ${levels.map((l) => html`<option value=${l} ?selected=${l === this.quality.compression}>${l}</option>`)}
        </select></label
      >
      <button
        type="button"
        data-action="clipboard"
        aria-pressed=${this.clipboardOpen ? 'true' : 'false'}
        @click=${() => (this.clipboardOpen = !this.clipboardOpen)}
      >
        Clipboard
      </button>
      <button
        type="button"
        data-action="stats"
        aria-pressed=${this.showStats ? 'true' : 'false'}
        @click=${() => (this.showStats = !this.showStats)}
      >
        Stats
      </button>
      <button type="button" data-action="fullscreen" @click=${() => void this.enterFullscreen()}>
        Fullscreen
      </button>
    `;
  }

  private renderClipboardPanel(): TemplateResult {
    return html`<div class="clipboard" part="clipboard" role="group" aria-label="Clipboard">
      <label for="clipboard-text">Desktop clipboard (edit and send, or copy from here)</label>
      <textarea id="clipboard-text" rows="3" .value=${this.remoteClipboard}></textarea>
      <button
        type="button"
        data-action="send-clipboard"
        ?disabled=${this.viewOnly || !this.connected}
        @click=${() => {
          const area = this.renderRoot.querySelector<HTMLTextAreaElement>('#clipboard-text');
          if (area) this.sendClipboard(area.value);
        }}
      >
        Send to desktop
      </button>
      ${this.clipboardNote ? html`<span class="note">${this.clipboardNote}</span>` : nothing}
    </div>`;
  }

  private renderStats(): TemplateResult {
    const s = this.liveStats;
    const kb = s ? (s.bandwidth / 1024).toFixed(1) : '–';
    return html`<dl class="stats" part="stats" aria-label="Stream statistics">
      <dt>fps</dt>
      <dd data-stat="fps">${s ? s.fps.toFixed(1) : '–'}</dd>
      <dt>latency</dt>
      <dd data-stat="latency">${s?.latencyMs != null ? `${s.latencyMs.toFixed(1)} ms` : '–'}</dd>
      <dt>bandwidth</dt>
      <dd data-stat="bandwidth">${kb} KiB/s</dd>
      <dt>decode</dt>
      <dd data-stat="decode">${s ? `${s.decodeMs.toFixed(2)} ms` : '–'}</dd>
      <dt>via</dt>
      <dd data-stat="transport">${s ? `${s.transport} v${s.version}` : '–'}</dd>
    </dl>`;
  }

  private onConfirmKey(event: KeyboardEvent): void {
    if (event.key === 'Escape') {
      event.preventDefault();
      void this.cancelTerminate();
    }
  }

  private renderOverlay(): TemplateResult | typeof nothing {
    switch (this.status.kind) {
      case 'connected': {
        const state = this.session?.state;
        if (state !== 'paused' && state !== 'pausing') return nothing;
        return html`<div class="overlay" data-overlay="paused">
          <span>${state === 'pausing' ? 'Pausing…' : 'Paused'}</span>
          <span>The desktop's memory is kept. Resume the session to continue.</span>
        </div>`;
      }
      case 'idle':
      case 'connecting':
        return html`<div class="overlay">
          ${this.launching ? renderLaunchSteps('connecting') : html`<span class="spinner" aria-hidden="true"></span>`}
          <span>Connecting…</span>
        </div>`;
      case 'reconnecting':
        return html`<div class="overlay" data-overlay="reconnecting">
          <span class="spinner" aria-hidden="true"></span>
          <span>Connection lost. Reconnecting (attempt ${this.status.attempt} of ${this.status.of})…</span>
          <span>
            <button type="button" data-action="reconnect-now" @click=${() => this.reconnect()}>
              Reconnect now
            </button>
            <button
              type="button"
              data-action="cancel-reconnect"
              @click=${() => {
                this.cancelReconnect();
                const code = this.status.kind === 'reconnecting' ? this.status.code : 1006;
                this.setStatus({ kind: 'closed', code, reason: 'Reconnection cancelled.' });
              }}
            >
              Stop
            </button>
          </span>
        </div>`;
      case 'closed':
      case 'error':
        return html`<div class="overlay">
          <span>${this.status.kind === 'error' ? 'Could not connect' : 'Disconnected'}</span>
          ${this.session?.state === 'paused' ? html`<span>The session is paused. Resume it to continue.</span>` : nothing}
          ${this.session?.state === 'hibernated' ? html`<span>The session is hibernated: its disk is kept, its memory is not. Resume it to start it again.</span>` : nothing}
          ${
            this.status.kind === 'closed' && this.status.code === StreamCloseCode.Removed
              ? html`<span data-overlay="removed">${CLOSE_REASONS[StreamCloseCode.Removed]}</span>`
              : nothing
          }
        </div>`;
    }
  }
}
