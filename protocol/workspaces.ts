import { Type, type Static } from '@sinclair/typebox';
import {
  INVITED_ROLES,
  MAX_WORKSPACE_MEMBERS,
  MAX_WORKSPACE_SESSIONS,
  WORKSPACE_ROLES,
  WORKSPACE_STATES,
  WORKSPACE_USER_ID_PATTERN,
} from './workspace-constants.ts';

export * from './workspace-constants.ts';

/**
 * Collaborative workspaces (the spec's IMCU composition): sessions grouped with the people who may watch
 * them. REST contract under API_PREFIX; the server validates with these, the client takes the types.
 */

const UserIdSchema = Type.String({ minLength: 1, maxLength: 128, pattern: WORKSPACE_USER_ID_PATTERN });
const SessionIdSchema = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });

export const WorkspaceRoleSchema = Type.Union(WORKSPACE_ROLES.map((r) => Type.Literal(r)));
export const InvitedRoleSchema = Type.Union(INVITED_ROLES.map((r) => Type.Literal(r)));

export const WorkspaceMemberSchema = Type.Object({
  userId: Type.String(),
  role: WorkspaceRoleSchema,
  /** `invited`: the invitation is pending; `joined`: the person accepted (the owner is always joined). */
  status: Type.Union([Type.Literal('invited'), Type.Literal('joined')]),
  invitedAt: Type.String({ format: 'date-time' }),
  joinedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type WorkspaceMember = Static<typeof WorkspaceMemberSchema>;

export const WorkspaceSchema = Type.Object({
  workspaceId: Type.String(),
  tenantId: Type.String(),
  name: Type.String(),
  ownerId: Type.String(),
  state: Type.Union(WORKSPACE_STATES.map((s) => Type.Literal(s))),
  sessionIds: Type.Array(Type.String()),
  /** Owner first, then the others in the order they were invited. */
  members: Type.Array(WorkspaceMemberSchema),
  /** The participant currently holding control (the owner always may send input), or null. */
  controllerId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  handshake: Type.Literal('55-45-17'),
});
export type Workspace = Static<typeof WorkspaceSchema>;

export const CreateWorkspaceRequestSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 80 }),
    sessionIds: Type.Array(SessionIdSchema, { minItems: 1, maxItems: MAX_WORKSPACE_SESSIONS }),
    /** Invitations sent with the creation, in the same way as POST …/invitations. */
    invite: Type.Optional(
      Type.Array(
        Type.Object({ userId: UserIdSchema, role: InvitedRoleSchema }, { additionalProperties: false }),
        { maxItems: MAX_WORKSPACE_MEMBERS - 1 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type CreateWorkspaceRequest = Static<typeof CreateWorkspaceRequestSchema>;

export const InviteRequestSchema = Type.Object(
  { userId: UserIdSchema, role: InvitedRoleSchema },
  { additionalProperties: false },
);
export type InviteRequest = Static<typeof InviteRequestSchema>;

export const SetRoleRequestSchema = Type.Object({ role: InvitedRoleSchema }, { additionalProperties: false });
export type SetRoleRequest = Static<typeof SetRoleRequestSchema>;

export const GrantControlRequestSchema = Type.Object(
  { userId: UserIdSchema },
  { additionalProperties: false },
);
export type GrantControlRequest = Static<typeof GrantControlRequestSchema>;

export const WorkspaceListResponseSchema = Type.Object({ workspaces: Type.Array(WorkspaceSchema) });
export type WorkspaceListResponse = Static<typeof WorkspaceListResponseSchema>;

export const WorkspaceIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
});
export const WorkspaceMemberParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
  userId: UserIdSchema,
});
