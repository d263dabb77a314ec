import type { FastifyInstance } from 'fastify';
import { DevLoginRequestSchema, DevLoginResponseSchema, type DevLoginRequest } from '../../protocol/api.ts';
import { HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import type { Subscription } from '../../protocol/session-states.ts';
import { ApiError } from '../api-error.ts';
import type { LocalIssuer } from '../auth/local-issuer.ts';
import { checkHandshake } from './authenticate.ts';

/** `POST /api/v1/dev/login`: a token for any user, for the dev harness only. Absent unless dev mode is on. */
export function registerDevLoginRoute(
  app: FastifyInstance,
  issuer: LocalIssuer,
  devMode: boolean,
  defaultSubscription: Subscription,
): void {
  app.post<{ Body: DevLoginRequest }>(
    '/dev/login',
    { schema: { body: DevLoginRequestSchema, response: { 200: DevLoginResponseSchema } } },
    async (request) => {
      if (!devMode) throw new ApiError('DEV_LOGIN_DISABLED');
      const handshake = request.headers[HANDSHAKE_HEADER];
      checkHandshake(Array.isArray(handshake) ? handshake[0] : handshake);
      const { userId, tenantId, subscription = defaultSubscription, roles } = request.body;
      return { token: await issuer.issue({ userId, tenantId, subscription, ...(roles ? { roles } : {}) }) };
    },
  );
}
