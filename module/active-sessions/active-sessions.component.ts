import { html, nothing, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import type { Session, Tier } from '../../protocol/session.ts';
import type { InvitedRole, Workspace } from '../../protocol/workspaces.ts';
import { isAbortError, toApiError, type ApiClient, type ApiError } from '../api/api-client.ts';
import type { NavigateDetail, OpenSessionDetail } from '../shared/events.ts';
import {
  costMicroNexCoin,
  estimateActiveMs,
  formatDateTime,
  formatDuration,
  formatNexCoin,
  shortId,
  stateLabel,
  stateTone,
} from '../shared/format.ts';
import { VscElement } from '../shared/vsc-element.ts';
import type { SessionsState, SessionsStore } from '../state/sessions-store.ts';
import { StoreController } from '../state/store-controller.ts';
import { styles } from './active-sessions.styles.ts';

type Action = 'pause' | 'resume' | 'terminate';

const ACTION_LABELS: Record<Action, string> = { pause: 'Pause', resume: 'Resume', terminate: 'Terminate' };

/** Why Share cannot be used: the pane has no API client to create the workspace with. */
export const SHARE_UNAVAILABLE = 'Sharing needs a connection to the server.';

/** How often the pane re-reads the workspaces shared with the user. */
export const WORKSPACES_REFRESH_MS = 3000;

/** States whose uptime keeps growing (the clock ticks only while one of them is listed). */
const RUNNING: ReadonlySet<Session['state']> = new Set(['active', 'pausing']);

/**
 * @tagname vsc-active-sessions
 * @summary The user's sessions, live: pushed by the server (no polling per row), with state, tier, uptime, cost
 * so far and the actions each state allows. Terminating asks for confirmation in the row itself.
 *
 * Rows carry `data-session-id`; buttons carry `data-action` (`open`, `pause`, `resume`, `terminate`,
 * `confirm-terminate`, `cancel-terminate`, `share`) so end-to-end tests can find them. Share opens a form that
 * invites a user id of the tenant as participant or observer into a collaborative workspace for the session
 * (created on the first invitation; `send-invite`, `cancel-share`). "Shared with me" lists the workspaces the
 * user is invited to or has joined, with `accept-invitation`, `decline-invitation` and `open-shared` buttons
 * (`data-workspace-id`). Every control is a
 * native button or checkbox in reading order, so Tab, Enter and Space do everything; Escape cancels a
 * confirmation.
 *
 * Cost so far is the tier's hourly rate × the time the session has been billable, in integer micro-NexCoin,
 * estimated from the session's launch and last change (the server's usage record is the exact figure).
 *
 * @event vsc-open-session - Open was pressed on an active session. `detail: { sessionId }`.
 * @event vsc-navigate - The empty state's "Quick Launch" button. `detail: { view: 'launch' }`.
 *
 * @csspart table - The sessions table.
 * @csspart row - A session's row.
 *
 * @cssproperty --vsc-color-border - Table rules.
 * @cssproperty --vsc-color-success - The live indicator.
 * @cssproperty --vsc-color-warning - The reconnecting indicator.
 */
export class VscActiveSessions extends VscElement {
  static override styles = styles;

  @property({ attribute: false }) store?: SessionsStore;
  /** API client, for the tier rates that price "cost so far". Optional: without it the cost column is empty. */
  @property({ attribute: false }) api?: ApiClient;

  /** Also list terminated sessions. */
  @property({ type: Boolean, attribute: 'show-ended' }) showEnded = false;

  @state() private confirming: string | null = null;
  @state() private busy: ReadonlyMap<string, Action> = new Map();
  @state() private actionError: { sessionId: string; action: Action; error: ApiError } | null = null;
  @state() private tiers: readonly Tier[] = [];
  @state() private now = Date.now();
  @state() private notice = '';
  /** The session whose Share form is open. */
  @state() private sharing: string | null = null;
  @state() private shareError = '';
  @state() private workspaces: readonly Workspace[] = [];
  @state() private me: string | undefined;

  private readonly sessions = new StoreController<SessionsState>(this, () => this.store?.state$);
  private clock: ReturnType<typeof setInterval> | undefined;
  private tiersAborter: AbortController | undefined;
  private tiersFrom: ApiClient | undefined;
  private workspaceRefresh: ReturnType<typeof setInterval> | undefined;

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.confirming = null;
    this.stopClock();
    this.tiersAborter?.abort();
    this.tiersAborter = undefined;
    this.tiersFrom = undefined;
    clearInterval(this.workspaceRefresh);
    this.workspaceRefresh = undefined;
  }

  /** Invitations and shared sessions appear without a reload (re-read every WORKSPACES_REFRESH_MS). */
  private startWorkspaceRefresh(): void {
    if (this.workspaceRefresh !== undefined) return;
    this.workspaceRefresh = setInterval(() => void this.loadWorkspaces(), WORKSPACES_REFRESH_MS);
  }

  protected override willUpdate(): void {
    if (this.isConnected && this.api && this.api !== this.tiersFrom) {
      void this.loadTiers(this.api);
      void this.loadWorkspaces();
      this.startWorkspaceRefresh();
    }
    const running = this.sessions.value?.sessions.some((s) => RUNNING.has(s.state)) ?? false;
    if (running && this.isConnected) this.startClock();
    else this.stopClock();
  }

  /** One clock for the whole table (uptime and cost), only while a listed session is running. */
  private startClock(): void {
    if (this.clock !== undefined) return;
    this.now = Date.now();
    this.clock = setInterval(() => (this.now = Date.now()), 1000);
  }

  private stopClock(): void {
    clearInterval(this.clock);
    this.clock = undefined;
  }

  private async loadTiers(api: ApiClient): Promise<void> {
    this.tiersFrom = api;
    this.tiersAborter?.abort();
    const aborter = new AbortController();
    this.tiersAborter = aborter;
    try {
      this.tiers = await api.tiers({ signal: aborter.signal });
    } catch (error) {
      // Without rates the cost column stays empty; the list itself still works.
      if (!isAbortError(error)) this.tiers = [];
    }
  }

  private share(sessionId: string): void {
    this.shareError = '';
    if (!this.api) {
      // Re-announce on every press: clear first, then set on the next frame.
      this.notice = '';
      requestAnimationFrame(() => (this.notice = SHARE_UNAVAILABLE));
      return;
    }
    this.sharing = this.sharing === sessionId ? null : sessionId;
    if (this.sharing) void this.loadWorkspaces();
  }

  private async loadWorkspaces(): Promise<void> {
    const api = this.api;
    if (!api) return;
    try {
      this.me ??= await api.userId();
      this.workspaces = await api.listWorkspaces();
    } catch {
      // The sessions list works without it.
    }
  }

  /** Invites into the user's open workspace for the session, creating it on the first invitation. */
  private async sendInvite(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const api = this.api;
    const sessionId = this.sharing;
    if (!api || !sessionId) return;
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const userId = String(data.get('userId') ?? '').trim();
    const role: InvitedRole = data.get('role') === 'observer' ? 'observer' : 'participant';
    if (!userId) return;
    this.shareError = '';
    try {
      await this.loadWorkspaces();
      const mine = this.workspaces.find(
        (w) => w.state === 'open' && w.ownerId === this.me && w.sessionIds.includes(sessionId),
      );
      if (mine) await api.inviteToWorkspace(mine.workspaceId, userId, role);
      else
        await api.createWorkspace({
          name: `Session ${shortId(sessionId)}`,
          sessionIds: [sessionId],
          invite: [{ userId, role }],
        });
      form.reset();
      this.notice = '';
      requestAnimationFrame(() => (this.notice = `Invited ${userId} as ${role}.`));
      await this.loadWorkspaces();
    } catch (error) {
      this.shareError = toApiError(error).message;
    }
  }

  private async answer(workspaceId: string, accept: boolean): Promise<void> {
    try {
      await this.api?.answerInvitation(workspaceId, accept);
    } catch (error) {
      this.shareError = toApiError(error).message;
    }
    await this.loadWorkspaces();
  }

  private renderShareForm(sessionId: string): TemplateResult {
    return html`<form class="share" data-share-for=${sessionId} @submit=${this.sendInvite}>
      <label>User id <input name="userId" required autocomplete="off" data-field="invite-user" /></label>
      <label
        >Role
        <select name="role" data-field="invite-role">
          <option value="participant">Participant</option>
          <option value="observer">Observer</option>
        </select></label
      >
      <button type="submit" class="primary" data-action="send-invite">Invite</button>
      <button type="button" data-action="cancel-share" @click=${() => (this.sharing = null)}>Cancel</button>
      ${this.shareError ? html`<p class="error" role="alert">${this.shareError}</p>` : nothing}
    </form>`;
  }

  /** Workspaces someone else shared with the user: invitations to answer, sessions to open. */
  private renderSharedWithMe(): TemplateResult | typeof nothing {
    const shared = this.workspaces.filter(
      (w) => w.state === 'open' && w.ownerId !== this.me && w.members.some((m) => m.userId === this.me),
    );
    if (shared.length === 0) return nothing;
    return html`<section aria-labelledby="shared-heading" data-shared-with-me>
      <h3 id="shared-heading">Shared with me</h3>
      <ul>
        ${shared.map((w) => {
          const member = w.members.find((m) => m.userId === this.me);
          return html`<li data-workspace-id=${w.workspaceId}>
            <span>${w.name} · ${w.ownerId} · ${member?.role ?? ''}</span>
            ${
              member?.status === 'invited'
                ? html`<button
                      type="button"
                      class="primary"
                      data-action="accept-invitation"
                      data-workspace-id=${w.workspaceId}
                      @click=${() => void this.answer(w.workspaceId, true)}
                    >
                      Accept
                    </button>
                    <button
                      type="button"
                      data-action="decline-invitation"
                      data-workspace-id=${w.workspaceId}
                      @click=${() => void this.answer(w.workspaceId, false)}
                    >
                      Decline
                    </button>`
                : w.sessionIds.map(
                    (id) =>
                      html`<button
                        type="button"
                        data-action="open-shared"
                        data-workspace-id=${w.workspaceId}
                        data-session-id=${id}
                        @click=${() => this.open(id)}
                      >
                        Open ${shortId(id)}
                      </button>`,
                  )
            }
          </li>`;
        })}
      </ul>
    </section>`;
  }

  private async run(sessionId: string, action: Action): Promise<void> {
    const store = this.store;
    if (!store || this.busy.has(sessionId)) return;
    this.busy = new Map(this.busy).set(sessionId, action);
    this.actionError = null;
    try {
      await store[action](sessionId);
      if (action === 'terminate') this.confirming = null;
    } catch (error) {
      this.actionError = { sessionId, action, error: toApiError(error) };
    } finally {
      const busy = new Map(this.busy);
      busy.delete(sessionId);
      this.busy = busy;
    }
  }

  private async askTerminate(sessionId: string): Promise<void> {
    this.confirming = sessionId;
    await this.updateComplete;
    this.button(sessionId, 'cancel-terminate')?.focus();
  }

  private async cancelTerminate(sessionId: string): Promise<void> {
    this.confirming = null;
    await this.updateComplete;
    this.button(sessionId, 'terminate')?.focus();
  }

  private button(sessionId: string, action: string): HTMLButtonElement | null {
    const row = [...this.renderRoot.querySelectorAll<HTMLElement>('tr[data-session-id]')].find(
      (r) => r.dataset['sessionId'] === sessionId,
    );
    return row?.querySelector<HTMLButtonElement>(`button[data-action="${action}"]`) ?? null;
  }

  private open(sessionId: string): void {
    this.emit<OpenSessionDetail>('vsc-open-session', { sessionId });
  }

  override render(): TemplateResult {
    const value = this.sessions.value;
    const all = value?.sessions ?? [];
    const sessions = this.showEnded ? all : all.filter((s) => s.state !== 'terminated');
    const hidden = all.length - sessions.length;
    return html`
      <div class="header">
        <h2 id="heading">Active Sessions</h2>
        <label class="toggle">
          <input
            type="checkbox"
            data-action="show-ended"
            .checked=${this.showEnded}
            @change=${(e: Event) => (this.showEnded = (e.target as HTMLInputElement).checked)}
          />
          Show terminated<span class="count">${hidden > 0 ? ` (${hidden})` : ''}</span>
        </label>
        <button
          type="button"
          class="quiet"
          data-action="refresh"
          ?disabled=${!this.store || value?.loading}
          @click=${() => this.store?.refresh()}
        >
          Refresh
        </button>
      </div>
      ${this.renderLive(value)}
      ${
        value?.error
          ? html`<div class="alert" role="alert" data-code=${value.error.code}>
              Could not load your sessions: ${value.error.message} <code>${value.error.code}</code>
              <button type="button" data-action="retry" @click=${() => this.store?.refresh()}>Retry</button>
            </div>`
          : nothing
      }
      ${
        this.actionError
          ? html`<div class="alert" role="alert" data-code=${this.actionError.error.code}>
              Could not ${this.actionError.action} session
              <code>${shortId(this.actionError.sessionId)}</code>: ${this.actionError.error.message}
              <code>${this.actionError.error.code}</code>
            </div>`
          : nothing
      }
      ${this.renderBody(value, sessions)}
      <div class="visually-hidden" role="status" aria-live="polite">${this.notice}</div>
    `;
  }

  private renderLive(value: SessionsState | undefined): TemplateResult | typeof nothing {
    if (!value || value.updatedAt === null) return nothing;
    return html`<p class="live" data-live=${value.live ? 'on' : 'off'}>
      <span class="dot" aria-hidden="true"></span>
      ${value.live ? 'Live: changes appear as they happen.' : 'Reconnecting to live updates… the list refreshes every few seconds meanwhile.'}
    </p>`;
  }

  private renderBody(value: SessionsState | undefined, sessions: readonly Session[]): TemplateResult {
    if (!value || (value.updatedAt === null && !value.error)) {
      return html`<p class="empty" role="status">Loading sessions…</p>`;
    }
    if (value.updatedAt === null) return html``;
    if (sessions.length === 0) {
      return html`<div class="empty" role="status">
        <p>You have no ${this.showEnded ? '' : 'running '}sessions.</p>
        <button
          type="button"
          class="primary"
          data-action="quick-launch"
          @click=${() => this.emit<NavigateDetail>('vsc-navigate', { view: 'launch' })}
        >
          Launch a virtual PC
        </button>
      </div>`;
    }
    return html`<div class="table-wrap">
        <table part="table" aria-labelledby="heading" aria-busy=${value.loading ? 'true' : 'false'}>
          <colgroup>
            <col class="session" />
            <col class="tier" />
            <col class="state" />
            <col class="created" />
            <col class="uptime" />
            <col class="cost" />
            <col class="actions" />
          </colgroup>
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Tier</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">Uptime</th>
              <th scope="col">Cost so far</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${sessions.map((s) => this.renderRow(s))}
          </tbody>
        </table>
      </div>
      ${this.sharing ? this.renderShareForm(this.sharing) : nothing} ${this.renderSharedWithMe()}`;
  }

  private renderRow(session: Session): TemplateResult {
    const id = session.sessionId;
    const short = shortId(id);
    return html`<tr part="row" data-session-id=${id} data-state=${session.state}>
      <th scope="row"><code title=${id}>${short}</code></th>
      <td class="tier">${session.tier}</td>
      <td>
        <span class="badge" data-tone=${stateTone(session.state)}>${stateLabel(session.state)}</span>
        ${
          session.state === 'failed' && session.failureReason
            ? html`<span class="reason">${session.failureReason}</span>`
            : nothing
        }
      </td>
      <td><time datetime=${session.createdAt}>${formatDateTime(session.createdAt, this.locale)}</time></td>
      <td class="uptime">${this.uptime(session)}</td>
      <td class="cost">${this.cost(session)}</td>
      <td class="actions">${this.renderActions(session, short)}</td>
    </tr>`;
  }

  private uptime(session: Session): string {
    if (session.state === 'requested' || session.state === 'provisioning') return 'Starting';
    if (session.state === 'terminated' || session.state === 'failed') return '—';
    const end = RUNNING.has(session.state) ? this.now : Date.parse(session.canonTimestamp);
    return formatDuration(end - Date.parse(session.createdAt));
  }

  private cost(session: Session): TemplateResult | string {
    const tier = this.tiers.find((t) => t.id === session.tier);
    if (!tier) return '—';
    const micro = costMicroNexCoin(tier.microNexCoinPerHour, estimateActiveMs(session, this.now));
    return html`<span data-micro-nexcoin=${micro}>${formatNexCoin(micro, this.locale)} NexCoin</span>`;
  }

  private renderActions(session: Session, short: string): TemplateResult {
    const id = session.sessionId;
    const busy = this.busy.get(id);
    if (this.confirming === id) {
      return html`<div
        class="confirm"
        role="group"
        aria-label="Confirm termination of session ${short}"
        @keydown=${(e: KeyboardEvent) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            void this.cancelTerminate(id);
          }
        }}
      >
        <span>Terminate ${short}? Unsaved work is lost.</span>
        <button
          type="button"
          class="danger"
          data-action="confirm-terminate"
          ?disabled=${busy !== undefined}
          @click=${() => this.run(id, 'terminate')}
        >
          ${busy === 'terminate' ? 'Terminating…' : 'Terminate'}
        </button>
        <button type="button" data-action="cancel-terminate" @click=${() => this.cancelTerminate(id)}>
          Cancel
        </button>
      </div>`;
    }
    const state = session.state;
    const canTerminate = state !== 'terminated' && state !== 'terminating';
    return html`
      ${
        state === 'active'
          ? html`<button
                type="button"
                class="primary"
                data-action="open"
                aria-label="Open session ${short}"
                @click=${() => this.open(id)}
              >
                Open
              </button>
              ${this.actionButton(id, short, 'pause', busy)}`
          : nothing
      }
      ${state === 'paused' || state === 'hibernated' ? this.actionButton(id, short, 'resume', busy) : nothing}
      ${
        state === 'active' || state === 'paused'
          ? html`<button
              type="button"
              data-action="share"
              aria-label="Share session ${short} into a workspace"
              aria-expanded=${this.sharing === id ? 'true' : 'false'}
              @click=${() => this.share(id)}
            >
              Share
            </button>`
          : nothing
      }
      ${
        canTerminate
          ? html`<button
              type="button"
              class="danger"
              data-action="terminate"
              aria-label="Terminate session ${short}"
              ?disabled=${busy !== undefined}
              @click=${() => this.askTerminate(id)}
            >
              Terminate
            </button>`
          : nothing
      }
    `;
  }

  private actionButton(
    id: string,
    short: string,
    action: 'pause' | 'resume',
    busy: Action | undefined,
  ): TemplateResult {
    return html`<button
      type="button"
      data-action=${action}
      aria-label="${ACTION_LABELS[action]} session ${short}"
      ?disabled=${busy !== undefined}
      @click=${() => this.run(id, action)}
    >
      ${busy === action ? `${ACTION_LABELS[action]}…` : ACTION_LABELS[action]}
    </button>`;
  }
}
