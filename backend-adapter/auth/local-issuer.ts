import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Authenticator, Principal } from './principal.ts';
import { verifyBearer } from './verify-jwt.ts';

const ALG = 'ES256';
export const LOCAL_ISSUER = 'urn:n3xus:v-supercore:local-issuer';
export const AUDIENCE = 'v-supercore';

interface StoredKey {
  kid: string;
  privateJwk: JWK;
}

async function readKey(keyFile: string): Promise<StoredKey | undefined> {
  try {
    return JSON.parse(await readFile(keyFile, 'utf8')) as StoredKey;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
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
    let stored = await readKey(keyFile);
    if (!stored) {
      const { privateKey } = await generateKeyPair(ALG, { extractable: true });
      const fresh: StoredKey = { kid: crypto.randomUUID(), privateJwk: await exportJWK(privateKey) };
      await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
      try {
        // 'wx': when replicas start together, the first writer wins and the others read its key.
        await writeFile(keyFile, JSON.stringify(fresh), { mode: 0o600, flag: 'wx' });
        stored = fresh;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        stored = await readKey(keyFile);
        if (!stored) throw new Error(`issuer key ${keyFile} is unreadable`);
      }
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
      roles: principal.roles,
    })
      .setProtectedHeader({ alg: ALG, kid: this.kid, typ: 'JWT' })
      .setIssuer(LOCAL_ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(principal.userId)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(this.privateKey);
  }

  verify(token: string): Promise<Principal> {
    return verifyBearer(token, this.publicKey, { issuer: LOCAL_ISSUER, audience: AUDIENCE });
  }
}
