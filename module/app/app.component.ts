import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import type { ApiClient } from '../api/api-client.ts';
import type { LiveEvents } from '../api/live-events.ts';
import type { DecoderWorkerFactory } from '../viewer/viewer.component.ts';
import {
  SESSION_CHANGED_EVENT,
  type CloseViewerDetail,
  type NavigateDetail,
  type OpenSessionDetail,
  type SessionChangedDetail,
} from '../shared/events.ts';
import { shortId, stateLabel } from '../shared/format.ts';
import { VscElement } from '../shared/vsc-element.ts';
import type { PreferencesStore } from '../state/preferences-store.ts';
import { diffSessions, type SessionsState, type SessionsStore } from '../state/sessions-store.ts';
import { StoreController } from '../state/store-controller.ts';
import { loadPane } from './panes.ts';
import { DEFAULT_BASE_PATH, parseRoute, routePath, type PaneView, type Route } from './routes.ts';
import { styles } from './app.styles.ts';

const TABS: readonly { id: PaneView; label: string }[] = [
  { id: 'launch', label: 'Quick Launch' },
  { id: 'sessions', label: 'Active Sessions' },
  { id: 'resources', label: 'Resource Monitor' },
  { id: 'settings', label: 'Settings' },
];

const TAGS: Record<Route['view'], string> = {
  launch: 'vsc-quick-launch',
  sessions: 'vsc-active-sessions',
  viewer: 'vsc-viewer',
  resources: 'vsc-resource-monitor',
  settings: 'vsc-settings',
};

/**
 * @tagname vsc-app
 * @summary v-SuperCore's root: the "Virtual Super PC" header, the Quick Launch / Active Sessions / Resource
 * Monitor / Settings tabs and the viewer, routed by `location.pathname` under `base-path` (the shell's URL and
 * back button drive it).
 *
 * Each pane's code is loaded when its route is first shown. While connected the app observes the sessions store
 * (kept fresh by the server's pushes), announces every session state change in a polite live region and on the
 * host's `eventBus` as `v-supercore:session-changed`. Removing the element releases everything it and its panes
 * hold. `updateComplete` also waits for the pane on screen to be loaded and rendered.
 *
 * @event v-supercore:session-changed - Dispatched on the host's `eventBus` (not on the element) for every
 * session state change: `detail: { module, sessionId, state, previousState }`.
 *
 * @csspart header - The title bar.
 * @csspart tabs - The tab list.
 * @csspart panel - The tab panel.
 *
 * @cssproperty --vsc-color-bg - Page background of the module.
 * @cssproperty --vsc-color-surface - Raised areas (toolbars, progress).
 * @cssproperty --vsc-color-surface-raised - Cards and buttons.
 * @cssproperty --vsc-color-text - Text.
 * @cssproperty --vsc-color-text-muted - Secondary text.
 * @cssproperty --vsc-color-border - Borders and table rules.
 * @cssproperty --vsc-color-accent - Primary actions, selection, the active tab, chart lines.
 * @cssproperty --vsc-color-on-accent - Text on the accent colour.
 * @cssproperty --vsc-color-accent-soft - Selected cards, chart areas.
 * @cssproperty --vsc-color-danger - Terminate and errors.
 * @cssproperty --vsc-color-success - Active state, done steps.
 * @cssproperty --vsc-color-warning - Transitional states, offline notices.
 * @cssproperty --vsc-color-focus - Focus ring.
 * @cssproperty --vsc-radius - Corner radius.
 * @cssproperty --vsc-font-family - Text font.
 * @cssproperty --vsc-font-mono - Session ids and codes.
 */
export class VscApp extends VscElement {
  static override styles = styles;

  @property({ attribute: false }) api?: ApiClient;
  @property({ attribute: false }) store?: SessionsStore;
  /** The user's live event stream (Resource Monitor's samples). */
  @property({ attribute: false }) live?: LiveEvents;
  /** The user's settings (Settings pane; Quick Launch preselects the default tier). */
  @property({ attribute: false }) preferences?: PreferencesStore;
  /** The host's event bus; session changes are dispatched on it. */
  @property({ attribute: false }) eventBus?: EventTarget;
  /** Starts the viewer's decoder worker; the real one by default (tests and embedders may pass their own). */
  @property({ attribute: false }) workerFactory?: DecoderWorkerFactory;
  /** Path the module's routes live under. */
  @property({ attribute: 'base-path' }) basePath = DEFAULT_BASE_PATH;

  @state() private route: Route = { view: 'launch' };
  /**
   * The route whose pane the panel shows. A tab switch first paints the tab bar (the answer to the click), and
   * swaps panes in the task after that frame: building a pane of 50 rows or four charts took the click's next
   * paint 45-65 ms away (INP); now the pane follows one frame later. The same when the module is mounted by a
   * click in the shell (the panel is empty for that frame); on a page load nobody waits on a click, and the pane
   * comes in the first render (LCP).
   */
  @state() private shown: Route | null = null;
  @state() private announcement = '';
  @state() private launchingId: string | null = null;
  @state() private paneError: { view: Route['view']; message: string } | null = null;

