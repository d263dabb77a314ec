import { HANDSHAKE } from '../../protocol/handshake.ts';
import type { InvitedRole, Workspace, WorkspaceMember, WorkspaceRole } from '../../protocol/workspaces.ts';
import { MAX_WORKSPACE_MEMBERS } from '../../protocol/workspace-constants.ts';

/**
 * Workspace changes, decided the same way by every Canon adapter: the adapter reads the current workspace
 * inside its write transaction (row-locked where the database has row locks), asks `applyWorkspaceChange`
 * what the change means, then writes the new current state and the one Canon record it returns — or writes
 * nothing when the change is refused.
 */
export type WorkspaceChange =
  | { kind: 'invite'; actor: string; userId: string; role: InvitedRole }
  | { kind: 'accept'; actor: string }
  | { kind: 'decline'; actor: string }
  | { kind: 'leave'; actor: string }
  | { kind: 'remove'; actor: string; userId: string }
  | { kind: 'set-role'; actor: string; userId: string; role: InvitedRole }
  | { kind: 'grant-control'; actor: string; userId: string }
  | { kind: 'revoke-control'; actor: string }
  | { kind: 'close'; actor: string };

export type WorkspaceRefusal =
  'WORKSPACE_NOT_FOUND' | 'WORKSPACE_OWNER_REQUIRED' | 'WORKSPACE_CONFLICT' | 'INVITATION_NOT_FOUND';

