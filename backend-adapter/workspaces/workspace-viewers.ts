import { StreamCloseCode, type ServerStreamMessage } from '../../protocol/stream.ts';
import { roleMaySendInput, type Workspace, type WorkspaceRole } from '../../protocol/workspaces.ts';
import { StreamClosure } from '../gateway/stream-bridge.ts';
import { joinedRole } from '../canon/workspace-changes.ts';

/** One viewer streaming a session through a workspace, on this replica. */
export interface WorkspaceViewer {
  /** Asked by the gateway on every input message. */
  canSendInput(): boolean;
  /** Aborted (with a StreamClosure, close code 4403) when the viewer may no longer watch. */
  signal: AbortSignal;
  /** The role the viewer currently watches with. */
  role(): WorkspaceRole;
  /** Called with the viewer's role and input permission whenever either changes (the gateway tells the viewer). */
  onChange(listener: (access: StreamAccessState) => void): void;
  /** Forget the viewer (its stream ended). */
  release(): void;
}

/** What a workspace lets one viewer do right now (the gateway's `access` message). */
export type StreamAccessState = Omit<Extract<ServerStreamMessage, { t: 'access' }>, 't'>;

interface Entry {
  sessionId: string;
  userId: string;
  role: WorkspaceRole;
  allowed: boolean;
  abort: AbortController;
  listener?: (access: StreamAccessState) => void;
}

export const REMOVED_REASON = 'no longer in the workspace';

/**
 * The viewers this replica streams through workspaces, keyed by workspace. Every workspace change (from
 * the event bus, so from every replica) re-gates them at once: input is allowed or dropped from the next
 * message on, and a viewer who left, was removed, or whose workspace closed has its stream closed with
 * StreamCloseCode.Removed.
 */
export class WorkspaceViewers {
  private readonly byWorkspace = new Map<string, Set<Entry>>();

  register(workspace: Workspace, sessionId: string, userId: string): WorkspaceViewer {
    const role = joinedRole(workspace, userId);
    const entry: Entry = {
      sessionId,
      userId,
      role: role ?? 'observer',
      allowed: false,
      abort: new AbortController(),
    };
    let set = this.byWorkspace.get(workspace.workspaceId);
    if (!set) {
      set = new Set();
      this.byWorkspace.set(workspace.workspaceId, set);
    }
    set.add(entry);
    this.gate(entry, workspace);
    const owner = set;
    return {
      canSendInput: () => entry.allowed && !entry.abort.signal.aborted,
      signal: entry.abort.signal,
      role: () => entry.role,
      onChange: (listener) => {
        entry.listener = listener;
      },
      release: () => {
        owner.delete(entry);
        if (owner.size === 0 && this.byWorkspace.get(workspace.workspaceId) === owner) {
          this.byWorkspace.delete(workspace.workspaceId);
        }
      },
    };
  }

  /** Applies the workspace's current state to every viewer of it on this replica. */
  apply(workspace: Workspace): void {
    for (const entry of this.byWorkspace.get(workspace.workspaceId) ?? []) this.gate(entry, workspace);
  }

  /** How many viewers of the workspace this replica streams (for tests and metrics). */
  count(workspaceId: string): number {
    return this.byWorkspace.get(workspaceId)?.size ?? 0;
  }

  private gate(entry: Entry, workspace: Workspace): void {
    if (entry.abort.signal.aborted) return;
    const role = joinedRole(workspace, entry.userId);
    if (workspace.state !== 'open' || role === undefined || !workspace.sessionIds.includes(entry.sessionId)) {
      entry.allowed = false;
      entry.abort.abort(new StreamClosure(StreamCloseCode.Removed, REMOVED_REASON));
      return;
    }
    const allowed = roleMaySendInput(role, entry.userId, workspace.controllerId);
    const changed = role !== entry.role || allowed !== entry.allowed;
    entry.role = role;
    entry.allowed = allowed;
    if (changed) entry.listener?.({ role, input: allowed });
  }
}
