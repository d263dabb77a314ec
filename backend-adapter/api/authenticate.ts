import type { FastifyRequest } from 'fastify';
import { HANDSHAKE, HANDSHAKE_HEADER } from '../../protocol/handshake.ts';
import { ApiError } from '../api-error.ts';
import type { Authenticator, Principal } from '../auth/principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export function checkHandshake(value: string | undefined): void {
  if (value !== HANDSHAKE) throw new ApiError('HANDSHAKE_REQUIRED');
}

/** The bearer token of an `Authorization` header, or AUTH_REQUIRED. */
export function bearerToken(header: string | undefined): string {
  const match = header ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header) : null;
  if (!match?.[1]) throw new ApiError('AUTH_REQUIRED');
  return match[1];
}

/** preHandler for `/api/v1`: the handshake header first (412), then the bearer token (401). */
export function requireCaller(auth: Authenticator) {
  return async (request: FastifyRequest): Promise<void> => {
    const handshake = request.headers[HANDSHAKE_HEADER];
    checkHandshake(Array.isArray(handshake) ? handshake[0] : handshake);
    request.principal = await auth.verify(bearerToken(request.headers.authorization));
  };
}

export function callerOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ApiError('AUTH_REQUIRED');
  return request.principal;
}
