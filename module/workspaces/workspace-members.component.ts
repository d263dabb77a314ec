import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import type { Workspace, WorkspaceMember, WorkspaceRole } from '../../protocol/workspaces.ts';
import { toApiError, type ApiClient } from '../api/api-client.ts';
import { VscElement } from '../shared/vsc-element.ts';
import { styles } from './workspace-members.styles.ts';

export const ROLE_LABELS: Record<WorkspaceRole, string> = {
  owner: 'Owner',
  participant: 'Participant',
  observer: 'Observer',
};

/** `detail` of `vsc-workspace-changed`: the workspace as the server answered the owner's change. */
export interface WorkspaceChangedDetail {
  workspace: Workspace;
}

type MemberAction = 'grant-control' | 'revoke-control' | 'remove-member';

/**
 * @tagname vsc-workspace-members
 * @summary The people in a collaborative workspace, with their role, invitation state and who holds control; the
 * workspace's owner can give control to a joined participant, take it back, and remove anyone (a pending
 * invitation is withdrawn the same way).
 *
 * Removing someone (or withdrawing an invitation) asks first, in the person's item, as Terminate does in Active
 * Sessions: "Remove bob from the workspace?" with Remove and Cancel; focus moves to Cancel, Escape or Cancel
 * closes it without a request and puts focus back on the person's Remove button.
 *
 * Items carry `data-user-id`, `data-participant` (the role), `data-status` (`invited` | `joined`) and
 * `data-has-control`; buttons carry `data-action` (`grant-control`, `revoke-control`, `remove-member`,
 * `confirm-remove`, `cancel-remove`) and `data-user-id`. They are native buttons named after the person, so Tab,
 * Enter and Space do everything; after a change focus stays on the person's control button, or moves to the list
 * when they were removed. Outcomes are announced in a polite live region, refusals in an alert. The element shows
 * the `workspace` it is given: the owner of the data (Active Sessions, the session parcel) keeps it current from
 * live events and takes each answer from `vsc-workspace-changed`.
 *
 * @event vsc-workspace-changed - The server accepted a change. `detail: { workspace }`.
 *
 * @csspart list - The member list.
 */
export class VscWorkspaceMembers extends VscElement {
  static override styles = styles;

  @property({ attribute: false }) api?: ApiClient;
  @property({ attribute: false }) workspace?: Workspace;
  /** The signed-in user's id: the owner's controls show only to the owner; "(you)" marks their own item. */
  @property() me = '';

  @state() private busy: string | null = null;
  /** The person whose removal waits for the owner's confirmation. */
  @state() private confirming: string | null = null;
  @state() private error = '';
  @state() private announcement = '';

