import { html, nothing, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import type { Preferences } from '../../protocol/preferences.ts';
import { DEFAULT_PREFERENCES } from '../../protocol/preferences-defaults.ts';
import type { Tier, TierId } from '../../protocol/session.ts';
import { toApiError, type ApiError } from '../api/api-client.ts';
import { formatDateTime } from '../shared/format.ts';
import { VscElement } from '../shared/vsc-element.ts';
import {
  clampIdleTimeout,
  idleTimeoutBounds,
  type PreferencesState,
  type PreferencesStore,
} from '../state/preferences-store.ts';
import { StoreController } from '../state/store-controller.ts';
import { styles } from './settings.styles.ts';

const QUALITIES: readonly [Preferences['streamQuality'], string][] = [
  ['auto', "Automatic (the desktop's defaults)"],
  ['low', 'Low (least data)'],
  ['medium', 'Medium'],
  ['high', 'High'],
  ['lossless', 'Best (near-lossless, most data)'],
];

const SCALINGS: readonly [Preferences['scaling'], string][] = [
  ['fit', 'Fit to the window'],
  ['1:1', 'Actual size (1:1)'],
  ['remote', 'Resize the desktop to the window'],
];

const TRANSPORTS: readonly [Preferences['streamTransport'], string][] = [
  ['auto', 'Automatic (WebRTC when it connects quickly, else WebSocket)'],
  ['webrtc', 'WebRTC DataChannel (keep trying)'],
  ['websocket', 'WebSocket only'],
];

/** X keyboard layouts offered (the desktop's `setxkbmap` names). A stored layout not listed here is kept. */
const LAYOUTS: readonly [string, string][] = [
  ['us', 'English (US)'],
  ['gb', 'English (UK)'],
  ['de', 'German'],
  ['fr', 'French'],
  ['es', 'Spanish'],
  ['latam', 'Spanish (Latin America)'],
  ['it', 'Italian'],
  ['pt', 'Portuguese'],
  ['br', 'Portuguese (Brazil)'],
  ['ch', 'Swiss'],
  ['be', 'Belgian'],
  ['nl', 'Dutch'],
  ['se', 'Swedish'],
  ['no', 'Norwegian'],
  ['dk', 'Danish'],
  ['fi', 'Finnish'],
  ['pl', 'Polish'],
  ['cz', 'Czech'],
  ['tr', 'Turkish'],
  ['ru', 'Russian'],
  ['jp', 'Japanese'],
  ['kr', 'Korean'],
];

function same(a: Preferences | null, b: Preferences | null): boolean {
  if (!a || !b) return a === b;
  return (Object.keys(a) as (keyof Preferences)[]).every((k) => a[k] === b[k]);
}

/**
 * @tagname vsc-settings
 * @summary The user's v-SuperCore settings: default tier, stream quality, scaling, stream transport, keyboard
 * layout, idle timeout and notifications, saved to Canon Memory through the API.
 *
 * Opens at once from the IndexedDB cache, then shows the server's copy. Offline it stays readable but every
 * field and Save are disabled, and a notice says why. The idle timeout is kept within what the default tier
 * allows (5 minutes up to the tier's limit). When two places save, the later write on the server's clock wins.
 *
 * Fields carry `name`s matching the Preferences keys; buttons carry `data-action` (`save`, `revert`,
 * `defaults`, `retry`).
 *
 * @event vsc-preferences-saved - The server stored new settings. `detail: { preferences, updatedAt }`.
 *
 * @csspart form - The settings form.
 *
 * @cssproperty --vsc-color-warning - The offline notice.
 */
export class VscSettings extends VscElement {
  static override styles = styles;

  /** The preferences store (the module passes its own). */
  @property({ attribute: false }) preferences?: PreferencesStore;

  @state() private draft: Preferences | null = null;
  @state() private announcement = '';
  @state() private clampNote = '';

  private readonly prefs = new StoreController<PreferencesState>(
    this,
    () => this.preferences?.state$,
    (value, previous) => this.onPreferences(value, previous),
  );

  /** The form's current values (null until loaded). */
  get values(): Preferences | null {
    return this.draft;
  }

  /** The form differs from what is stored. */
  get dirty(): boolean {
    return !same(this.draft, this.prefs.value?.preferences ?? null);
  }

  private onPreferences(value: PreferencesState, previous: PreferencesState | undefined): void {
    // Follow the stored copy (cache, then server, then other tabs) unless the user is editing.
    const before = previous?.preferences ?? null;
    if (value.preferences && (this.draft === null || same(this.draft, before))) {
      this.draft = { ...value.preferences };
    }
    if (previous && previous.online !== value.online) {
      this.announcement = value.online
        ? 'Back online: settings can be changed again.'
        : 'You are offline: settings are read-only.';
    }
  }

  private tierOf(id: string): Tier | undefined {
    return this.prefs.value?.tiers?.find((t) => t.id === id);
  }

  private set<K extends keyof Preferences>(key: K, value: Preferences[K]): void {
    if (!this.draft) return;
    const next = { ...this.draft, [key]: value };
    this.clampNote = '';
    if (key === 'defaultTier') {
      // A tier with a shorter limit pulls the idle timeout down with it.
      const bounds = idleTimeoutBounds(this.tierOf(String(value)));
      const clamped = clampIdleTimeout(next.idleTimeoutMinutes, bounds);
      if (clamped !== next.idleTimeoutMinutes) {
        this.clampNote = `Idle timeout lowered to ${clamped} minutes, the most the ${this.tierOf(String(value))?.label ?? String(value)} tier allows.`;
        next.idleTimeoutMinutes = clamped;
      }
    }
    this.draft = next;
  }

  private onIdleChange(event: Event): void {
    const input = event.target as HTMLInputElement;
    if (!this.draft) return;
    const bounds = idleTimeoutBounds(this.tierOf(this.draft.defaultTier));
    const wanted = Number(input.value);
    const clamped = clampIdleTimeout(wanted, bounds);
    this.set('idleTimeoutMinutes', clamped);
    if (input.value === '' || clamped !== wanted) {
      this.clampNote = `Idle timeout set to ${clamped} minutes (allowed: ${bounds.min}–${bounds.max}).`;
    }
    input.value = String(clamped);
  }

  /** Saves the form. Resolves when the server answered (or the save failed and the error is shown). */
  async save(): Promise<void> {
    const store = this.preferences;
    const draft = this.draft;
    if (!store || !draft || store.value.saving) return;
    const bounds = idleTimeoutBounds(this.tierOf(draft.defaultTier));
    const preferences: Preferences = {
      ...draft,
      idleTimeoutMinutes: clampIdleTimeout(draft.idleTimeoutMinutes, bounds),
    };
    this.announcement = 'Saving your settings…';
    try {
      const response = await store.save(preferences);
      this.draft = { ...(store.value.preferences ?? response.preferences) };
      this.announcement = 'Settings saved.';
      this.emit('vsc-preferences-saved', response);
    } catch (error) {
      const apiError: ApiError = toApiError(error);
      this.announcement = `Settings not saved: ${apiError.message}`;
    }
  }

  private onSubmit(event: Event): void {
    event.preventDefault();
    void this.save();
  }

  private revert(): void {
    const stored = this.prefs.value?.preferences;
    if (stored) this.draft = { ...stored };
    this.clampNote = '';
    this.announcement = 'Changes discarded.';
  }

  private defaults(): void {
    const bounds = idleTimeoutBounds(this.tierOf(DEFAULT_PREFERENCES.defaultTier));
    this.draft = {
      ...DEFAULT_PREFERENCES,
      idleTimeoutMinutes: clampIdleTimeout(DEFAULT_PREFERENCES.idleTimeoutMinutes, bounds),
    };
    this.clampNote = '';
    this.announcement = 'Default settings filled in; press Save to keep them.';
  }

  override render(): TemplateResult {
    const value = this.prefs.value;
    return html`
      <h2 id="heading">Settings</h2>
      <p class="intro">How your virtual PCs start and behave. Saved to your account, so they follow you.</p>
      ${
        value && !value.online
          ? html`<p class="offline" role="status" data-offline>
              <strong>You are offline.</strong> These are the settings saved on this
              device${
                value.updatedAt
                  ? html` (last changed ${formatDateTime(value.updatedAt, this.locale)})`
                  : nothing
              }.
              You can change them once you are back online.
            </p>`
          : nothing
      }
      ${this.renderBody(value)}
      <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">
        ${this.announcement}
      </div>
    `;
  }

  private renderBody(value: PreferencesState | undefined): TemplateResult {
    if (!value || !this.draft) {
      if (value?.error) {
        return html`<div class="alert" role="alert" data-code=${value.error.code}>
          Could not load your settings: ${value.error.message} <code>${value.error.code}</code>
          <button type="button" data-action="retry" @click=${() => this.preferences?.load()}>Retry</button>
        </div>`;
      }
      return html`<p class="meta" role="status">Loading your settings…</p>`;
    }
    const draft = this.draft;
    const readOnly = !value.online;
    const tiers = value.tiers ?? [];
    const tier = tiers.find((t) => t.id === draft.defaultTier);
    const bounds = idleTimeoutBounds(tier);
    const layouts = LAYOUTS.some(([id]) => id === draft.keyboardLayout)
      ? LAYOUTS
      : [...LAYOUTS, [draft.keyboardLayout, draft.keyboardLayout] as [string, string]];
    return html`
      ${
        value.error && value.online
          ? html`<div class="alert" role="alert" data-code=${value.error.code}>
              Showing the settings saved on this device: ${value.error.message}
              <code>${value.error.code}</code>
              <button type="button" data-action="retry" @click=${() => this.preferences?.load()}>
                Retry
              </button>
            </div>`
          : nothing
      }
      <form part="form" aria-labelledby="heading" @submit=${this.onSubmit} novalidate>
        <fieldset ?disabled=${readOnly} class="fields">
          <legend class="visually-hidden">Your settings</legend>
          <div class="field">
            <label for="defaultTier">Default tier</label>
            <select
              id="defaultTier"
              name="defaultTier"
              aria-describedby="defaultTier-hint"
              @change=${(e: Event) => this.set('defaultTier', (e.target as HTMLSelectElement).value as TierId)}
            >
              ${(tiers.length > 0
                ? tiers
                : [{ id: draft.defaultTier, label: draft.defaultTier, allowed: true }]
              ).map(
                (t) =>
                  html`<option
                    value=${t.id}
                    ?selected=${t.id === draft.defaultTier}
                    ?disabled=${t.allowed === false}
                  >
                    ${t.label}${t.allowed === false ? ' (not in your subscription)' : ''}
                  </option>`,
              )}
            </select>
            <p id="defaultTier-hint" class="hint">Preselected in Quick Launch.</p>
          </div>
          <div class="field">
            <label for="streamQuality">Stream quality</label>
            <select
              id="streamQuality"
              name="streamQuality"
              @change=${(e: Event) =>
                this.set(
                  'streamQuality',
                  (e.target as HTMLSelectElement).value as Preferences['streamQuality'],
                )}
            >
              ${QUALITIES.map(
                ([id, label]) =>
                  html`<option value=${id} ?selected=${id === draft.streamQuality}>${label}</option>`,
              )}
            </select>
          </div>
          <fieldset>
            <legend>Scaling</legend>
            <div>
              ${SCALINGS.map(
                ([id, label]) =>
                  html`<label class="choice"
                    ><input
                      type="radio"
                      name="scaling"
                      .value=${id}
                      .checked=${draft.scaling === id}
                      @change=${() => this.set('scaling', id)}
                    />${label}</label
                  >`,
              )}
            </div>
          </fieldset>
          <div class="field">
            <label for="streamTransport">Stream transport</label>
            <select
              id="streamTransport"
              name="streamTransport"
              aria-describedby="streamTransport-hint"
              @change=${(e: Event) =>
                this.set(
                  'streamTransport',
                  (e.target as HTMLSelectElement).value as Preferences['streamTransport'],
                )}
            >
              ${TRANSPORTS.map(
                ([id, label]) =>
                  html`<option value=${id} ?selected=${id === draft.streamTransport}>${label}</option>`,
              )}
            </select>
            <p id="streamTransport-hint" class="hint">
              What carries the desktop's picture. WebRTC needs the server to allow it; when it cannot connect
              the desktop stays on the WebSocket. Takes effect the next time a desktop connects.
            </p>
          </div>
          <div class="field">
            <label for="keyboardLayout">Keyboard layout</label>
            <select
              id="keyboardLayout"
              name="keyboardLayout"
              @change=${(e: Event) => this.set('keyboardLayout', (e.target as HTMLSelectElement).value)}
            >
              ${layouts.map(
                ([id, label]) =>
                  html`<option value=${id} ?selected=${id === draft.keyboardLayout}>${label}</option>`,
              )}
            </select>
          </div>
          <div class="field">
            <label for="idleTimeoutMinutes">Idle timeout (minutes)</label>
            <input
              id="idleTimeoutMinutes"
              name="idleTimeoutMinutes"
              type="number"
              inputmode="numeric"
              min=${bounds.min}
              max=${bounds.max}
              step="1"
              .value=${String(draft.idleTimeoutMinutes)}
              aria-describedby="idle-hint"
              @change=${this.onIdleChange}
            />
            <p id="idle-hint" class="hint">
              A session without input for this long is paused (its memory is kept).
              ${bounds.min}–${bounds.max} minutes${tier ? ` on the ${tier.label} tier` : ''}.
              ${this.clampNote ? html`<strong data-clamped>${this.clampNote}</strong>` : nothing}
            </p>
          </div>
          <label class="choice">
            <input
              type="checkbox"
              name="notifications"
              .checked=${draft.notifications}
              @change=${(e: Event) => this.set('notifications', (e.target as HTMLInputElement).checked)}
            />
            Notify me when a session is paused, resumed or ends
          </label>
        </fieldset>
        ${
          value.saveError
            ? html`<div class="alert" role="alert" data-code=${value.saveError.code}>
                Your settings were not saved: ${value.saveError.message} <code>${value.saveError.code}</code>
              </div>`
            : nothing
        }
        <div class="actions">
          <button
            type="submit"
            class="primary"
            data-action="save"
            ?disabled=${readOnly || value.saving || !this.dirty}
          >
            ${value.saving ? 'Saving…' : 'Save'}
          </button>
          <button
            type="button"
            data-action="revert"
            ?disabled=${readOnly || !this.dirty}
            @click=${this.revert}
          >
            Discard changes
          </button>
          <button
            type="button"
            class="quiet"
            data-action="defaults"
            ?disabled=${readOnly}
            @click=${this.defaults}
          >
            Restore defaults
          </button>
        </div>
        <p class="meta status" data-source=${value.source}>
          ${
            value.updatedAt
              ? html`Last saved
                  <time datetime=${value.updatedAt}>${formatDateTime(value.updatedAt, this.locale)}</time>.`
              : 'You are using the default settings.'
          }
          ${value.source === 'cache' && value.online ? ' Checking for newer settings…' : ''}
        </p>
      </form>
    `;
  }
}
