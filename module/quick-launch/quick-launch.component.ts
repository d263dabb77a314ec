import { html, nothing, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import { ERRORS } from '../../protocol/errors.ts';
import type { Session, SessionState, Tier } from '../../protocol/session.ts';
import { ApiError, isAbortError, toApiError, type ApiClient } from '../api/api-client.ts';
import type { OpenSessionDetail } from '../shared/events.ts';
import { formatCores, formatMemory, formatNexCoin, formatStorage } from '../shared/format.ts';
import { LAUNCH_STEPS, launchStepLabel, renderLaunchSteps, type LaunchStep } from '../shared/launch-steps.ts';
import { VscElement } from '../shared/vsc-element.ts';
import type { SessionsStore } from '../state/sessions-store.ts';
import { styles } from './quick-launch.styles.ts';

const GENESIS: ReadonlySet<SessionState> = new Set(['requested', 'provisioning']);

/** How often the list is refreshed while the create request is in flight, to show the server's real step. */
const GENESIS_POLL_MS = 1000;

/**
 * @summary Pick a resource tier and launch a desktop, following the launch step by step.
 *
 * Steps are the real ones: *Authenticating* until the host's `getToken()` resolves; *Billing check* while the
 * create request is in flight and the session is `requested`; *Provisioning* once the server reports
 * `provisioning`; *Connecting* when the session is active and the viewer takes over.
 *
 * @event vsc-open-session - The launched session is active: open it. `detail: { sessionId, launching: true }`.
 *
 * @csspart tiers - The group of tier cards.
 * @csspart tier - One tier card.
 * @csspart launch - The Launch button.
 * @csspart progress - The launch progress.
 *
 * @cssproperty --vsc-color-accent - Selected card and Launch button.
 * @cssproperty --vsc-color-surface-raised - Card background.
 */
export class VscQuickLaunch extends VscElement {
  static override styles = styles;

  @property({ attribute: false }) api?: ApiClient;
  @property({ attribute: false }) store?: SessionsStore;

  /** The selected tier id. */
  @property() selected = '';

  @state() private tiers: Tier[] | null = null;
  @state() private tiersError: ApiError | null = null;
  @state() private step: LaunchStep | null = null;
  @state() private launchError: ApiError | null = null;

  private tiersAborter: AbortController | undefined;
  private launchAborter: AbortController | undefined;
  private loadedFrom: ApiClient | undefined;

  /** The launch step in progress (or that failed), null when idle. */
  get currentStep(): LaunchStep | null {
    return this.step;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.tiersAborter?.abort();
    this.tiersAborter = undefined;
    this.launchAborter?.abort();
    this.launchAborter = undefined;
    this.loadedFrom = undefined;
    this.step = null;
  }

  protected override willUpdate(): void {
    if (this.isConnected && this.api && this.api !== this.loadedFrom) void this.loadTiers();
  }

  /** Loads (or reloads) the tier catalogue. */
  async loadTiers(): Promise<void> {
    const api = this.api;
    if (!api) return;
    this.loadedFrom = api;
    this.tiersAborter?.abort();
    const aborter = new AbortController();
    this.tiersAborter = aborter;
    this.tiersError = null;
    this.tiers = null;
    try {
      const tiers = await api.listTiers({ signal: aborter.signal });
      if (aborter.signal.aborted) return;
      this.tiers = tiers;
      if (this.selected && !tiers.some((t) => t.id === this.selected)) this.selected = '';
    } catch (error) {
      if (isAbortError(error) || aborter.signal.aborted) return;
      this.tiersError = toApiError(error);
    }
  }

  /** Launches a session of the selected tier. Resolves when the launch has finished or failed. */
  async launch(): Promise<void> {
    const { api, store, selected: tier } = this;
    if (!api || !store || !tier || this.step) return;
    const aborter = new AbortController();
    this.launchAborter = aborter;
    const signal = aborter.signal;
    this.launchError = null;
    let stopWatch: () => void = () => undefined;
    try {
      this.step = 'authenticating';
      await api.token();
      signal.throwIfAborted();

      this.step = 'billing';
      stopWatch = this.watchGenesis(store, tier, signal);
      let session: Session = await store.create(tier, { signal });
      stopWatch();
      if (GENESIS.has(session.state)) {
        // A server that answers before the desktop is up (e.g. the Kubernetes runtime): wait for it here.
        this.step = 'provisioning';
        session = await store.waitForSession(session.sessionId, (s) => !GENESIS.has(s.state), { signal });
      }
      if (session.state !== 'active') {
        this.step = 'provisioning';
        throw new ApiError(
          'RUNTIME_FAILED',
          0,
          session.failureReason
            ? `The desktop could not be started: ${session.failureReason}`
            : ERRORS.RUNTIME_FAILED.message,
        );
      }
      this.step = 'connecting';
      this.emit<OpenSessionDetail>('vsc-open-session', { sessionId: session.sessionId, launching: true });
    } catch (error) {
      if (isAbortError(error) || signal.aborted) return;
      const apiError = toApiError(error);
      if (apiError.code === 'RUNTIME_FAILED') this.step = 'provisioning';
      this.launchError = apiError;
    } finally {
      stopWatch();
      if (this.launchAborter === aborter) this.launchAborter = undefined;
    }
  }

  /**
   * While the create request is in flight, refreshes the list every second and moves the progress to
   * Provisioning when the new session shows up in that state. Returns the function that stops watching.
   */
  private watchGenesis(store: SessionsStore, tier: string, signal: AbortSignal): () => void {
    const known = new Set(store.value.sessions.map((s) => s.sessionId));
    let stopped = false;
    const tick = async (): Promise<void> => {
      await store.refresh();
      if (stopped || signal.aborted) return;
      const fresh = store.value.sessions.find((s) => !known.has(s.sessionId) && s.tier === tier);
      if (fresh?.state === 'provisioning' && this.step === 'billing') this.step = 'provisioning';
    };
    const timer = setInterval(() => void tick(), GENESIS_POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  private dismissError(): void {
    this.launchError = null;
    this.step = null;
  }

  private retry(): void {
    this.dismissError();
    void this.launch();
  }

  private onSelect(event: Event): void {
    this.selected = (event.target as HTMLInputElement).value;
  }

  override render(): TemplateResult {
    const busy = this.step !== null && this.launchError === null;
    return html`
      <h2 id="heading">Quick Launch</h2>
      <p class="intro">
        Choose the resources for your virtual PC. You are billed in NexCoin for each hour it is active.
      </p>
      ${this.renderTiers(busy)}
      <div class="actions">
        <button
          type="button"
          class="primary"
          part="launch"
          data-action="launch"
          ?disabled=${!this.selected || busy || !this.tiers}
          aria-describedby=${this.selected ? nothing : 'launch-hint'}
          @click=${() => this.launch()}
        >
          Launch
        </button>
        ${this.selected ? nothing : html`<span id="launch-hint" class="hint">Select a tier to launch.</span>`}
      </div>
      ${this.renderProgress()}
    `;
  }

  private renderTiers(busy: boolean): TemplateResult {
    if (this.tiersError) {
      return html`<div class="alert" role="alert">
        Could not load the resource tiers: ${this.tiersError.message} <code>${this.tiersError.code}</code>
        <button type="button" data-action="retry-tiers" @click=${() => this.loadTiers()}>Retry</button>
      </div>`;
    }
    if (!this.tiers) return html`<p role="status" class="loading">Loading resource tiers…</p>`;
    if (this.tiers.length === 0) return html`<p role="status">No resource tiers are available.</p>`;
    return html`<fieldset part="tiers" ?disabled=${busy}>
      <legend>Resource tier</legend>
      <div class="tiers">${this.tiers.map((tier) => this.renderTier(tier))}</div>
    </fieldset>`;
  }

  private renderTier(tier: Tier): TemplateResult {
    const { resources } = tier;
    const cores = formatCores(resources.cpuMillicores, this.locale);
    const id = `tier-${tier.id}`;
    return html`<div
      class="tier"
      part="tier"
      data-tier=${tier.id}
      ?data-selected=${this.selected === tier.id}
    >
      <input
        type="radio"
        name="tier"
        id=${id}
        .value=${tier.id}
        .checked=${this.selected === tier.id}
        aria-describedby="${id}-specs"
        @change=${this.onSelect}
      />
      <label for=${id}>${tier.label}</label>
      <ul id="${id}-specs" class="specs">
        <li><span class="key">CPU</span> ${cores} ${resources.cpuMillicores === 1000 ? 'core' : 'cores'}</li>
        <li><span class="key">Memory</span> ${formatMemory(resources.memoryMiB, this.locale)}</li>
        <li><span class="key">Storage</span> ${formatStorage(resources.storageGiB, this.locale)}</li>
        <li><span class="key">GPU</span> ${resources.gpus > 0 ? resources.gpus : 'None'}</li>
        <li class="price">
          <span class="key">Price</span> ${formatNexCoin(tier.microNexCoinPerHour, this.locale)} NexCoin/hour
        </li>
      </ul>
    </div>`;
  }

  private renderProgress(): TemplateResult | typeof nothing {
    if (!this.step) return nothing;
    const failed = this.launchError !== null;
    const index = LAUNCH_STEPS.findIndex((s) => s.id === this.step) + 1;
    const label = launchStepLabel(this.step);
    return html`<section class="progress" part="progress" aria-labelledby="progress-heading">
      <h3 id="progress-heading">Launching ${this.tierLabel()}</h3>
      ${renderLaunchSteps(this.step, failed)}
      <p class="visually-hidden" role="status" aria-live="polite">
        ${failed ? `Launch failed at ${label}.` : `Step ${index} of ${LAUNCH_STEPS.length}: ${label}.`}
      </p>
      ${
        this.launchError
          ? html`<div class="alert" role="alert" data-code=${this.launchError.code}>
              <strong>Launch failed:</strong> ${this.launchError.message}
              <code>${this.launchError.code}</code>
              <div class="alert-actions">
                <button type="button" data-action="retry-launch" @click=${this.retry}>Try again</button>
                <button type="button" data-action="dismiss" @click=${this.dismissError}>Dismiss</button>
              </div>
            </div>`
          : nothing
      }
    </section>`;
  }

  private tierLabel(): string {
    return this.tiers?.find((t) => t.id === this.selected)?.label ?? this.selected;
  }
}
