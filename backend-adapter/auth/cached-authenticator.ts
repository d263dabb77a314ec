import { decodeJwt } from 'jose';
import { ApiError } from '../api-error.ts';
import type { Authenticator, Principal } from './principal.ts';
import { CLOCK_TOLERANCE_S } from './verify-jwt.ts';

/** How long a verified token is trusted without verifying its signature again. */
export const TOKEN_CACHE_MAX_AGE_MS = 60_000;
export const TOKEN_CACHE_MAX_ENTRIES = 10_000;

interface Entry {
  principal: Principal;
  /** `exp` and `nbf` in seconds, as the verified token carries them. */
  exp: number;
  nbf: number | undefined;
  verifiedAt: number;
}

/**
 * Remembers tokens that verified, keyed by the token string: the ECDSA signature check was the largest
 * cost of a cheap API read (bench/orchestrator/api-latency.ts profile), and a dashboard sends the same token
 * on every call. What is never relaxed:
 * - expiry and not-before are checked on every hit, with the verifier's clock tolerance;
 * - an entry is trusted for at most `maxAgeMs`, then the token is verified again, so a token whose key was
 *   withdrawn (JWKS rotation) is accepted at most `maxAgeMs` longer than the verifier alone would;
 * - only successes are remembered: a refused token (bad signature, unknown `kid`, wrong audience) is
 *   verified, and refused, every time.
 * At most `maxEntries` tokens are held; the oldest is dropped first.
 */
export class CachedAuthenticator implements Authenticator {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: () => number;
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly inner: Authenticator,
    options: { maxAgeMs?: number; maxEntries?: number; clock?: () => number } = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.maxAgeMs = options.maxAgeMs ?? TOKEN_CACHE_MAX_AGE_MS;
    this.maxEntries = options.maxEntries ?? TOKEN_CACHE_MAX_ENTRIES;
  }

  async verify(token: string): Promise<Principal> {
    const now = this.clock();
    const hit = this.entries.get(token);
    if (hit) {
      if (now - hit.verifiedAt < this.maxAgeMs) {
        const nowS = Math.floor(now / 1000);
        // The same rules as jose's claim checks, at this moment rather than at the first verification.
        if (
          hit.exp <= nowS - CLOCK_TOLERANCE_S ||
          (hit.nbf !== undefined && hit.nbf > nowS + CLOCK_TOLERANCE_S)
        ) {
          this.entries.delete(token);
          throw new ApiError('AUTH_INVALID');
        }
        return copyOf(hit.principal);
      }
      this.entries.delete(token);
    }
    const principal = await this.inner.verify(token);
    // The signature was just verified for this very string, so its claims can be read without checking again.
    const { exp, nbf } = decodeJwt(token);
    if (typeof exp === 'number') {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      this.entries.set(token, {
        principal: copyOf(principal),
        exp,
        nbf: typeof nbf === 'number' ? nbf : undefined,
        verifiedAt: now,
      });
    }
    return principal;
  }

  /** Tokens currently remembered (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }
}

/** Each request gets its own Principal: one handler changing it must not change another's. */
function copyOf(p: Principal): Principal {
  return p.roles ? { ...p, roles: [...p.roles] } : { ...p };
}
