import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import { JwksAuthenticator } from '../../../backend-adapter/auth/jwks-authenticator.ts';

const ISSUER = 'https://v-auth.n3xus.test';
const AUDIENCE = 'v-supercore';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

function token(
  key: SigningKey,
  claims: Record<string, unknown> = { tenant: 'tenant-v', subscription: 'pro' },
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('vera')
    .setExpirationTime('10m')
    .sign(key.privateKey);
}

const invalid = (error: unknown) => error instanceof ApiError && error.code === 'AUTH_INVALID';

describe('v-auth JWKS: key rotation against a local JWKS server', () => {
  let server: Server;
  let url: string;
  let published: JWK[] = [];
  let fetches = 0;
  let down = false;
  let k1: SigningKey;
  let k2: SigningKey;
  let k3: SigningKey;

  before(async () => {
    [k1, k2, k3] = await Promise.all([signingKey('k1'), signingKey('k2'), signingKey('k3')]);
    server = createServer((_req, res) => {
      fetches++;
      if (down) {
        res.statusCode = 503;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/.well-known/jwks.json`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('refetches the key set for an unknown kid, drops retired keys, and reads the subscription', async () => {
    published = [k1.publicJwk];
    fetches = 0;
    const auth = new JwksAuthenticator({ url, issuer: ISSUER, audience: AUDIENCE, cooldownMs: 50 });

    const principal = await auth.verify(await token(k1));
    assert.deepEqual(principal, { userId: 'vera', tenantId: 'tenant-v', subscription: 'pro' });
    await auth.verify(await token(k1));
    assert.equal(fetches, 1, 'a known kid is served from the cache');

    // v-auth rotates: k2 is published beside k1, then used.
    published = [k1.publicJwk, k2.publicJwk];
    await new Promise((r) => setTimeout(r, 60)); // past the cooldown
    assert.equal(
      (await auth.verify(await token(k2, { tenant: 'tenant-v', subscription: 'ultra' }))).subscription,
      'ultra',
    );
    assert.equal(fetches, 2, 'the unknown kid made the set be fetched again');
    await auth.verify(await token(k1));
    assert.equal(fetches, 2, 'both keys are now cached');

    // k1 retired: once the set is refreshed (another unknown kid), k1 tokens are refused.
    published = [k2.publicJwk, k3.publicJwk];
    await new Promise((r) => setTimeout(r, 60));
    await auth.verify(await token(k3));
    assert.equal(fetches, 3);
    await new Promise((r) => setTimeout(r, 60));
    await assert.rejects(auth.verify(await token(k1)), invalid);

    // A key nobody published is refused, never accepted from the token itself.
    const rogue = await signingKey('k2'); // same kid, different key
    await assert.rejects(auth.verify(await token(rogue)), invalid);
  });

  it('keeps verifying cached keys while the JWKS server is down, and refuses (401) what it cannot check', async () => {
    published = [k1.publicJwk];
    down = false;
    const auth = new JwksAuthenticator({ url, issuer: ISSUER, audience: AUDIENCE, cooldownMs: 10 });
    await auth.verify(await token(k1));
    down = true;
    try {
      await new Promise((r) => setTimeout(r, 20));
      assert.equal((await auth.verify(await token(k1))).userId, 'vera');
      await assert.rejects(auth.verify(await token(k2)), invalid);
    } finally {
      down = false;
    }
  });

  it('does not refetch more often than the cooldown, however many unknown kids arrive', async () => {
    published = [k1.publicJwk];
    const auth = new JwksAuthenticator({ url, issuer: ISSUER, audience: AUDIENCE, cooldownMs: 60_000 });
    await auth.verify(await token(k1));
    const before = fetches;
    for (let i = 0; i < 20; i++) await assert.rejects(auth.verify(await token(k3)), invalid);
    assert.equal(fetches, before, 'a flood of unknown kids cannot make us hammer v-auth');
  });
});
