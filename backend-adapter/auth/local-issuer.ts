import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, type CryptoKey, type JWK } from 'jose';
import { ApiError } from '../api-error.ts';
import type { Authenticator, Principal } from './principal.ts';

const ALG = 'ES256';
export const LOCAL_ISSUER = 'urn:n3xus:v-supercore:local-issuer';
export const AUDIENCE = 'v-supercore';
const CLOCK_TOLERANCE_S = 30;

interface StoredKey {
  kid: string;
  privateJwk: JWK;
}

/**
 * Embedded default for v-auth: an ES256 issuer whose key lives in the data directory, so tokens stay valid
 * across restarts. Production verifies v-auth's tokens against its JWKS instead.
 */
export class LocalIssuer implements Authenticator {
  private constructor(
    private readonly kid: string,
    private readonly privateKey: CryptoKey,
    private readonly publicKey: CryptoKey,
  ) {}

  static async open(keyFile: string): Promise<LocalIssuer> {
    let stored: StoredKey;
    try {
      stored = JSON.parse(await readFile(keyFile, 'utf8')) as StoredKey;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const { privateKey } = await generateKeyPair(ALG, { extractable: true });
      stored = { kid: crypto.randomUUID(), privateJwk: await exportJWK(privateKey) };
      await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
      await writeFile(keyFile, JSON.stringify(stored), { mode: 0o600 });
      await chmod(keyFile, 0o600);
    }
    const { d: _d, ...publicJwk } = stored.privateJwk;
    const privateKey = (await importJWK(stored.privateJwk, ALG)) as CryptoKey;
    const publicKey = (await importJWK(publicJwk, ALG)) as CryptoKey;
    return new LocalIssuer(stored.kid, privateKey, publicKey);
  }

  async issue(principal: Principal, ttlSeconds = 12 * 3600): Promise<string> {
    return new SignJWT({
      tenant: principal.tenantId,
      email: principal.email,
      subscription: principal.subscription,
    })
      .setProtectedHeader({ alg: ALG, kid: this.kid, typ: 'JWT' })
      .setIssuer(LOCAL_ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(principal.userId)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.privateKey);
  }

  async verify(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: [ALG],
        issuer: LOCAL_ISSUER,
        audience: AUDIENCE,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['sub', 'exp'],
      });
      if (typeof payload.sub !== 'string' || typeof payload.tenant !== 'string') {
        throw new Error('token lacks subject or tenant');
      }
      const principal: Principal = { userId: payload.sub, tenantId: payload.tenant };
      if (typeof payload.email === 'string') principal.email = payload.email;
      if (typeof payload.subscription === 'string') principal.subscription = payload.subscription;
      return principal;
    } catch {
      throw new ApiError('AUTH_INVALID');
    }
  }
}
