import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CreateWorkspaceRequest, Workspace, WorkspaceRole } from '../../protocol/workspaces.ts';
import { ApiError } from '../api-error.ts';
import type { Principal } from '../auth/principal.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import {
  joinedRole,
  newWorkspace,
  WorkspaceChangeError,
  type WorkspaceChange,
} from '../canon/workspace-changes.ts';
import type { WorkspaceEventBus } from '../events/workspace-event-bus.ts';
import type { StreamTarget } from '../gateway/stream-bridge.ts';
import type { SessionAccess } from '../lifecycle/session-access.ts';

/** How a viewer may stream a session: as its owner (or a tenant admin), or through a workspace. */
export type StreamAccess =
  | { target: StreamTarget; via: 'owner' }
  | { target: StreamTarget; via: 'workspace'; workspace: Workspace; role: WorkspaceRole };

export interface WorkspaceServiceDeps {
  canon: CanonStore;
  access: Pick<SessionAccess, 'get' | 'streamTarget' | 'sharedStreamTarget'>;
  events: WorkspaceEventBus;
  logger: Logger;
  clock?: () => Date;
}

const ROLE_RANK: Record<WorkspaceRole, number> = { owner: 3, participant: 2, observer: 1 };

/**
 * Collaborative workspaces: who may see which shared session, with which role. Every change is decided
 * and recorded by Canon Memory (CanonStore.changeWorkspace), then published so every replica re-gates its
 * viewers. A workspace of another tenant, or one the caller is neither in nor invited to, is reported as
 * missing (its existence is not disclosed).
 */
export class WorkspaceService {
  private readonly clock: () => Date;

  constructor(private readonly deps: WorkspaceServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async create(principal: Principal, request: CreateWorkspaceRequest): Promise<Workspace> {
    const sessionIds = [...new Set(request.sessionIds)];
    for (const sessionId of sessionIds) {
      // Only sessions the caller may manage can be shared; another's is reported missing, as everywhere.
      await this.deps.access.get(principal, sessionId);
    }
    const invitees = request.invite ?? [];
    if (invitees.some((i) => i.userId === principal.userId)) {
      throw new ApiError('WORKSPACE_CONFLICT', 'The owner cannot invite themself.');
    }
    const workspace = newWorkspace({
      workspaceId: randomUUID(),
      tenantId: principal.tenantId,
      ownerId: principal.userId,
      name: request.name,
      sessionIds,
      at: this.clock(),
    });
    const invitations = invitees.map((invite): WorkspaceChange => ({
      kind: 'invite',
      actor: principal.userId,
      userId: invite.userId,
      role: invite.role,
    }));
    // One transaction with its invitations: a refused one leaves nothing, and no one reads it half made.
    const current = await refusedAsApiError(() => this.deps.canon.createWorkspace(workspace, invitations));
    if (invitations.length > 0) await this.publish(current);
    this.deps.logger.info(
      { workspaceId: workspace.workspaceId, userId: principal.userId, sessions: sessionIds.length },
      'Workspace created',
    );
    return current;
  }

  async list(principal: Principal): Promise<Workspace[]> {
    return this.deps.canon.listWorkspaces(principal);
  }

  async get(principal: Principal, workspaceId: string): Promise<Workspace> {
    return this.visible(principal, await this.deps.canon.getWorkspace(workspaceId));
  }

  /** Applies one change as the caller; refusals become the API's stable codes. */
  async change(principal: Principal, workspaceId: string, change: WorkspaceChange): Promise<Workspace> {
    // Visibility first: another tenant's workspace must look exactly like a missing one.
    await this.get(principal, workspaceId);
    const workspace = await refusedAsApiError(() =>
      this.deps.canon.changeWorkspace(workspaceId, change, this.clock()),
    );
    await this.publish(workspace);
    return workspace;
  }

  /** Tells every replica (their viewers and dashboards) about a recorded change. */
  private async publish(workspace: Workspace): Promise<void> {
    await this.deps.events.publish({ type: 'workspace.changed', workspace }).catch((err: unknown) => {
      // The change is recorded; viewers on other replicas are re-checked when they reconnect.
      this.deps.logger.warn(
        { workspaceId: workspace.workspaceId, err },
        'could not publish workspace change',
      );
    });
  }

  /** Every recorded change, from any replica (the bus fans out); returns the unsubscribe function. */
  onChange(listener: (workspace: Workspace) => void): () => void {
    return this.deps.events.subscribe((event) => listener(event.workspace));
  }

  /**
   * Who may stream `sessionId`: its owner or a tenant admin with full input; otherwise a joined member
   * of an open workspace of the same tenant that contains it, with the highest role any such workspace
   * gives them. Anyone else gets SESSION_NOT_FOUND.
   */
  async streamAccess(principal: Principal, sessionId: string): Promise<StreamAccess> {
    try {
      return { target: await this.deps.access.streamTarget(principal, sessionId), via: 'owner' };
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'SESSION_NOT_FOUND')) throw error;
    }
    let best: { workspace: Workspace; role: WorkspaceRole } | undefined;
    for (const workspace of await this.deps.canon.listWorkspacesOfSession(sessionId)) {
      if (workspace.tenantId !== principal.tenantId || workspace.state !== 'open') continue;
      const role = joinedRole(workspace, principal.userId);
      if (role === undefined) continue;
      const controls = workspace.controllerId === principal.userId;
      const rank = ROLE_RANK[role] + (controls ? 0.5 : 0);
      const bestRank = best
        ? ROLE_RANK[best.role] + (best.workspace.controllerId === principal.userId ? 0.5 : 0)
        : 0;
      if (rank > bestRank) best = { workspace, role };
    }
    if (!best) throw new ApiError('SESSION_NOT_FOUND');
    const target = await this.deps.access.sharedStreamTarget(principal.tenantId, sessionId);
    return { target, via: 'workspace', ...best };
  }

  /** The workspace's current state from Canon Memory (re-read after a viewer registers). */
  async current(workspaceId: string): Promise<Workspace | undefined> {
    return this.deps.canon.getWorkspace(workspaceId);
  }

  private visible(principal: Principal, workspace: Workspace | undefined): Workspace {
    if (
      !workspace ||
      workspace.tenantId !== principal.tenantId ||
      !workspace.members.some((m) => m.userId === principal.userId)
    ) {
      throw new ApiError('WORKSPACE_NOT_FOUND');
    }
    return workspace;
  }
}

/** A change Canon Memory refused, as the API's stable code and sentence. */
async function refusedAsApiError(write: () => Promise<Workspace>): Promise<Workspace> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof WorkspaceChangeError) throw new ApiError(error.code, sentence(error));
    throw error;
  }
}

function sentence(error: WorkspaceChangeError): string {
  const text = error.message.charAt(0).toUpperCase() + error.message.slice(1);
  return text.endsWith('.') ? text : `${text}.`;
}