/** Thrown by CanonStore.changeWorkspace when the change is not allowed; nothing was written. */
export class WorkspaceChangeError extends Error {
  constructor(
    readonly code: WorkspaceRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** What an accepted change writes: the new workspace and its Canon record (action, the person it is about). */
export interface WorkspaceChangeOutcome {
  workspace: Workspace;
  action: string;
  /** The person the record is about (written as their subject reference, see subjects.ts); absent: the actor. */
  subjectUserId?: string;
  payload: Record<string, unknown>;
}

function memberOf(w: Workspace, userId: string): WorkspaceMember | undefined {
  return w.members.find((m) => m.userId === userId);
}

function requireOwner(w: Workspace, actor: string): void {
  if (w.ownerId !== actor) {
    throw new WorkspaceChangeError('WORKSPACE_OWNER_REQUIRED', "only the workspace's owner may do this");
  }
}

function conflict(message: string): never {
  throw new WorkspaceChangeError('WORKSPACE_CONFLICT', message);
}

/** The decision for `change` on `current` at `at`; throws WorkspaceChangeError when it is refused. */
export function applyWorkspaceChange(
  current: Workspace,
  change: WorkspaceChange,
  at: string,
): WorkspaceChangeOutcome {
  if (current.state === 'closed') conflict('the workspace is closed');
  const next: Workspace = { ...current, members: current.members.map((m) => ({ ...m })), updatedAt: at };
  const without = (userId: string) => next.members.filter((m) => m.userId !== userId);
  switch (change.kind) {
    case 'invite': {
      requireOwner(current, change.actor);
      if (memberOf(current, change.userId))
        conflict(`${change.userId} is already in the workspace or invited`);
      if (current.members.length >= MAX_WORKSPACE_MEMBERS) conflict('the workspace is full');
      next.members.push({
        userId: change.userId,
        role: change.role,
        status: 'invited',
        invitedAt: at,
        joinedAt: null,
      });
      return {
        workspace: next,
        action: 'workspace.invited',
        subjectUserId: change.userId,
        payload: { role: change.role },
      };
    }
    case 'accept':
    case 'decline': {
      const invited = memberOf(current, change.actor);
      if (!invited || invited.status !== 'invited') {
        throw new WorkspaceChangeError(
          'INVITATION_NOT_FOUND',
          'there is no pending invitation for this user',
        );
      }
      if (change.kind === 'decline') {
        next.members = without(change.actor);
        return { workspace: next, action: 'workspace.declined', payload: { role: invited.role } };
      }
      next.members = next.members.map((m) =>
        m.userId === change.actor ? { ...m, status: 'joined', joinedAt: at } : m,
      );
      return { workspace: next, action: 'workspace.joined', payload: { role: invited.role } };
    }
    case 'leave': {
      const member = memberOf(current, change.actor);
      if (!member) throw new WorkspaceChangeError('WORKSPACE_NOT_FOUND', 'not a member of this workspace');
      if (member.role === 'owner') conflict('the owner cannot leave; close the workspace instead');
      next.members = without(change.actor);
      if (next.controllerId === change.actor) next.controllerId = null;
      return { workspace: next, action: 'workspace.left', payload: { role: member.role } };
    }
    case 'remove': {
      requireOwner(current, change.actor);
      const member = memberOf(current, change.userId);
      if (!member) conflict(`${change.userId} is not in the workspace`);
      if (member.role === 'owner') conflict('the owner cannot be removed');
      next.members = without(change.userId);
      if (next.controllerId === change.userId) next.controllerId = null;
      return {
        workspace: next,
        action: member.status === 'invited' ? 'workspace.invitation-withdrawn' : 'workspace.removed',
        subjectUserId: change.userId,
        payload: { role: member.role },
      };
    }
    case 'set-role': {
      requireOwner(current, change.actor);
      const member = memberOf(current, change.userId);
      if (!member) conflict(`${change.userId} is not in the workspace`);
      if (member.role === 'owner') conflict("the owner's role cannot change");
      next.members = next.members.map((m) => (m.userId === change.userId ? { ...m, role: change.role } : m));
      // An observer never holds control.
      if (change.role === 'observer' && next.controllerId === change.userId) next.controllerId = null;
      return {
        workspace: next,
        action: 'workspace.role-changed',
        subjectUserId: change.userId,
        payload: { from: member.role, to: change.role },
      };
    }
    case 'grant-control': {
      requireOwner(current, change.actor);
      const member = memberOf(current, change.userId);
      if (!member || member.status !== 'joined') conflict(`${change.userId} has not joined the workspace`);
      if (member.role === 'observer')
        conflict('an observer cannot be given control; make them a participant first');
      // Granting to the owner is taking control back.
      next.controllerId = member.role === 'owner' ? null : change.userId;
      return {
        workspace: next,
        action: next.controllerId === null ? 'workspace.control-revoked' : 'workspace.control-granted',
        subjectUserId: change.userId,
        payload: {},
      };
    }
    case 'revoke-control': {
      requireOwner(current, change.actor);
      const holder = current.controllerId;
      next.controllerId = null;
      return {
        workspace: next,
        action: 'workspace.control-revoked',
        ...(holder === null ? {} : { subjectUserId: holder }),
        payload: {},
      };
    }
    case 'close': {
      requireOwner(current, change.actor);
      next.state = 'closed';
      next.controllerId = null;
      return { workspace: next, action: 'workspace.closed', payload: {} };
    }
  }
}

/** A new workspace as createWorkspace stores it: the owner joined, no one in control. */
export function newWorkspace(w: {
  workspaceId: string;
  tenantId: string;
  ownerId: string;
  name: string;
  sessionIds: readonly string[];
  at: Date;
}): Workspace {
  const at = w.at.toISOString();
  return {
    workspaceId: w.workspaceId,
    tenantId: w.tenantId,
    name: w.name,
    ownerId: w.ownerId,
    state: 'open',
    sessionIds: [...new Set(w.sessionIds)],
    members: [{ userId: w.ownerId, role: 'owner', status: 'joined', invitedAt: at, joinedAt: at }],
    controllerId: null,
    createdAt: at,
    updatedAt: at,
    handshake: HANDSHAKE,
  };
}

/** The role `userId` watches with, or undefined unless they have joined. */
export function joinedRole(w: Workspace, userId: string): WorkspaceRole | undefined {
  const m = memberOf(w, userId);
  return m?.status === 'joined' ? m.role : undefined;
}
