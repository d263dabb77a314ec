import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import {
  EMPTY,
  defer,
  distinctUntilChanged,
  filter,
  interval,
  merge,
  switchMap,
  tap,
  type Observable,
} from 'rxjs';
import type { ApiClient } from '../api/api-client.ts';
import type { LiveEvents } from '../api/live-events.ts';
import type { Workspace, WorkspaceMember } from '../../protocol/workspaces.ts';
import { roleMaySendInput } from '../../protocol/workspace-constants.ts';
import { SESSION_CHANGED_EVENT, type SessionChangedDetail } from '../shared/events.ts';
import { shortId, stateLabel } from '../shared/format.ts';
import { VscElement } from '../shared/vsc-element.ts';
import type { PreferencesStore } from '../state/preferences-store.ts';
import type { SessionsState, SessionsStore } from '../state/sessions-store.ts';
import { StoreController } from '../state/store-controller.ts';
import type { DecoderWorkerFactory } from '../viewer/viewer.component.ts';
import { ROLE_LABELS, type WorkspaceChangedDetail } from '../workspaces/workspace-members.component.ts';
import { styles } from './session-parcel.styles.ts';

/** What a person may do with a session embedded in a workspace. */
export type ParcelRole = 'owner' | 'participant' | 'observer';

export const PARCEL_ROLES: readonly ParcelRole[] = ['owner', 'participant', 'observer'];

const ROLE_NOTES: Record<ParcelRole, string> = {
  owner: 'You own this session: you can use it, pause, resume and terminate it.',
  participant: 'You are a participant: you can use the desktop while the owner gives you control.',
  observer: 'You are an observer: you can watch; your keyboard and mouse are not sent.',
};

/**
 * How often the parcel re-reads the workspace (members, roles, who holds control) while it cannot hear
 * `workspace.changed` pushes: the live stream is down, or the parcel was given none.
 */
export const WORKSPACE_REFRESH_MS = 2000;

/**
 * @tagname vsc-session-parcel
 * @summary One session for a collaborative workspace: its desktop (the viewer) and who is in it.
 *
 * The owner gets the session's controls; a participant uses the desktop without them; an observer only watches
 * (`view-only` viewer: no input is sent). When the session is shared through a collaborative workspace the
 * participant list shows its members with their roles and who holds control (re-read on every
 * `workspace.changed` live event about it, and every WORKSPACE_REFRESH_MS only while the live stream is down),
 * the view is view-only unless the user may send input (owner, or the participant holding
 * control; the gateway enforces the same), and the workspace's owner can hand control over, take it back and
 * remove people (`<vsc-workspace-members>`, shared with Active Sessions). Session state changes of
 * this session are announced in a live region and on the host's `eventBus`.
 *
 * @csspart viewer - The session's viewer.
 * @csspart participants - The participant list.
 */
export class VscSessionParcel extends VscElement {
  static override styles = styles;

  @property({ attribute: false }) api?: ApiClient;
  @property({ attribute: false }) store?: SessionsStore;
  @property({ attribute: 'session-id' }) sessionId = '';
  /** The viewer's role (the `role` prop of the parcel; `role` itself is an ARIA attribute of every element). */
  @property({ attribute: 'parcel-role', reflect: true }) parcelRole: ParcelRole = 'observer';
  @property({ attribute: false }) eventBus?: EventTarget;
  @property({ attribute: false }) workerFactory?: DecoderWorkerFactory;
  /**
   * The user's stored settings (stream quality, scaling, keyboard layout), applied by the viewer as in the main
   * view; a view-only viewer never takes the `remote` scaling (it fits instead: an observer never resizes).
   */
  @property({ attribute: false }) preferences?: PreferencesStore;
  /** The user's live events (shared with the sessions store): workspace changes arrive through them. */
  @property({ attribute: false }) live?: LiveEvents;
  /** How often the workspace is re-read while no pushes can arrive (see WORKSPACE_REFRESH_MS). */
  @property({ attribute: false }) workspaceRefreshMs = WORKSPACE_REFRESH_MS;

  @state() private announcement = '';
  /** The open workspace sharing this session (the one giving the user the most rights), once loaded. */
  @state() private workspace: Workspace | undefined;
  @state() private me: string | undefined;

