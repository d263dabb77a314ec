import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import { CachedAuthenticator } from '../../../backend-adapter/auth/cached-authenticator.ts';
import { JwksAuthenticator } from '../../../backend-adapter/auth/jwks-authenticator.ts';
import { LocalIssuer } from '../../../backend-adapter/auth/local-issuer.ts';
import type { Authenticator, Principal } from '../../../backend-adapter/auth/principal.ts';
import { CLOCK_TOLERANCE_S } from '../../../backend-adapter/auth/verify-jwt.ts';

const invalid = (error: unknown) => error instanceof ApiError && error.code === 'AUTH_INVALID';

/** The real verifier, counting how often it is asked (to tell a cache hit from a verification). */
class Counting implements Authenticator {
  calls = 0;
  constructor(private readonly inner: Authenticator) {}
  verify(token: string): Promise<Principal> {
    this.calls++;
    return this.inner.verify(token);
  }
}

describe('verified-token cache', () => {
  let dir: string;
  let issuer: LocalIssuer;
  let otherIssuer: LocalIssuer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-token-cache-'));
    issuer = await LocalIssuer.open(join(dir, 'a', 'issuer.json'));
    otherIssuer = await LocalIssuer.open(join(dir, 'b', 'issuer.json'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const alice = { userId: 'alice', tenantId: 't1', subscription: 'pro', roles: ['member'] };

  it('serves a verified token from memory, and refuses it once expired even though it is remembered', async () => {
    const token = await issuer.issue(alice, 60);
    const exp = decodeJwt(token).exp as number;
    let now = Date.now();
    const inner = new Counting(issuer);
    const auth = new CachedAuthenticator(inner, { clock: () => now, maxAgeMs: 3_600_000 });

    assert.equal((await auth.verify(token)).userId, 'alice');
    assert.equal((await auth.verify(token)).userId, 'alice');
    assert.equal(inner.calls, 1, 'the second call did not verify the signature again');

    // Inside the verifier's clock tolerance past exp: still accepted, as jose itself would.
    now = (exp + CLOCK_TOLERANCE_S - 1) * 1000;
    assert.equal((await auth.verify(token)).userId, 'alice');
    // Past it: refused, without asking the verifier (which would say the same).
    now = (exp + CLOCK_TOLERANCE_S) * 1000;
    await assert.rejects(auth.verify(token), invalid);
    assert.equal(inner.calls, 1);
    assert.equal(auth.size, 0, 'the expired token was forgotten');
  });

  it('never remembers a refused token: an unknown key or a tampered token is refused every time', async () => {
    const inner = new Counting(issuer);
    const auth = new CachedAuthenticator(inner);
    const foreign = await otherIssuer.issue(alice); // another key, a kid this issuer does not have
    const [header, payload, signature] = (await issuer.issue(alice)).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = [
      header,
      Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url'),
      signature,
    ].join('.');
    for (const bad of [foreign, foreign, tampered, tampered]) await assert.rejects(auth.verify(bad), invalid);
    assert.equal(inner.calls, 4, 'each refused token was verified again');
    assert.equal(auth.size, 0);
  });

  it('holds at most maxEntries tokens, dropping the oldest', async () => {
    const inner = new Counting(issuer);
    const auth = new CachedAuthenticator(inner, { maxEntries: 2 });
    const [t1, t2, t3] = await Promise.all(
      ['u1', 'u2', 'u3'].map((userId) => issuer.issue({ userId, tenantId: 't1' })),
    );
    for (const t of [t1, t2, t3]) await auth.verify(t as string);
    assert.equal(auth.size, 2);
    assert.equal(inner.calls, 3);
    assert.equal((await auth.verify(t3 as string)).userId, 'u3');
    assert.equal(inner.calls, 3, 'the newest is still remembered');
    assert.equal((await auth.verify(t1 as string)).userId, 'u1');
    assert.equal(inner.calls, 4, 'the oldest had been dropped and was verified again');
  });

  it("gives every caller its own principal: one request changing it does not change the next one's", async () => {
    const auth = new CachedAuthenticator(issuer);
    const token = await issuer.issue(alice);
    const first = await auth.verify(token);
    first.roles?.push('admin');
    first.tenantId = 't2';
    assert.deepEqual(await auth.verify(token), alice);
  });
});

describe('verified-token cache and JWKS key rotation', () => {
  const ISSUER = 'https://v-auth.n3xus.test';
  const AUDIENCE = 'v-supercore';
  let server: Server;
  let url: string;
  let published: JWK[] = [];

  async function signingKey(kid: string): Promise<{ kid: string; privateKey: CryptoKey; publicJwk: JWK }> {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
  }
  const sign = (key: { kid: string; privateKey: CryptoKey }) =>
    new SignJWT({ tenant: 't1' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('vera')
      .setExpirationTime('10m')
      .sign(key.privateKey);

  before(async () => {
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/jwks.json`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('accepts a token of a withdrawn key for at most maxAgeMs after it was verified', async () => {
    const [k1, k2] = await Promise.all([signingKey('k1'), signingKey('k2')]);
    published = [k1.publicJwk];
    const jwks = new JwksAuthenticator({ url, issuer: ISSUER, audience: AUDIENCE, cooldownMs: 20 });
    let now = Date.now();
    const auth = new CachedAuthenticator(jwks, { maxAgeMs: 1000, clock: () => now });
    const old = await sign(k1);
    assert.equal((await auth.verify(old)).userId, 'vera');

    // v-auth withdraws k1; a k2 token makes the key set be fetched again.
    published = [k2.publicJwk];
    await new Promise((r) => setTimeout(r, 40));
    assert.equal((await auth.verify(await sign(k2))).userId, 'vera');
    await assert.rejects(jwks.verify(old), invalid, 'the verifier alone now refuses k1');

    now += 999;
    assert.equal((await auth.verify(old)).userId, 'vera', 'still remembered within the stated bound');
    now += 1;
    await assert.rejects(auth.verify(old), invalid, 'verified again after maxAgeMs, and refused');
    now += 1;
    await assert.rejects(auth.verify(old), invalid, 'and not remembered after that');
  });
});