  private paneLoad: Promise<unknown> | undefined;
  private swap: { done: Promise<void>; cancel(): void } | undefined;

  private readonly sessions = new StoreController<SessionsState>(
    this,
    () => this.store?.state$,
    (value, previous) => this.onSessions(value, previous),
  );

  private readonly onPopState = (): void => {
    const route = parseRoute(location.pathname, this.basePath);
    // single-spa answers our own pushState with a popstate too: the route is the one already being shown.
    if (routePath(route, this.basePath) === routePath(this.route, this.basePath)) return;
    this.showNow(route);
  };

  /** The route on screen. */
  get currentRoute(): Route {
    return this.route;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    const route = parseRoute(location.pathname, this.basePath);
    if (navigator.userActivation?.isActive) {
      this.route = route;
      this.showAfterPaint();
    } else {
      this.showNow(route);
    }
    window.addEventListener('popstate', this.onPopState);
    this.addEventListener('vsc-open-session', this.onOpenSession);
    this.addEventListener('vsc-close-viewer', this.onCloseViewer);
    this.addEventListener('vsc-navigate', this.onNavigate);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.swap?.cancel();
    window.removeEventListener('popstate', this.onPopState);
    this.removeEventListener('vsc-open-session', this.onOpenSession);
    this.removeEventListener('vsc-close-viewer', this.onCloseViewer);
    this.removeEventListener('vsc-navigate', this.onNavigate);
  }

  protected override willUpdate(changed: PropertyValues): void {
    if (changed.has('basePath') && changed.get('basePath') !== undefined) {
      this.showNow(parseRoute(location.pathname, this.basePath));
    }
    if (changed.has('route') || !this.paneLoad) this.ensurePane(this.route.view);
  }

  protected override async getUpdateComplete(): Promise<boolean> {
    // A tab switch's pane comes a frame after the tab bar.
    while (this.swap) await this.swap.done;
    let result = await super.getUpdateComplete();
    // The pane's code may still be on its way: wait for it, then for the pane's own first render.
    while (this.paneLoad) {
      const load = this.paneLoad;
      await load.catch(() => undefined);
      result = (await super.getUpdateComplete()) && result;
      const pane = this.panel()?.firstElementChild as { updateComplete?: Promise<unknown> } | null;
      if (pane?.updateComplete) await pane.updateComplete;
      if (this.paneLoad === load) break;
    }
    return result;
  }

  private ensurePane(view: Route['view']): void {
    const load = loadPane(view);
    this.paneLoad = load;
    if (customElements.get(TAGS[view])) return;
    load.then(
      () => {
        if (this.paneError?.view === view) this.paneError = null;
        this.requestUpdate();
      },
      (error: unknown) => {
        this.paneError = { view, message: error instanceof Error ? error.message : String(error) };
      },
    );
  }

  /** Shows a route and records it in the history (pushState), unless it is already the current URL. */
  navigate(route: Route, options: { focus?: boolean } = {}): void {
    const path = routePath(route, this.basePath);
    if (location.pathname !== path) history.pushState(history.state, '', path);
    this.route = route;
    this.showAfterPaint();
    if (route.view !== 'viewer') this.launchingId = null;
    if (options.focus) void this.updateComplete.then(() => this.panel()?.focus({ preventScroll: true }));
  }

  /** Shows `route` at once, tab bar and pane together (first render, history navigation). */
  private showNow(route: Route): void {
    this.swap?.cancel();
    this.route = route;
    this.shown = route;
  }

  /** Shows the current route's pane in the task after the next frame (at the latest after 100 ms, if hidden). */
  private showAfterPaint(): void {
    this.swap?.cancel();
    let frame = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settle = (): void => undefined;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const swap = {
      done,
      cancel: () => {
        cancelAnimationFrame(frame);
        clearTimeout(timer);
        clearTimeout(fallback);
        if (this.swap === swap) this.swap = undefined;
        settle();
      },
    };
    const apply = (): void => {
      swap.cancel();
      this.shown = this.route;
    };
    // Two frames: the first one (the new tab) must be presented before the pane is built.
    frame = requestAnimationFrame(
      () => (frame = requestAnimationFrame(() => (timer = setTimeout(apply, 0)))),
    );
    const fallback = setTimeout(apply, 100);
    this.swap = swap;
  }

  private readonly onOpenSession = (event: CustomEvent<OpenSessionDetail>): void => {
    this.launchingId = event.detail.launching ? event.detail.sessionId : null;
    this.navigate({ view: 'viewer', sessionId: event.detail.sessionId });
  };

  private readonly onCloseViewer = (_event: CustomEvent<CloseViewerDetail>): void => {
    this.navigate({ view: 'sessions' }, { focus: true });
  };

