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

/** Counts every check for the integration KPIs (handshake compliance, auth success rate). */
export interface AuthCounters {
  handshakeChecks: { inc(labels: { result: string }): void };
  authAttempts: { inc(labels: { result: string }): void };
}

/** The handshake first (412), then the bearer token (401); both counted. */
export async function authenticate(
  auth: Authenticator,
  counters: AuthCounters,
  handshake: string | undefined,
  token: () => string,
): Promise<Principal> {
  try {
    checkHandshake(handshake);
    counters.handshakeChecks.inc({ result: 'ok' });
  } catch (error) {
    counters.handshakeChecks.inc({ result: 'missing-or-wrong' });
    throw error;
  }
  try {
    const principal = await auth.verify(token());
    counters.authAttempts.inc({ result: 'success' });
    return principal;
  } catch (error) {
    counters.authAttempts.inc({ result: error instanceof ApiError ? error.code : 'error' });
    throw error;
  }
}

/** preHandler for `/api/v1`. */
export function requireCaller(auth: Authenticator, counters: AuthCounters) {
  return async (request: FastifyRequest): Promise<void> => {
    const handshake = request.headers[HANDSHAKE_HEADER];
    request.principal = await authenticate(
      auth,
      counters,
      Array.isArray(handshake) ? handshake[0] : handshake,
      () => bearerToken(request.headers.authorization),
    );
  };
}

export function callerOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ApiError('AUTH_REQUIRED');
  return request.principal;
}
