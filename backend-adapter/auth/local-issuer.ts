import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
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
      const fresh: StoredKey = { kid: randomUUID(), privateJwk: await exportJWK(privateKey) };
      await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
      // Written whole under a name of its own, then linked into place: when replicas start together the first
      // link wins and the others read its key, never a file another process has created but not yet filled.
      const draft = `${keyFile}.${randomUUID()}.tmp`;
      await writeFile(draft, JSON.stringify(fresh), { mode: 0o600, flag: 'wx', flush: true });
      try {
        await link(draft, keyFile);
        stored = fresh;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        stored = await readKey(keyFile);
        if (!stored) throw new Error(`issuer key ${keyFile} is unreadable`);
      } finally {
        await rm(draft, { force: true });
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
