import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { AUDIENCE, LOCAL_ISSUER } from '../../../backend-adapter/auth/local-issuer.ts';
import { CLOCK_TOLERANCE_S } from '../../../backend-adapter/auth/verify-jwt.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

type ErrorBody = { error: { code: string } };
const nowS = () => Math.floor(Date.now() / 1000);

interface Claims {
  iss: string;
  aud: string;
  exp: number;
  nbf?: number;
}

/** A token for `alice` of tenant-a with exactly these registered claims, signed with `key`. */
function sign(key: CryptoKey, kid: string, claims: Claims): Promise<string> {
  return new SignJWT({ tenant: 'tenant-a', subscription: 'pro', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setSubject('alice')
    .setIssuedAt(Math.min(nowS(), claims.exp - 60))
    .sign(key);
}

/** The API's answer to a read with this token: 200, or the status and stable error code that refused it. */
async function answer(t: TestAdapter, token: string): Promise<string> {
  const res = await t.api('/api/v1/sessions', { token });
  return res.status === 200 ? '200' : `${res.status} ${(res.body as ErrorBody).error.code}`;
}

describe('JWT claims with the embedded issuer (real adapter)', () => {
  let t: TestAdapter;
  let key: CryptoKey;
  let kid: string;
  const valid = (): Claims => ({ iss: LOCAL_ISSUER, aud: AUDIENCE, exp: nowS() + 600 });

  before(async () => {
    t = await startTestAdapter();
    // The issuer's own key, as the adapter stored it: only the claims under test differ from a real token.
    const stored = JSON.parse(await readFile(join(t.dataDir, 'auth', 'issuer-key.json'), 'utf8')) as {
      kid: string;
      privateJwk: JWK;
    };
    kid = stored.kid;
    key = (await importJWK(stored.privateJwk, 'ES256')) as CryptoKey;
  });
  after(() => t.close());

  it('accepts a token with the issuer’s claims (the baseline the other cases change one claim of)', async () => {
    assert.equal(await answer(t, await sign(key, kid, valid())), '200');
  });

  it('refuses a token from another issuer, signed with the right key, with 401 AUTH_INVALID', async () => {
    for (const iss of ['https://v-auth.elsewhere.example', `${LOCAL_ISSUER}:other`, '']) {
      assert.equal(
        await answer(t, await sign(key, kid, { ...valid(), iss })),
        '401 AUTH_INVALID',
        `iss "${iss}"`,
      );
    }
  });

  it(`accepts a token expired by less than the ${CLOCK_TOLERANCE_S} s clock tolerance, refuses one expired by more`, async () => {
    const justExpired = await sign(key, kid, { ...valid(), exp: nowS() - (CLOCK_TOLERANCE_S - 10) });
    assert.equal(await answer(t, justExpired), '200');
    const longExpired = await sign(key, kid, { ...valid(), exp: nowS() - (CLOCK_TOLERANCE_S + 10) });
    assert.equal(await answer(t, longExpired), '401 AUTH_INVALID');
  });

  it('refuses a token once the tolerance has run out, even after it was accepted', async () => {
    // Accepted now with 2 s of tolerance left; 4 s later it is 2 s past it (a verified token must not stay valid).
    const token = await sign(key, kid, { ...valid(), exp: nowS() - (CLOCK_TOLERANCE_S - 2) });
    assert.equal(await answer(t, token), '200');
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(await answer(t, token), '401 AUTH_INVALID');
  });

  it('applies the same tolerance to a token not valid yet (nbf)', async () => {
    const soon = await sign(key, kid, { ...valid(), nbf: nowS() + (CLOCK_TOLERANCE_S - 10) });
    assert.equal(await answer(t, soon), '200');
    const later = await sign(key, kid, { ...valid(), nbf: nowS() + (CLOCK_TOLERANCE_S + 10) });
    assert.equal(await answer(t, later), '401 AUTH_INVALID');
  });
});

describe('JWT issuer with v-auth (JWKS)', () => {
  const ISSUER = 'https://v-auth.n3xus.test';
  let jwks: Server;
  let t: TestAdapter;
  let key: CryptoKey;

  before(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const address = jwks.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    t = await startTestAdapter({
      AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: 'v-supercore',
    });
  });
  after(async () => {
    await t.close();
    await new Promise<void>((r) => jwks.close(() => r()));
  });

  it('accepts v-auth’s issuer and refuses another one signed by a published key', async () => {
    const claims = { aud: 'v-supercore', exp: nowS() + 600 };
    assert.equal(await answer(t, await sign(key, 'k1', { ...claims, iss: ISSUER })), '200');
    assert.equal(
      await answer(t, await sign(key, 'k1', { ...claims, iss: LOCAL_ISSUER })),
      '401 AUTH_INVALID',
    );
    assert.equal(
      await answer(t, await sign(key, 'k1', { ...claims, iss: 'https://v-auth.n3xus.test.evil' })),
      '401 AUTH_INVALID',
    );
  });
});
