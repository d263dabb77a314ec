import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { Authenticator, Principal } from './principal.ts';
import { verifyBearer } from './verify-jwt.ts';

/** v-auth: tokens signed by keys published at a JWKS URL (fetched on demand, cached, refreshed on unknown kid). */
export class JwksAuthenticator implements Authenticator {
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly options: { url: string; issuer: string; audience: string }) {
    this.keys = createRemoteJWKSet(new URL(options.url), {
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  }

  verify(token: string): Promise<Principal> {
    return verifyBearer(token, this.keys, this.options);
  }
}
