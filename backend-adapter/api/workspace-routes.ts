import type { FastifyInstance } from 'fastify';
import { ErrorResponseSchema } from '../../protocol/api.ts';
import {
  CreateWorkspaceRequestSchema,
  GrantControlRequestSchema,
  InviteRequestSchema,
  SetRoleRequestSchema,
  WorkspaceIdParamsSchema,
  WorkspaceListResponseSchema,
  WorkspaceMemberParamsSchema,
  WorkspaceSchema,
  type CreateWorkspaceRequest,
  type GrantControlRequest,
  type InviteRequest,
  type SetRoleRequest,
} from '../../protocol/workspaces.ts';
import type { WorkspaceService } from '../workspaces/workspace-service.ts';
import { callerOf } from './authenticate.ts';

type IdParams = { id: string };
type MemberParams = { id: string; userId: string };
const errors = {
  400: ErrorResponseSchema,
  403: ErrorResponseSchema,
  404: ErrorResponseSchema,
  409: ErrorResponseSchema,
};
const one = { 200: WorkspaceSchema, ...errors };
const none = { 204: { type: 'null' as const }, ...errors };

/**
 * Collaborative workspaces under /api/v1/workspaces: sharing sessions with other users of the tenant as
 * participants or observers, invitations, and who holds control. Canon Memory records every change.
 */
export function registerWorkspaceRoutes(app: FastifyInstance, workspaces: WorkspaceService): void {
  app.post<{ Body: CreateWorkspaceRequest }>(
    '/workspaces',
    { schema: { body: CreateWorkspaceRequestSchema, response: { 201: WorkspaceSchema, ...errors } } },
    async (request, reply) => reply.code(201).send(await workspaces.create(callerOf(request), request.body)),
  );

  app.get('/workspaces', { schema: { response: { 200: WorkspaceListResponseSchema } } }, async (request) => ({
    workspaces: await workspaces.list(callerOf(request)),
  }));

  app.get<{ Params: IdParams }>(
    '/workspaces/:id',
    { schema: { params: WorkspaceIdParamsSchema, response: one } },
    async (request) => workspaces.get(callerOf(request), request.params.id),
  );

  app.delete<{ Params: IdParams }>(
    '/workspaces/:id',
    { schema: { params: WorkspaceIdParamsSchema, response: one } },
    async (request) => {
      const caller = callerOf(request);
      return workspaces.change(caller, request.params.id, { kind: 'close', actor: caller.userId });
    },
  );

  app.post<{ Params: IdParams; Body: InviteRequest }>(
    '/workspaces/:id/invitations',
    { schema: { params: WorkspaceIdParamsSchema, body: InviteRequestSchema, response: one } },
    async (request) => {
      const caller = callerOf(request);
      return workspaces.change(caller, request.params.id, {
        kind: 'invite',
        actor: caller.userId,
        userId: request.body.userId,
        role: request.body.role,
      });
    },
  );

  app.post<{ Params: IdParams }>(
    '/workspaces/:id/accept',
    { schema: { params: WorkspaceIdParamsSchema, response: one } },
    async (request) => {
      const caller = callerOf(request);
      return workspaces.change(caller, request.params.id, { kind: 'accept', actor: caller.userId });
    },
  );

  app.post<{ Params: IdParams }>(
    '/workspaces/:id/decline',
    { schema: { params: WorkspaceIdParamsSchema, response: none } },
    async (request, reply) => {
      const caller = callerOf(request);
      await workspaces.change(caller, request.params.id, { kind: 'decline', actor: caller.userId });
      return reply.code(204).send();
    },
  );

  app.post<{ Params: IdParams }>(
    '/workspaces/:id/leave',
    { schema: { params: WorkspaceIdParamsSchema, response: none } },
    async (request, reply) => {
      const caller = callerOf(request);
      await workspaces.change(caller, request.params.id, { kind: 'leave', actor: caller.userId });
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: MemberParams }>(
    '/workspaces/:id/members/:userId',
    { schema: { params: WorkspaceMemberParamsSchema, response: one } },
    async (request) => {
      const caller = callerOf(request);
      return workspaces.change(caller, request.params.id, {
        kind: 'remove',
        actor: caller.userId,
        userId: request.params.userId,
      });
    },
  );

  app.put<{ Params: MemberParams; Body: SetRoleRequest }>(
    '/workspaces/:id/members/:userId/role',
    { schema: { params: WorkspaceMemberParamsSchema, body: SetRoleRequestSchema, response: one } },
    async (request) => {
      const caller = callerOf(request);
      return workspaces.change(caller, request.params.id, {
        kind: 'set-role',
        actor: caller.userId,
        userId: request.params.userId,
        role: request.body.role,
      });
    },
  );

  app.put<{ Params: IdParams; Body: GrantControlRequest }>(
    '/workspaces/:id/control',
    { schema: { params: WorkspaceIdParamsSchema, body: GrantControlRequestSchema, response: one } },
    async (request) => {
      const caller = callerOf(request);
      return workspaces.change(caller, request.params.id, {
        kind: 'grant-control',
        actor: caller.userId,
        userId: request.body.userId,
      });
    },
  );

  app.delete<{ Params: IdParams }>(
    '/workspaces/:id/control',
    { schema: { params: WorkspaceIdParamsSchema, response: one } },
    async (request) => {
      const caller = callerOf(request);
      return workspaces.change(caller, request.params.id, { kind: 'revoke-control', actor: caller.userId });
    },
  );
}
