import { html, nothing, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import type { ApiClient } from '../api/api-client.ts';
import { SESSION_CHANGED_EVENT, type SessionChangedDetail } from '../shared/events.ts';
import { shortId, stateLabel } from '../shared/format.ts';
import { VscElement } from '../shared/vsc-element.ts';
import type { SessionsState, SessionsStore } from '../state/sessions-store.ts';
import { StoreController } from '../state/store-controller.ts';
import type { DecoderWorkerFactory } from '../viewer/viewer.component.ts';
import { styles } from './session-parcel.styles.ts';

/** What a person may do with a session embedded in a workspace. */
export type ParcelRole = 'owner' | 'participant' | 'observer';

export const PARCEL_ROLES: readonly ParcelRole[] = ['owner', 'participant', 'observer'];

const ROLE_LABELS: Record<ParcelRole, string> = {
  owner: 'Owner',
  participant: 'Participant',
  observer: 'Observer',
};

const ROLE_NOTES: Record<ParcelRole, string> = {
  owner: 'You own this session: you can use it, pause, resume and terminate it.',
  participant: 'You are a participant: you can use the desktop.',
  observer: 'You are an observer: you can watch; your keyboard and mouse are not sent.',
};

/**
 * @tagname vsc-session-parcel
 * @summary One session for a collaborative workspace: its desktop (the viewer) and who is in it.
 *
 * The owner gets the session's controls; a participant uses the desktop without them; an observer only watches
 * (`view-only` viewer: no input is sent). The participant list shows the session's owner (workspaces will add the
 * others). Session state changes of this session are announced in a live region and on the host's `eventBus`.
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

  @state() private announcement = '';

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
          ?view-only=${this.parcelRole === 'observer'}
          embedded
          theme=${this.theme}
          locale=${this.locale}
        ></vsc-viewer>
        <aside part="participants" aria-labelledby="participants-heading">
          <h2 id="participants-heading">Participants</h2>
          ${
            missing
              ? html`<p class="role" role="status">This session is not available to you.</p>`
              : html`<ul>
                  <li data-participant="owner" data-user-id=${session?.userId ?? ''}>
                    <span class="who">${session ? session.userId : 'Loading…'}</span>
                    <span class="role">${ROLE_LABELS.owner}</span>
                  </li>
                </ul>`
          }
          <p class="you" data-role=${this.parcelRole}>${ROLE_NOTES[this.parcelRole]}</p>
          ${session ? html`<p class="you">State: ${stateLabel(session.state)}</p>` : nothing}
        </aside>
      </div>
      <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">
        ${this.announcement}
      </div>`;
  }
}
