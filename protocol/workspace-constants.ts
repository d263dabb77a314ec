/**
 * Collaborative workspaces, the parts a browser needs without TypeBox (safe for the module bundle).
 * The wire schemas are in workspaces.ts.
 */

/** Roles in a workspace: the owner shares, participants may be handed control, observers only watch. */
export const WORKSPACE_ROLES = ['owner', 'participant', 'observer'] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

/** Roles an invitation can carry (there is one owner: whoever created the workspace). */
export const INVITED_ROLES = ['participant', 'observer'] as const;
export type InvitedRole = (typeof INVITED_ROLES)[number];

export const WORKSPACE_STATES = ['open', 'closed'] as const;
export type WorkspaceState = (typeof WORKSPACE_STATES)[number];

/** How many people one workspace may hold (members and pending invitations together). */
export const MAX_WORKSPACE_MEMBERS = 32;
/** How many sessions one workspace may group. */
export const MAX_WORKSPACE_SESSIONS = 8;

/** User ids as the dev login accepts them; v-auth subjects follow the same alphabet. */
export const WORKSPACE_USER_ID_PATTERN = '^[A-Za-z0-9._@:-]+$';

/** Whether a member with `role` may send input while `controllerId` holds control. */
export function roleMaySendInput(role: WorkspaceRole, userId: string, controllerId: string | null): boolean {
  return role === 'owner' || (role === 'participant' && controllerId === userId);
}
