import { css, html, nothing, type TemplateResult } from 'lit';
import { property, query, state } from 'lit/decorators.js';
import type { Session, Tier } from '../../protocol/session.ts';
import { toApiError, type ApiClient, type ApiError } from '../api/api-client.ts';
import { formatNexCoin, shortId } from '../shared/format.ts';
import { controlStyles, themeStyles } from '../shared/theme.ts';
import { VscElement } from '../shared/vsc-element.ts';
import type { SessionsStore } from '../state/sessions-store.ts';

/** Detail of `vsc-tier-changed`. */
export interface TierChangedDetail {
  sessionId: string;
  tier: string;
}

/** What the user can do about each refusal, in the words the row shows. */
const REFUSALS: Partial<Record<string, (error: ApiError) => string>> = {
  TIER_NOT_ALLOWED: (e) => `That tier is not open to you: ${e.message}`,
  BALANCE_TOO_LOW: () =>
    'Your NexCoin balance does not cover the new tier’s first billing periods. Top up, or pick a cheaper tier.',
  QUOTA_EXCEEDED: () =>
    'The new tier would exceed a resource quota. Pick a smaller tier, or end another session first.',
  TRANSITION_IN_PROGRESS: () => 'Another change to this session is in progress. Try again in a moment.',
};

/**
 * @tagname vsc-change-tier
 * @summary The "Change tier" form of one session's row: a labelled select of the other tiers the user may launch
 * (from `GET /tiers`, with the user's hourly rate), Change and Cancel. Escape cancels. A refusal is shown in
 * the form with its code and what to do; the row shows the new tier from the session change the server pushes.
 *
 * Controls carry `data-action` (`confirm-tier`, `cancel-tier`) and the select `data-field="tier"`.
 *
 * @event vsc-tier-changed - The server accepted the change. `detail: { sessionId, tier }`.
 * @event vsc-change-tier-cancel - Cancel or Escape.
 */
export class VscChangeTier extends VscElement {
  static override styles = [
    themeStyles,
    controlStyles,
    css`
      :host {
        display: block;
        white-space: normal;
        text-align: left;
      }
      form {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        justify-content: flex-end;
        gap: 0.4rem;
      }
      label {
        display: inline-flex;
        align-items: center;
        gap: 0.35rem;
      }
      .error {
        flex-basis: 100%;
        margin: 0.25rem 0 0;
        color: var(--_color-danger);
      }
    `,
  ];

  @property({ attribute: false }) session?: Session;
  @property({ attribute: false }) api?: ApiClient;
  @property({ attribute: false }) store?: SessionsStore;

  @state() private tiers: readonly Tier[] | undefined;
  @state() private loadError: ApiError | null = null;
  @state() private error: ApiError | null = null;
  @state() private busy = false;

  @query('select') private select!: HTMLSelectElement | null;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    if (!this.api) return;
    try {
      this.tiers = await this.api.tiers();
      await this.updateComplete;
      this.select?.focus();
    } catch (error) {
      this.loadError = toApiError(error);
    }
  }

  /** The other tiers this user may launch (the server's `allowed`; absent means allowed). */
  private choices(): Tier[] {
    return (this.tiers ?? []).filter((t) => t.allowed !== false && t.id !== this.session?.tier);
  }

  private rate(tier: Tier): string {
    const hourly = tier.yourPrice?.microNexCoinPerHour ?? tier.microNexCoinPerHour;
    return `${formatNexCoin(hourly, this.locale)} NexCoin/hour`;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const session = this.session;
    const tier = this.select?.value;
    if (!session || !tier || this.busy || !this.store) return;
    this.busy = true;
    this.error = null;
    try {
      await this.store.changeTier(session.sessionId, tier);
      this.emit<TierChangedDetail>('vsc-tier-changed', { sessionId: session.sessionId, tier });
    } catch (error) {
      this.error = toApiError(error);
      await this.updateComplete;
      this.select?.focus();
    } finally {
      this.busy = false;
    }
  }

  private cancel(): void {
    this.emit('vsc-change-tier-cancel', null);
  }

  override render(): TemplateResult {
    const short = this.session ? shortId(this.session.sessionId) : '';
    const choices = this.choices();
    const headingId = 'change-tier-heading';
    return html`<form
      aria-labelledby=${headingId}
      aria-busy=${this.busy ? 'true' : 'false'}
      @submit=${this.submit}
      @keydown=${(e: KeyboardEvent) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          this.cancel();
        }
      }}
    >
      <span id=${headingId} class="visually-hidden">Change the tier of session ${short}</span>
      ${this.renderChoices(choices)}
      <button
        type="submit"
        class="primary"
        data-action="confirm-tier"
        ?disabled=${this.busy || choices.length === 0}
      >
        ${this.busy ? 'Changing…' : 'Change tier'}
      </button>
      <button type="button" data-action="cancel-tier" @click=${() => this.cancel()}>Cancel</button>
      ${
        this.error
          ? html`<p class="error" role="alert" data-code=${this.error.code}>
              ${(REFUSALS[this.error.code] ?? ((e: ApiError) => e.message))(this.error)}
              <code>${this.error.code}</code>
            </p>`
          : nothing
      }
    </form>`;
  }

  private renderChoices(choices: readonly Tier[]): TemplateResult {
    if (this.loadError) {
      return html`<p class="error" role="alert" data-code=${this.loadError.code}>
        Could not load the tiers: ${this.loadError.message} <code>${this.loadError.code}</code>
      </p>`;
    }
    if (!this.api) return html`<span>Changing the tier needs a connection to the server.</span>`;
    if (!this.tiers) return html`<span role="status">Loading tiers…</span>`;
    if (choices.length === 0) return html`<span role="status">No other tier is open to you.</span>`;
    const current = this.session?.tier ?? '';
    return html`<label
      >New tier (now ${this.tiers.find((t) => t.id === current)?.label ?? current})
      <select name="tier" data-field="tier" ?disabled=${this.busy}>
        ${choices.map((t) => html`<option value=${t.id}>${t.label} · ${this.rate(t)}</option>`)}
      </select></label
    >`;
  }
}