  /** What the workspace follows now (the live events it was given), until `stop()`. */
  private following: { from: LiveEvents | undefined; stop: () => void } | undefined;
  private loading: AbortController | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.loadWorkspace();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.following?.stop();
    this.following = undefined;
    this.loading?.abort();
    this.loading = undefined;
  }

  protected override updated(changed: PropertyValues): void {
    if (changed.has('sessionId') || changed.has('api')) void this.loadWorkspace();
    if (this.isConnected) this.followWorkspace(this.live);
  }

  /** (Re)subscribes to what says the workspace changed when the live events are new (or on first connect). */
  private followWorkspace(live: LiveEvents | undefined): void {
    if (this.following && this.following.from === live) return;
    this.following?.stop();
    const subscription = this.workspaceChanges(live).subscribe();
    this.following = { from: live, stop: () => subscription.unsubscribe() };
  }

  /**
   * Re-reads the workspace on each `workspace.changed` push about this session or the workspace shown, once
   * when the stream (re)opens (changes missed while it was closed), and on a timer only while it is down.
   * Without live events the timer is all there is.
   */
  private workspaceChanges(live: LiveEvents | undefined): Observable<unknown> {
    const poll = defer(() => interval(this.workspaceRefreshMs)).pipe(tap(() => void this.loadWorkspace()));
    if (!live) return poll;
    const pushes = live.events$.pipe(
      filter(
        (e) =>
          e.event === 'workspace.changed' &&
          (e.data.workspace.sessionIds.includes(this.sessionId) ||
            e.data.workspace.workspaceId === this.workspace?.workspaceId),
      ),
      tap(() => void this.loadWorkspace()),
    );
    let wasOpen = live.status$.value === 'open';
    const status = live.status$.pipe(
      distinctUntilChanged(),
      tap((value) => {
        if (value === 'open' && !wasOpen) void this.loadWorkspace();
        wasOpen = value === 'open';
      }),
      switchMap((value) => (value === 'down' ? poll : EMPTY)),
    );
    return merge(pushes, status);
  }

  private async loadWorkspace(): Promise<void> {
    const api = this.api;
    if (!api || !this.sessionId || !this.isConnected) return;
    this.loading?.abort();
    const aborter = new AbortController();
    this.loading = aborter;
    try {
      const me = this.me ?? (await api.userId());
      const all = await api.listWorkspaces({ signal: aborter.signal });
      if (aborter.signal.aborted) return;
      this.me = me;
      const rank = (w: Workspace) => {
        const m = w.members.find((x) => x.userId === me);
        if (!m) return 0;
        return { owner: 4, participant: 2, observer: 1 }[m.role] + (w.controllerId === me ? 1 : 0);
      };
      const candidates = all
        .filter((w) => w.state === 'open' && w.sessionIds.includes(this.sessionId))
        .sort((a, b) => rank(b) - rank(a));
      this.workspace = candidates[0];
    } catch {
      // Sharing is optional: without the list the parcel behaves as before (role from the host).
    }
  }

  /** The user's membership in the workspace, when the session is shared. */
  private membership(): WorkspaceMember | undefined {
    return this.workspace?.members.find((m) => m.userId === this.me);
  }

  private viewOnly(): boolean {
    const member = this.membership();
    if (this.workspace && member) {
      if (member.status !== 'joined') return true;
      return !roleMaySendInput(member.role, member.userId, this.workspace.controllerId);
    }
    return this.parcelRole === 'observer';
  }

  private readonly sessions = new StoreController<SessionsState>(
    this,
    () => this.store?.state$,
    (value, previous) => this.onSessions(value, previous),
  );

  private onSessions(value: SessionsState, previous: SessionsState | undefined): void {
    if (!previous || previous.updatedAt === null) return;
    const now = value.sessions.find((s) => s.sessionId === this.sessionId);
    const before = previous.sessions.find((s) => s.sessionId === this.sessionId);
    if (!now || now.state === before?.state) return;
    const detail: SessionChangedDetail = {
      module: 'v-supercore',
      sessionId: now.sessionId,
      state: now.state,
      previousState: before?.state ?? null,
    };
    this.eventBus?.dispatchEvent(new CustomEvent(SESSION_CHANGED_EVENT, { detail }));
    this.announcement = `Session ${shortId(now.sessionId)} is now ${stateLabel(now.state).toLowerCase()}.`;
  }

  override render(): TemplateResult {
    const value = this.sessions.value;
    const session = value?.sessions.find((s) => s.sessionId === this.sessionId);
    const missing = value?.updatedAt != null && !session;
    return html`<div class="layout">
        <vsc-viewer
          part="viewer"
          session-id=${this.sessionId}
          .api=${this.api}
          .store=${this.parcelRole === 'owner' ? this.store : undefined}
          .workerFactory=${this.workerFactory}
          .preferences=${this.preferences}
          ?view-only=${this.viewOnly()}
          embedded
          theme=${this.theme}
          locale=${this.locale}
        ></vsc-viewer>
        <aside part="participants" aria-labelledby="participants-heading">
          <h2 id="participants-heading">Participants</h2>
          ${
            this.workspace
              ? html`<vsc-workspace-members
                  .api=${this.api}
                  .workspace=${this.workspace}
                  me=${this.me ?? ''}
                  theme=${this.theme}
                  locale=${this.locale}
                  @vsc-workspace-changed=${(e: CustomEvent<WorkspaceChangedDetail>) =>
                    (this.workspace = e.detail.workspace)}
                ></vsc-workspace-members>`
              : missing
                ? html`<p class="role" role="status">This session is not available to you.</p>`
                : html`<ul>
                    <li data-participant="owner" data-user-id=${session?.userId ?? ''}>
                      <span class="who">${session ? session.userId : 'Loading…'}</span>
                      <span class="role">${ROLE_LABELS.owner}</span>
                    </li>
                  </ul>`
          }
          <p class="you" data-role=${this.membership()?.role ?? this.parcelRole}>
            ${ROLE_NOTES[this.membership()?.role ?? this.parcelRole]}
            ${
              this.workspace && !this.viewOnly() && this.membership()?.role === 'participant'
                ? html`<strong data-has-control>You have control.</strong>`
                : nothing
            }
          </p>
          ${session ? html`<p class="you">State: ${stateLabel(session.state)}</p>` : nothing}
        </aside>
      </div>
      <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-announcement>
        ${this.announcement}
      </div>`;
  }
}