  protected override willUpdate(changed: PropertyValues): void {
    // Another workspace, or the person left meanwhile (a push): nothing is left to confirm.
    if (changed.has('workspace') && this.confirming !== null) {
      const before = changed.get('workspace') as Workspace | undefined;
      const still = this.workspace?.members.some((m) => m.userId === this.confirming);
      if (!still || before?.workspaceId !== this.workspace?.workspaceId) this.confirming = null;
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.confirming = null;
  }

  private async askRemove(member: WorkspaceMember): Promise<void> {
    this.confirming = member.userId;
    await this.updateComplete;
    this.button(member.userId, 'cancel-remove')?.focus();
  }

  private async cancelRemove(member: WorkspaceMember): Promise<void> {
    this.confirming = null;
    await this.updateComplete;
    this.button(member.userId, 'remove-member')?.focus();
  }

  private button(userId: string, action: string): HTMLButtonElement | null {
    return this.item(userId)?.querySelector<HTMLButtonElement>(`button[data-action="${action}"]`) ?? null;
  }

  private async act(member: WorkspaceMember, action: MemberAction): Promise<void> {
    const api = this.api;
    const workspace = this.workspace;
    if (!api || !workspace || this.busy) return;
    this.busy = member.userId;
    this.error = '';
    this.announcement = '';
    try {
      const id = workspace.workspaceId;
      const changed =
        action === 'remove-member'
          ? await api.removeFromWorkspace(id, member.userId)
          : await api.setControl(id, action === 'grant-control' ? member.userId : null);
      this.workspace = changed;
      this.emit<WorkspaceChangedDetail>('vsc-workspace-changed', { workspace: changed });
      this.announcement =
        action === 'grant-control'
          ? `${member.userId} now has control of the desktop.`
          : action === 'revoke-control'
            ? `You took control back from ${member.userId}.`
            : member.status === 'invited'
              ? `Invitation of ${member.userId} withdrawn.`
              : `${member.userId} was removed from the workspace.`;
    } catch (error) {
      this.error = `Could not change ${member.userId}'s access: ${toApiError(error).message}`;
    } finally {
      this.busy = null;
      if (action === 'remove-member') this.confirming = null;
    }
    await this.updateComplete;
    const item = this.item(member.userId);
    const focusTarget =
      item?.querySelector<HTMLButtonElement>('button[data-action$="control"]') ??
      item?.querySelector<HTMLButtonElement>('button') ??
      this.renderRoot.querySelector<HTMLElement>('ul');
    focusTarget?.focus();
  }

  private item(userId: string): HTMLElement | undefined {
    return [...this.renderRoot.querySelectorAll<HTMLElement>('li[data-user-id]')].find(
      (li) => li.dataset['userId'] === userId,
    );
  }

  override render(): TemplateResult {
    const w = this.workspace;
    if (!w) return html``;
    const owner = w.ownerId === this.me;
    return html`<ul
        part="list"
        data-workspace-id=${w.workspaceId}
        tabindex="-1"
        aria-label="People in ${w.name}"
      >
        ${w.members.map((m) => this.renderMember(w, m, owner))}
      </ul>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-announcement>
        ${this.announcement}
      </div>`;
  }

  private renderMember(w: Workspace, m: WorkspaceMember, owner: boolean): TemplateResult {
    const controls = w.controllerId === m.userId;
    const busy = this.busy !== null;
    const mayControl = owner && m.role === 'participant' && m.status === 'joined';
    return html`<li
      data-participant=${m.role}
      data-user-id=${m.userId}
      data-status=${m.status}
      ?data-has-control=${controls}
    >
      <span class="who">${m.userId}${m.userId === this.me ? ' (you)' : ''}</span>
      <span class="role"
        >${ROLE_LABELS[m.role]}${m.status === 'invited' ? ' · invited' : ''}${controls ? ' · has control' : ''}</span
      >
      ${owner && m.role !== 'owner' ? this.renderOwnerControls(m, controls, mayControl, busy) : nothing}
    </li>`;
  }

  /** The owner's buttons for someone, or the removal question while it is asked. */
  private renderOwnerControls(
    m: WorkspaceMember,
    controls: boolean,
    mayControl: boolean,
    busy: boolean,
  ): TemplateResult {
    if (this.confirming === m.userId) return this.renderConfirmRemove(m);
    return html`<span class="actions">
      ${
        mayControl
          ? html`<button
              type="button"
              data-action=${controls ? 'revoke-control' : 'grant-control'}
              data-user-id=${m.userId}
              aria-label=${controls ? `Take back control from ${m.userId}` : `Give control to ${m.userId}`}
              ?disabled=${busy}
              @click=${() => void this.act(m, controls ? 'revoke-control' : 'grant-control')}
            >
              ${controls ? 'Take back control' : 'Give control'}
            </button>`
          : nothing
      }
      <button
        type="button"
        class="danger"
        data-action="remove-member"
        data-user-id=${m.userId}
        aria-label=${m.status === 'invited' ? `Withdraw the invitation of ${m.userId}` : `Remove ${m.userId} from the workspace`}
        ?disabled=${busy}
        @click=${() => void this.askRemove(m)}
      >
        ${m.status === 'invited' ? 'Withdraw' : 'Remove'}
      </button>
    </span>`;
  }

  /** The question in the person's item: Remove (or Withdraw) and Cancel; Escape cancels. */
  private renderConfirmRemove(m: WorkspaceMember): TemplateResult {
    const invited = m.status === 'invited';
    const removing = this.busy === m.userId;
    return html`<span
      class="confirm"
      role="group"
      aria-label=${invited ? `Confirm withdrawing the invitation of ${m.userId}` : `Confirm removal of ${m.userId}`}
      @keydown=${(e: KeyboardEvent) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          void this.cancelRemove(m);
        }
      }}
    >
      <span data-question
        >${
          invited
            ? `Withdraw the invitation of ${m.userId}?`
            : `Remove ${m.userId} from the workspace? Their view of the desktop closes at once.`
        }</span
      >
      <button
        type="button"
        class="danger"
        data-action="confirm-remove"
        data-user-id=${m.userId}
        ?disabled=${this.busy !== null}
        @click=${() => void this.act(m, 'remove-member')}
      >
        ${invited ? (removing ? 'Withdrawing…' : 'Withdraw') : removing ? 'Removing…' : 'Remove'}
      </button>
      <button
        type="button"
        data-action="cancel-remove"
        data-user-id=${m.userId}
        @click=${() => void this.cancelRemove(m)}
      >
        Cancel
      </button>
    </span>`;
  }
}