  private readonly onNavigate = (event: CustomEvent<NavigateDetail>): void => {
    this.navigate({ view: event.detail.view }, { focus: true });
  };

  private onSessions(value: SessionsState, previous: SessionsState | undefined): void {
    // The first listing is the starting point, not a change.
    if (!previous || previous.updatedAt === null) return;
    const changes = diffSessions(previous.sessions, value.sessions);
    if (changes.length === 0) return;
    for (const change of changes) {
      const detail: SessionChangedDetail = {
        module: 'v-supercore',
        sessionId: change.sessionId,
        state: change.state,
        previousState: change.previousState,
      };
      this.eventBus?.dispatchEvent(new CustomEvent(SESSION_CHANGED_EVENT, { detail }));
    }
    this.announcement = changes
      .map((c) => `Session ${shortId(c.sessionId)} is now ${stateLabel(c.state).toLowerCase()}.`)
      .join(' ');
  }

  private panel(): HTMLElement | null {
    return this.renderRoot.querySelector<HTMLElement>('[role="tabpanel"]');
  }

  private get selectedTab(): PaneView {
    return this.route.view === 'viewer' ? 'sessions' : this.route.view;
  }

  private onTabKeydown(event: KeyboardEvent): void {
    const index = TABS.findIndex((t) => t.id === this.selectedTab);
    let next: number;
    switch (event.key) {
      case 'ArrowRight':
        next = (index + 1) % TABS.length;
        break;
      case 'ArrowLeft':
        next = (index - 1 + TABS.length) % TABS.length;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = TABS.length - 1;
        break;
      default:
        return;
    }
    event.preventDefault();
    const tab = TABS[next];
    if (!tab) return;
    this.navigate({ view: tab.id });
    void this.updateComplete.then(() =>
      this.renderRoot.querySelector<HTMLElement>(`#tab-${tab.id}`)?.focus(),
    );
  }

  private selectTab(tab: PaneView): void {
    if (this.route.view === tab) return;
    this.navigate({ view: tab });
  }

  override render(): TemplateResult {
    const selected = this.selectedTab;
    return html`
      <div class="header" part="header">
        <h1>Virtual Super PC</h1>
        <span class="module">v-SuperCore · module 18</span>
      </div>
      <div role="tablist" part="tabs" aria-label="Virtual Super PC" @keydown=${this.onTabKeydown}>
        ${TABS.map(
          (tab) =>
            html`<button
              type="button"
              role="tab"
              id="tab-${tab.id}"
              data-tab=${tab.id}
              aria-selected=${tab.id === selected ? 'true' : 'false'}
              aria-controls="panel"
              tabindex=${tab.id === selected ? 0 : -1}
              @click=${() => this.selectTab(tab.id)}
            >
              ${tab.label}
            </button>`,
        )}
      </div>
      <section role="tabpanel" id="panel" part="panel" aria-labelledby="tab-${selected}" tabindex="-1">
        ${this.renderView()}
      </section>
      <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">
        ${this.announcement}
      </div>
    `;
  }

  private renderView(): TemplateResult | typeof nothing {
    const { api, store, theme, locale } = this;
    if (!this.shown) return nothing;
    const view = this.shown.view;
    if (this.paneError?.view === view) {
      return html`<div class="alert" role="alert">
        This part of v-SuperCore could not be loaded: ${this.paneError.message}
        <button type="button" data-action="retry-pane" @click=${() => this.retryPane(view)}>Retry</button>
      </div>`;
    }
    if (!customElements.get(TAGS[view])) return html`<p class="loading" role="status">Loading…</p>`;
    switch (this.shown.view) {
      case 'launch':
        return html`<vsc-quick-launch
          .api=${api}
          .store=${store}
          .preferences=${this.preferences}
          theme=${theme}
          locale=${locale}
        ></vsc-quick-launch>`;
      case 'sessions':
        return html`<vsc-active-sessions
          .store=${store}
          .api=${api}
          .live=${this.live}
          theme=${theme}
          locale=${locale}
        ></vsc-active-sessions>`;
      case 'resources':
        return html`<vsc-resource-monitor
          .api=${api}
          .store=${store}
          .live=${this.live}
          theme=${theme}
          locale=${locale}
        ></vsc-resource-monitor>`;
      case 'settings':
        return html`<vsc-settings
          .preferences=${this.preferences}
          theme=${theme}
          locale=${locale}
        ></vsc-settings>`;
      case 'viewer':
        return html`<vsc-viewer
          session-id=${this.shown.sessionId}
          .api=${api}
          .store=${store}
          .workerFactory=${this.workerFactory}
          .preferences=${this.preferences}
          theme=${theme}
          locale=${locale}
          ?launching=${this.launchingId === this.shown.sessionId}
        ></vsc-viewer>`;
    }
  }

  private retryPane(view: Route['view']): void {
    this.paneError = null;
    this.ensurePane(view);
  }
}
