import { html, nothing, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import type { Session, SessionState, Tier } from '../../protocol/session.ts';
import { ApiError, isAbortError, toApiError, type ApiClient } from '../api/api-client.ts';
import type { NavigateDetail, OpenSessionDetail } from '../shared/events.ts';
import { formatCores, formatMemory, formatNexCoin, formatStorage } from '../shared/format.ts';
import { LAUNCH_STEPS, launchStepLabel, renderLaunchSteps, type LaunchStep } from '../shared/launch-steps.ts';
import { VscElement } from '../shared/vsc-element.ts';
import type { PreferencesState, PreferencesStore } from '../state/preferences-store.ts';
import type { SessionsStore } from '../state/sessions-store.ts';
import { StoreController } from '../state/store-controller.ts';
import { styles } from './quick-launch.styles.ts';

const GENESIS: ReadonlySet<SessionState> = new Set(['requested', 'provisioning']);

/** How often the list is refreshed while the create request is in flight, when the server is not pushing. */
const GENESIS_POLL_MS = 1000;

/** The desktop templates a session can start from (the runtime has one so far). */
export const TEMPLATES = [{ id: 'desktop', label: 'Desktop (openbox + terminal)' }] as const;

type ErrorAction = 'sessions' | 'tiers';

/**
 * What a failed launch means for the user and what they can do, for the codes that have a remedy. Anything else
 * shows the server's own sentence.
 */
function launchErrorText(error: ApiError, tier: string): { text: string; action?: ErrorAction } {
  switch (error.code) {
    case 'QUOTA_EXCEEDED':
      return {
        text:
          `You have reached your limit of running desktops${quotaDetail(error.details)}. Pause or terminate ` +
          `one in Active Sessions, then launch again.`,
        action: 'sessions',
      };
    case 'BALANCE_TOO_LOW':
      return {
        text:
          `Your NexCoin balance is too low to start a ${tier} desktop. Top up your NexCoin wallet, or choose a ` +
          `smaller tier.`,
        action: 'tiers',
      };
    case 'TIER_NOT_ALLOWED':
      return {
        text: `Your subscription does not include the ${tier} tier. Choose another tier, or upgrade your subscription.`,
        action: 'tiers',
      };
    case 'RUNTIME_FAILED':
      return { text: error.message || 'The desktop could not be started.' };
    default:
      return { text: error.message };
  }
}

/** What the caller pays per hour while Active: their own (discounted) rate when the server gave one. */
export function effectiveRate(tier: Tier): number {
  return tier.yourPrice?.microNexCoinPerHour ?? tier.microNexCoinPerHour;
}

/** "Founding-tenant price" or "Your organisation's price", with the discount ("−20 %"). */
function priceLabel(price: NonNullable<Tier['yourPrice']>, locale: string | undefined): string {
  const percent = new Intl.NumberFormat(locale || undefined, { maximumFractionDigits: 2 }).format(
    price.discountBasisPoints / 100,
  );
  const who = price.reason === 'founding' ? 'Founding-tenant price' : "Your organisation's price";
  return `${who} (−${percent} %)`;
}

function quotaDetail(details: unknown): string {
  if (typeof details !== 'object' || details === null) return '';
  const { limit, current } = details as { limit?: unknown; current?: unknown };
  return typeof limit === 'number' && typeof current === 'number' ? ` (${current} of ${limit} in use)` : '';
}

/**
 * @tagname vsc-quick-launch
 * @summary Pick a resource tier and a template, see the estimated cost, and launch a desktop, following the launch
 * step by step.
 *
 * Tier cards show CPU, memory, storage, GPU, the NexCoin price per hour and whether the user's subscription
 * includes the tier (tiers it does not include cannot be chosen). Where the server gives the user their own
 * rate (`yourPrice`: a founding tenant's discount), the card shows the list price struck through and the user's
 * price with its label. The estimate is the user's hourly rate × the hours chosen, in integer micro-NexCoin.
 * The user's default tier (Settings) is preselected.
 *
 * Steps are the real ones: *Authenticating* until the host's `getToken()` resolves; *Billing check* while the
 * create request is in flight and the session is `requested`; *Provisioning* once the server reports
 * `provisioning` (pushed by the server, or polled while the live stream is down); *Connecting* when the session
 * is active and the viewer takes over. A failure names its step and says what to do (quota reached, balance too
 * low, tier not in the subscription).
 *
 * @event vsc-open-session - The launched session is active: open it. `detail: { sessionId, launching: true }`.
 * @event vsc-navigate - "Open Active Sessions" after QUOTA_EXCEEDED. `detail: { view: 'sessions' }`.
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
  /** The user's settings: their default tier is preselected. Optional. */
  @property({ attribute: false }) preferences?: PreferencesStore;

  /** The selected tier id. */
  @property() selected = '';
  /** The template the desktop starts from. */
  @property() template: string = TEMPLATES[0].id;
  /** Hours the cost estimate is for (1 to the tier's maximum session length). */
  @property({ type: Number }) hours = 1;

  @state() private tiers: Tier[] | null = null;
  @state() private tiersError: ApiError | null = null;
  @state() private step: LaunchStep | null = null;
  @state() private launchError: ApiError | null = null;

  private tiersAborter: AbortController | undefined;
  private launchAborter: AbortController | undefined;
  private loadedFrom: ApiClient | undefined;
  /** The user chose a tier (or the default was applied): the default no longer overrides. */
  private chosen = false;

  private readonly prefs = new StoreController<PreferencesState>(
    this,
    () => this.preferences?.state$,
    () => this.applyDefaultTier(),
  );

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
    if (this.selected) this.chosen = true;
    const max = this.maxHours();
    if (this.hours > max) this.hours = max;
    if (!(this.hours >= 1)) this.hours = 1;
  }

  /** Preselects the user's default tier once, if nothing is selected and the tier can be launched. */
  private applyDefaultTier(): void {
    const tier = this.prefs.value?.preferences?.defaultTier;
    if (this.chosen || this.selected || !tier || !this.tiers) return;
    if (this.tiers.some((t) => t.id === tier && t.allowed !== false)) {
      this.selected = tier;
      this.chosen = true;
    }
  }

  private maxHours(): number {
    const tier = this.tiers?.find((t) => t.id === this.selected);
    return tier ? Math.max(1, Math.floor(tier.maxSessionMinutes / 60)) : 24;
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
      this.applyDefaultTier();
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
            : 'The desktop could not be started.',
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
    const check = (): void => {
      if (stopped || signal.aborted) return;
      const fresh = store.value.sessions.find((s) => !known.has(s.sessionId) && s.tier === tier);
      if (fresh?.state === 'provisioning' && this.step === 'billing') this.step = 'provisioning';
    };
    if (store.value.live) {
      // The server pushes the new session's states: no polling.
      const subscription = store.state$.subscribe(check);
      return () => {
        stopped = true;
        subscription.unsubscribe();
      };
    }
    const tick = async (): Promise<void> => {
      await store.refresh();
      check();
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
    this.chosen = true;
    this.selected = (event.target as HTMLInputElement).value;
  }

  private onHours(event: Event): void {
    const input = event.target as HTMLInputElement;
    const value = Math.round(Number(input.value));
    this.hours = Math.min(this.maxHours(), Math.max(1, Number.isFinite(value) ? value : 1));
    input.value = String(this.hours);
  }

  private errorAction(action: ErrorAction): void {
    if (action === 'sessions') {
      this.emit<NavigateDetail>('vsc-navigate', { view: 'sessions' });
      return;
    }
    this.dismissError();
    void this.updateComplete.then(() =>
      this.renderRoot
        .querySelector<HTMLInputElement>('input[name="tier"]:checked, input[name="tier"]')
        ?.focus(),
    );
  }

  override render(): TemplateResult {
    const busy = this.step !== null && this.launchError === null;
    return html`
      <h2 id="heading">Quick Launch</h2>
      <p class="intro">
        Choose the resources for your virtual PC. You are billed in NexCoin for each hour it is active.
      </p>
      ${this.renderTiers(busy)} ${this.renderTemplates(busy)} ${this.renderEstimate(busy)}
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

  private renderTemplates(busy: boolean): TemplateResult | typeof nothing {
    if (!this.tiers || this.tiers.length === 0) return nothing;
    return html`<fieldset class="templates" ?disabled=${busy}>
      <legend>Template</legend>
      ${TEMPLATES.map(
        (t) =>
          html`<label class="template"
            ><input
              type="radio"
              name="template"
              .value=${t.id}
              .checked=${this.template === t.id}
              @change=${(e: Event) => (this.template = (e.target as HTMLInputElement).value)}
            />
            ${t.label}</label
          >`,
      )}
    </fieldset>`;
  }

  private renderEstimate(busy: boolean): TemplateResult | typeof nothing {
    const tier = this.tiers?.find((t) => t.id === this.selected);
    if (!tier) return nothing;
    const hourly = effectiveRate(tier);
    const total = hourly * this.hours;
    const rate = formatNexCoin(hourly, this.locale);
    return html`<div class="estimate">
      <label for="hours">Hours</label>
      <input
        id="hours"
        type="number"
        inputmode="numeric"
        min="1"
        max=${this.maxHours()}
        step="1"
        .value=${String(this.hours)}
        ?disabled=${busy}
        aria-describedby="estimate"
        @change=${this.onHours}
      />
      <p id="estimate" data-micro-nexcoin=${total} aria-live="polite">
        Estimated cost: <strong>${formatNexCoin(total, this.locale)} NexCoin</strong> for ${this.hours}
        ${this.hours === 1 ? 'hour' : 'hours'} of ${tier.label} (${rate}
        NexCoin/hour${tier.yourPrice ? `, ${priceLabel(tier.yourPrice, this.locale).toLowerCase()}` : ''};
        paused time is billed at the storage rate).
      </p>
    </div>`;
  }

  private renderTier(tier: Tier): TemplateResult {
    const { resources } = tier;
    const cores = formatCores(resources.cpuMillicores, this.locale);
    const id = `tier-${tier.id}`;
    const allowed = tier.allowed !== false;
    return html`<div
      class="tier"
      part="tier"
      data-tier=${tier.id}
      ?data-selected=${this.selected === tier.id}
      ?data-unavailable=${!allowed}
    >
      <input
        type="radio"
        name="tier"
        id=${id}
        .value=${tier.id}
        .checked=${this.selected === tier.id}
        ?disabled=${!allowed}
        aria-describedby="${id}-specs"
        @change=${this.onSelect}
      />
      <label for=${id}>${tier.label}</label>
      <ul id="${id}-specs" class="specs">
        <li><span class="key">CPU</span> ${cores} ${resources.cpuMillicores === 1000 ? 'core' : 'cores'}</li>
        <li><span class="key">Memory</span> ${formatMemory(resources.memoryMiB, this.locale)}</li>
        <li><span class="key">Storage</span> ${formatStorage(resources.storageGiB, this.locale)}</li>
        <li><span class="key">GPU</span> ${resources.gpus > 0 ? resources.gpus : 'None'}</li>
        ${this.renderPrice(tier)}
        <li class="plan" data-allowed=${allowed ? 'true' : 'false'}>
          ${allowed ? 'Included in your subscription' : `Needs the ${tier.minimumSubscription} subscription`}
        </li>
      </ul>
    </div>`;
  }

  private renderPrice(tier: Tier): TemplateResult {
    const list = `${formatNexCoin(tier.microNexCoinPerHour, this.locale)} NexCoin/hour`;
    const own = tier.yourPrice;
    if (!own) {
      return html`<li class="price" data-micro-nexcoin=${tier.microNexCoinPerHour}>
        <span class="key">Price</span> ${list}
      </li>`;
    }
    return html`<li class="price" data-micro-nexcoin=${own.microNexCoinPerHour} data-price=${own.reason}>
        <span class="key">Price</span>
        <s class="list-price" data-list-price=${tier.microNexCoinPerHour}
          ><span class="visually-hidden">List price </span>${list}</s
        >
        <span class="your-price">${formatNexCoin(own.microNexCoinPerHour, this.locale)} NexCoin/hour</span>
      </li>
      <li class="price-label" data-price-label=${own.reason}>${priceLabel(own, this.locale)}</li>`;
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
      ${this.launchError ? this.renderLaunchError(this.launchError) : nothing}
    </section>`;
  }

  private renderLaunchError(error: ApiError): TemplateResult {
    const { text, action } = launchErrorText(error, this.tierLabel());
    return html`<div class="alert" role="alert" data-code=${error.code}>
      <strong>Launch failed:</strong> ${text}
      <code>${error.code}</code>
      <div class="alert-actions">
        ${
          action === 'sessions'
            ? html`<button
                type="button"
                class="primary"
                data-action="open-sessions"
                @click=${() => this.errorAction('sessions')}
              >
                Open Active Sessions
              </button>`
            : nothing
        }
        ${
          action === 'tiers'
            ? html`<button
                type="button"
                class="primary"
                data-action="choose-tier"
                @click=${() => this.errorAction('tiers')}
              >
                Choose another tier
              </button>`
            : nothing
        }
        <button type="button" data-action="retry-launch" @click=${this.retry}>Try again</button>
        <button type="button" data-action="dismiss" @click=${this.dismissError}>Dismiss</button>
      </div>
    </div>`;
  }

  private tierLabel(): string {
    return this.tiers?.find((t) => t.id === this.selected)?.label ?? this.selected;
  }
}
