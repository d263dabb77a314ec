import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { Authenticator, Principal } from './principal.ts';
import { verifyBearer } from './verify-jwt.ts';

/**
 * v-auth: tokens signed by keys published at a JWKS URL, fetched on demand and cached for `maxAgeMs`. A token
 * whose `kid` is not in the cached set makes the set be fetched again (key rotation), at most once per
 * `cooldownMs`: v-auth must publish a new key before it signs with it, as JWKS rotation expects. When the
 * JWKS cannot be fetched, tokens of cached keys still verify and others are refused (401, never a 500).
 * The user's subscription comes from the token's `subscription` claim: no second call to v-auth is needed.
 */
export class JwksAuthenticator implements Authenticator {
  private readonly keys: JWTVerifyGetKey;

  constructor(
    private readonly options: {
      url: string;
      issuer: string;
      audience: string;
      cooldownMs?: number;
      maxAgeMs?: number;
      timeoutMs?: number;
    },
  ) {
    this.keys = createRemoteJWKSet(new URL(options.url), {
      cooldownDuration: options.cooldownMs ?? 30_000,
      cacheMaxAge: options.maxAgeMs ?? 10 * 60_000,
      timeoutDuration: options.timeoutMs ?? 5000,
    });
  }

  verify(token: string): Promise<Principal> {
    return verifyBearer(token, this.keys, this.options);
  }
}
