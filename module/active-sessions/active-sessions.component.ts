import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import { guard } from 'lit/directives/guard.js';
import { repeat } from 'lit/directives/repeat.js';
import type { Session } from '../../protocol/session.ts';
import type { InvitedRole, Workspace } from '../../protocol/workspaces.ts';
import { toApiError, type ApiClient, type ApiError } from '../api/api-client.ts';
import type { LiveEvents } from '../api/live-events.ts';
import type { NavigateDetail, OpenSessionDetail } from '../shared/events.ts';
import {
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
import type { WorkspaceChangedDetail } from '../workspaces/workspace-members.component.ts';
import { SessionThumbnails, type ThumbnailEntry } from './session-thumbnails.ts';
import type { TierChangedDetail } from './change-tier.component.ts';
import { styles } from './active-sessions.styles.ts';

type Action = 'pause' | 'resume' | 'terminate';

const ACTION_LABELS: Record<Action, string> = { pause: 'Pause', resume: 'Resume', terminate: 'Terminate' };

/** Why Share cannot be used: the pane has no API client to create the workspace with. */
export const SHARE_UNAVAILABLE = 'Sharing needs a connection to the server.';

/** How often the pane re-reads the workspaces shared with the user while live events are not connected. */
export const WORKSPACES_REFRESH_MS = 3000;

/**
 * Rows drawn in the frame that answers an interaction (showing the pane, "Show terminated"); the rest follow just
 * after that frame is painted, so a long list does not hold the page's response to a click (INP).
 */
export const FIRST_FRAME_ROWS = 6; // the rows a 900 px tall window shows above the fold (~75 px each); the rest a frame later

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
 * (`data-workspace-id`). "Shared by me" lists each open workspace the user owns with its people
 * (`<vsc-workspace-members>`: role, invitation state, who holds control; give control, take it back, remove),
 * kept current by `workspace.changed` live events. Every control is a
 * native button or checkbox in reading order, so Tab, Enter and Space do everything; Escape cancels a
 * confirmation.
 *
 * "Change tier" (`change-tier`, on the user's own Active or Paused sessions) opens `<vsc-change-tier>` in the row:
 * a select of the tiers the user may launch with their rates, then `confirm-tier` or `cancel-tier` (Escape); a
 * refusal (TIER_NOT_ALLOWED, BALANCE_TOO_LOW, QUOTA_EXCEEDED, TRANSITION_IN_PROGRESS) stays in the row.
 *
 * Cost so far is the server's figure (`costSoFarMicroNexCoin`: every billing period started so far, at the
 * session's own rates, founding discounts included): from the list, then from each `session.cost` and
 * `session.changed` push, so it moves as billing counts without the page estimating anything.
 *
 * Rendering stays cheap with many rows: rows are keyed by session and re-rendered only when their session, busy
 * state, confirmation or share form changes; the once-a-second uptime clock writes the running rows' uptime text
 * and nothing else.
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
  /** API client, for sharing into workspaces. Optional: without it Share explains that it needs the server. */
  @property({ attribute: false }) api?: ApiClient;
  /** The user's live events: workspace changes arrive through them (polling only while they are down). */
  @property({ attribute: false }) live?: LiveEvents;

  /** Also list terminated sessions. */
  @property({ type: Boolean, attribute: 'show-ended' }) showEnded = false;

  @state() private confirming: string | null = null;
  /** The session whose "Change tier" form is open in its row. */
  @state() private changingTier: string | null = null;
  @state() private busy: ReadonlyMap<string, Action> = new Map();
  @state() private actionError: { sessionId: string; action: Action; error: ApiError } | null = null;
  @state() private notice = '';
  /** The session whose Share form is open. */
  @state() private sharing: string | null = null;
  @state() private shareError = '';
  @state() private workspaces: readonly Workspace[] = [];
  @state() private me: string | undefined;
  /** How many rows are drawn now (see FIRST_FRAME_ROWS). */
  @state() private rowLimit = FIRST_FRAME_ROWS;

  private readonly sessions = new StoreController<SessionsState>(this, () => this.store?.state$);
  private clock: ReturnType<typeof setInterval> | undefined;
  private workspacesFrom: ApiClient | undefined;
  /** Tier labels by id, from the client's shared tier catalogue; the id is shown until it arrives. */
  @state() private tierLabels: ReadonlyMap<string, string> | undefined;
  private tiersFrom: ApiClient | undefined;
  private workspaceRefresh: ReturnType<typeof setInterval> | undefined;
  private workspaceFeed: { from: LiveEvents; stop: () => void } | undefined;
  private moreRowsFrame: number | undefined;
  private moreRowsTimer: ReturnType<typeof setTimeout> | undefined;
  private thumbnails: SessionThumbnails | undefined;
  private thumbnailsFrom: ApiClient | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    this.rowLimit = FIRST_FRAME_ROWS;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.confirming = null;
    this.stopClock();
    this.cancelMoreRows();
    this.thumbnails?.dispose();
    this.thumbnails = undefined;
    this.thumbnailsFrom = undefined;
    this.workspacesFrom = undefined;
    this.tiersFrom = undefined;
    clearInterval(this.workspaceRefresh);
    this.workspaceRefresh = undefined;
    this.workspaceFeed?.stop();
    this.workspaceFeed = undefined;
  }

  /** Invitations and shared sessions appear without a reload (re-read every WORKSPACES_REFRESH_MS). */
  private startWorkspaceRefresh(): void {
    if (this.workspaceRefresh !== undefined) return;
    this.workspaceRefresh = setInterval(() => {
      if (this.live?.status$.value !== 'open') void this.loadWorkspaces();
    }, WORKSPACES_REFRESH_MS);
  }

  /** `workspace.changed` pushes replace the listed copy; the list is re-read when the stream (re)connects. */
  private followWorkspaces(live: LiveEvents | undefined): void {
    if (this.workspaceFeed?.from === live) return;
    this.workspaceFeed?.stop();
    this.workspaceFeed = undefined;
    if (!live) return;
    const pushes = live.events$.subscribe((e) => {
      if (e.event === 'workspace.changed') this.receiveWorkspace(e.data.workspace);
    });
    let wasOpen = live.status$.value === 'open';
    const status = live.status$.subscribe((value) => {
      const open = value === 'open';
      if (open && !wasOpen) void this.loadWorkspaces(); // changes missed while disconnected
      wasOpen = open;
    });
    this.workspaceFeed = {
      from: live,
      stop: () => {
        pushes.unsubscribe();
        status.unsubscribe();
      },
    };
  }

  private loadTierLabels(api: ApiClient): void {
    this.tiersFrom = api;
    api.tiers().then(
      (tiers) => {
        if (this.tiersFrom === api) this.tierLabels = new Map(tiers.map((t) => [t.id, t.label]));
      },
      () => undefined, // the ids stay: still true, only less friendly
    );
  }

  private receiveWorkspace(workspace: Workspace): void {
    const listed = this.workspaces.some((w) => w.workspaceId === workspace.workspaceId);
    if (this.me !== undefined && !workspace.members.some((m) => m.userId === this.me)) {
      this.workspaces = this.workspaces.filter((w) => w.workspaceId !== workspace.workspaceId);
    } else {
      this.workspaces = listed
        ? this.workspaces.map((w) => (w.workspaceId === workspace.workspaceId ? workspace : w))
        : [...this.workspaces, workspace];
    }
  }

  protected override willUpdate(changed: PropertyValues): void {
    if (changed.has('showEnded') && changed.get('showEnded') !== undefined) this.rowLimit = FIRST_FRAME_ROWS;
    if (this.isConnected && this.api && this.api !== this.workspacesFrom) {
      this.workspacesFrom = this.api;
      void this.loadWorkspaces();
      this.startWorkspaceRefresh();
    }
    if (this.isConnected) this.followWorkspaces(this.live);
    if (this.isConnected && this.api && this.api !== this.tiersFrom) this.loadTierLabels(this.api);
    const running = this.sessions.value?.sessions.some((s) => RUNNING.has(s.state)) ?? false;
    if (running && this.isConnected) this.startClock();
    else this.stopClock();
    if (this.isConnected && this.api !== this.thumbnailsFrom) {
      this.thumbnails?.dispose();
      this.thumbnailsFrom = this.api;
      this.thumbnails = this.api ? new SessionThumbnails(this.api, () => this.requestUpdate()) : undefined;
    }
    this.thumbnails?.sync(this.sessions.value?.sessions ?? []);
  }

  protected override updated(): void {
    const listed = this.renderRoot.querySelectorAll('tbody tr').length;
    if (listed >= this.rowLimit && this.moreRowsFrame === undefined && this.moreRowsTimer === undefined) {
      // The rest of the rows right after this frame is painted: a frame callback, then a task.
      this.moreRowsFrame = requestAnimationFrame(() => {
        this.moreRowsFrame = undefined;
        this.moreRowsTimer = setTimeout(() => {
          this.moreRowsTimer = undefined;
          this.rowLimit = Number.POSITIVE_INFINITY;
        }, 0);
      });
    }
  }

  private cancelMoreRows(): void {
    if (this.moreRowsFrame !== undefined) cancelAnimationFrame(this.moreRowsFrame);
    clearTimeout(this.moreRowsTimer);
    this.moreRowsFrame = undefined;
    this.moreRowsTimer = undefined;
  }

  /**
   * One clock for the whole table, only while a listed session is running. It rewrites the running rows' uptime
   * text directly (a text write per row, no re-render of the table).
   */
  private startClock(): void {
    if (this.clock !== undefined) return;
    this.clock = setInterval(() => this.tick(), 1000);
  }

  private tick(): void {
    const now = Date.now();
    for (const cell of this.renderRoot.querySelectorAll<HTMLElement>('[data-running-since]')) {
      const text = formatDuration(now - Number(cell.dataset['runningSince']));
      if (cell.textContent !== text) cell.textContent = text;
    }
  }

  private stopClock(): void {
    clearInterval(this.clock);
    this.clock = undefined;
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

  /** The user's own open workspaces: who is in each, with the owner's controls (give/take control, remove). */
  private renderSharedByMe(): TemplateResult | typeof nothing {
    const mine = this.workspaces.filter((w) => w.state === 'open' && w.ownerId === this.me);
    if (mine.length === 0) return nothing;
    return html`<section aria-labelledby="shared-by-me-heading" data-shared-by-me>
      <h3 id="shared-by-me-heading">Shared by me</h3>
      ${mine.map(
        (w) =>
          html`<div class="workspace" data-workspace-id=${w.workspaceId}>
            <h4>${w.name} · ${w.sessionIds.map((id) => shortId(id)).join(', ')}</h4>
            <vsc-workspace-members
              .api=${this.api}
              .workspace=${w}
              me=${this.me ?? ''}
              theme=${this.theme}
              locale=${this.locale}
              @vsc-workspace-changed=${(e: CustomEvent<WorkspaceChangedDetail>) =>
                this.receiveWorkspace(e.detail.workspace)}
            ></vsc-workspace-members>
          </div>`,
      )}
    </section>`;
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
        </div>
        ${this.renderSharedWithMe()}`;
    }
    return html`<div class="table-wrap">
        <table part="table" aria-labelledby="heading" aria-busy=${value.loading ? 'true' : 'false'}>
          <colgroup>
            <col class="session" />
            <col class="thumb" />
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
              <th scope="col">Desktop</th>
              <th scope="col">Tier</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">Uptime</th>
              <th scope="col">Cost so far</th>
              <th scope="col"><span class="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            ${repeat(
              sessions.length > this.rowLimit ? sessions.slice(0, this.rowLimit) : sessions,
              (s) => s.sessionId,
              (s) => this.renderRow(s),
            )}
          </tbody>
        </table>
      </div>
      ${this.sharing ? this.renderShareForm(this.sharing) : nothing} ${this.renderSharedByMe()}
      ${this.renderSharedWithMe()}`;
  }

  /** A row is rebuilt only when something it shows changed (its session copy, busy, confirm, share, locale). */
  private renderRow(session: Session): unknown {
    const id = session.sessionId;
    return guard(
      [
        session,
        this.busy.get(id),
        this.confirming === id,
        this.changingTier === id,
        this.sharing === id,
        this.locale,
        this.thumbnails?.get(id),
        this.tierLabels,
      ],
      () => this.renderRowContent(session),
    );
  }

  private renderRowContent(session: Session): TemplateResult {
    const id = session.sessionId;
    const short = shortId(id);
    return html`<tr part="row" data-session-id=${id} data-state=${session.state}>
      <th scope="row"><code title=${id}>${short}</code></th>
      <td class="thumb">${this.renderThumbnail(this.thumbnails?.get(id), short)}</td>
      <td class="tier" data-tier=${session.tier}>${this.tierLabels?.get(session.tier) ?? session.tier}</td>
      <td>
        <span class="badge" data-tone=${stateTone(session.state)}>${stateLabel(session.state)}</span>
        ${
          session.state === 'failed' && session.failureReason
            ? html`<span class="reason">${session.failureReason}</span>`
            : nothing
        }
      </td>
      <td><time datetime=${session.createdAt}>${formatDateTime(session.createdAt, this.locale)}</time></td>
      ${this.renderUptime(session)}
      <td class="cost">${this.cost(session)}</td>
      <td class="actions">${this.renderActions(session, short)}</td>
    </tr>`;
  }

  /** The desktop's picture (fixed size, so it never moves the table); paused ones carry a badge. */
  private renderThumbnail(entry: ThumbnailEntry | undefined, short: string): TemplateResult {
    if (!entry) return html`<span class="thumb-box" data-thumbnail="none"></span>`;
    const paused = entry.state === 'paused';
    return html`<span class="thumb-box" data-thumbnail=${entry.state}
      ><img
        src=${entry.url}
        width="96"
        height="60"
        alt=${paused ? `Desktop of session ${short}, last picture before the pause` : `Desktop of session ${short}`}
      />${paused ? html`<span class="thumb-badge" aria-hidden="true">Paused</span>` : nothing}</span
    >`;
  }

  /** Running rows carry their start for the clock, which then keeps their text current (see tick()). */
  private renderUptime(session: Session): TemplateResult {
    const created = Date.parse(session.createdAt);
    if (RUNNING.has(session.state) && !Number.isNaN(created)) {
      // A property binding, not a child part: the clock may rewrite the text without breaking lit's markers.
      return html`<td
        class="uptime"
        data-running-since=${created}
        .textContent=${formatDuration(Date.now() - created)}
      ></td>`;
    }
    return html`<td class="uptime">${this.uptime(session)}</td>`;
  }

  private uptime(session: Session): string {
    if (session.state === 'requested' || session.state === 'provisioning') return 'Starting';
    if (session.state === 'terminated' || session.state === 'failed') return '—';
    return formatDuration(Date.parse(session.canonTimestamp) - Date.parse(session.createdAt));
  }

  /** The server's cost so far; a dash until the server has given one (e.g. billing is not running). */
  private cost(session: Session): TemplateResult | string {
    const micro = session.costSoFarMicroNexCoin;
    if (micro === undefined) return '—';
    return html`<span data-micro-nexcoin=${micro}>${formatNexCoin(micro, this.locale)} NexCoin</span>`;
  }

  private renderActions(session: Session, short: string): TemplateResult {
    const id = session.sessionId;
    const busy = this.busy.get(id);
    if (this.changingTier === id) return this.renderChangeTier(session);
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
      ${this.changeTierButton(session, short, busy)}
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

  /** "Change tier" on the user's own Active or Paused sessions (the server refuses anyone else's). */
  private changeTierButton(
    session: Session,
    short: string,
    busy: Action | undefined,
  ): TemplateResult | typeof nothing {
    const own = this.me === undefined || session.userId === this.me;
    if (!own || (session.state !== 'active' && session.state !== 'paused')) return nothing;
    return html`<button
      type="button"
      data-action="change-tier"
      aria-label="Change tier of session ${short}"
      ?disabled=${busy !== undefined}
      @click=${() => (this.changingTier = session.sessionId)}
    >
      Change tier
    </button>`;
  }

  private renderChangeTier(session: Session): TemplateResult {
    return html`<vsc-change-tier
      .session=${session}
      .api=${this.api}
      .store=${this.store}
      theme=${this.theme}
      locale=${this.locale}
      @vsc-change-tier-cancel=${() => void this.closeChangeTier(session.sessionId)}
      @vsc-tier-changed=${(e: CustomEvent<TierChangedDetail>) => {
        void this.closeChangeTier(session.sessionId);
        this.notice = '';
        requestAnimationFrame(
          () =>
            (this.notice = `Session ${shortId(e.detail.sessionId)} changed to the ${this.tierLabels?.get(e.detail.tier) ?? e.detail.tier} tier.`),
        );
      }}
    ></vsc-change-tier>`;
  }

  /** Closes the row's form and gives focus back to its "Change tier" button. */
  private async closeChangeTier(sessionId: string): Promise<void> {
    if (this.changingTier === sessionId) this.changingTier = null;
    await this.updateComplete;
    this.button(sessionId, 'change-tier')?.focus();
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
