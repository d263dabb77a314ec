import { jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ApiError } from '../api-error.ts';
import type { Principal } from './principal.ts';

/** Accepted clock difference between the issuer and us. */
export const CLOCK_TOLERANCE_S = 30;
/** Asymmetric algorithms only: `none` and shared-secret HMAC tokens are refused whatever their header says. */
const ALGORITHMS = ['ES256', 'ES384', 'RS256', 'RS384', 'PS256', 'EdDSA'];

/**
 * Verifies signature, issuer, audience and expiry, and maps the claims to a Principal:
 * `sub` → userId, `tenant` → tenantId, plus `email` and `subscription` when present.
 */
export async function verifyBearer(
  token: string,
  key: CryptoKey | JWTVerifyGetKey,
  expected: { issuer: string; audience: string },
): Promise<Principal> {
  try {
    const options = {
      algorithms: ALGORITHMS,
      issuer: expected.issuer,
      audience: expected.audience,
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ['sub', 'exp'],
    };
    const { payload } =
      typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
    if (typeof payload.sub !== 'string' || typeof payload.tenant !== 'string') {
      throw new Error('token lacks subject or tenant');
    }
    const principal: Principal = { userId: payload.sub, tenantId: payload.tenant };
    if (typeof payload.email === 'string') principal.email = payload.email;
    if (typeof payload.subscription === 'string') principal.subscription = payload.subscription;
    if (Array.isArray(payload.roles))
      principal.roles = payload.roles.filter((r): r is string => typeof r === 'string');
    return principal;
  } catch {
    throw new ApiError('AUTH_INVALID');
  }
}
