// The thumbnail service's rules without a desktop: single flight and cache, the concurrency limit, paused and
// ended sessions, eviction, and the Raw composition refusing rectangles that do not fit the screen.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Session, SessionState } from '../../../protocol/session.ts';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import type { Principal } from '../../../backend-adapter/auth/principal.ts';
import { composeRaw, type Snapshot } from '../../../backend-adapter/thumbnails/rfb-snapshot.ts';
import { ThumbnailService } from '../../../backend-adapter/thumbnails/thumbnail-service.ts';

const principal = { userId: 'alice', tenantId: 't' } as Principal;

function fakeAccess(states: Map<string, SessionState>) {
  return {
    async get(_p: Principal, id: string): Promise<Session> {
      const state = states.get(id);
      if (!state) throw new ApiError('SESSION_NOT_FOUND');
      return { sessionId: id, state } as Session;
    },
    async streamTarget() {
      return { host: '127.0.0.1', port: 1, password: 'x' };
    },
  };
}

const grey = (width: number, height: number): Snapshot => ({
  width,
  height,
  rgbx: new Uint8Array(width * height * 4).fill(128),
});

describe('ThumbnailService', () => {
  it('takes one picture per session however many ask at once, then serves it from the cache', async () => {
    let taken = 0;
    let now = Date.parse('2026-01-01T00:00:00Z');
    const service = new ThumbnailService({
      access: fakeAccess(new Map([['a', 'active']])),
      snapshot: async () => {
        taken++;
        await new Promise((r) => setTimeout(r, 20));
        return grey(1280, 800);
      },
      clock: () => new Date(now),
    });
    const all = await Promise.all([1, 2, 3].map(() => service.thumbnailFor(principal, 'a')));
    assert.equal(taken, 1);
    assert.equal(all[0]?.width, 192);
    assert.equal(all[0]?.height, 120);
    await service.thumbnailFor(principal, 'a');
    assert.equal(taken, 1, 'within the TTL');
    now += 6000;
    await service.thumbnailFor(principal, 'a');
    assert.equal(taken, 2, 'after the TTL a new picture');
  });

  it('runs at most maxConcurrent snapshots at once', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    let running = 0;
    let peak = 0;
    const service = new ThumbnailService({
      access: fakeAccess(new Map(ids.map((id) => [id, 'active']))),
      maxConcurrent: 2,
      snapshot: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        return grey(64, 64);
      },
    });
    await Promise.all(ids.map((id) => service.thumbnailFor(principal, id)));
    assert.equal(peak, 2);
  });

  it('paused: the last picture, marked paused (none before one was taken); ended: refused and forgotten', async () => {
    const states = new Map<string, SessionState>([
      ['a', 'active'],
      ['p', 'paused'],
    ]);
    const service = new ThumbnailService({
      access: fakeAccess(states),
      snapshot: async () => grey(8, 8),
    });
    await service.thumbnailFor(principal, 'a');
    states.set('a', 'paused');
    assert.equal((await service.thumbnailFor(principal, 'a'))?.state, 'paused');
    assert.equal(await service.thumbnailFor(principal, 'p'), null);
    states.set('a', 'terminated');
    await assert.rejects(
      service.thumbnailFor(principal, 'a'),
      (e: ApiError) => e.code === 'SESSION_NOT_STREAMABLE',
    );
    assert.equal(service.size, 0);
    await assert.rejects(
      service.thumbnailFor(principal, 'nobody'),
      (e: ApiError) => e.code === 'SESSION_NOT_FOUND',
    );
  });

  it('keeps at most maxEntries pictures, the oldest going first', async () => {
    const ids = ['a', 'b', 'c'];
    const service = new ThumbnailService({
      access: fakeAccess(new Map(ids.map((id) => [id, 'active']))),
      maxEntries: 2,
      snapshot: async () => grey(8, 8),
    });
    for (const id of ids) await service.thumbnailFor(principal, id);
    assert.equal(service.size, 2);
  });
});

describe('composeRaw', () => {
  it('places Raw rectangles and refuses one outside the screen or with the wrong length', () => {
    const pixel = new Uint8Array([1, 2, 3, 0]);
    const shot = composeRaw(2, 2, [{ x: 1, y: 1, w: 1, h: 1, encoding: 0, data: pixel }]);
    assert.deepEqual([...shot.rgbx.subarray(12, 16)], [1, 2, 3, 0]);
    assert.throws(
      () => composeRaw(2, 2, [{ x: 1, y: 1, w: 2, h: 1, encoding: 0, data: new Uint8Array(8) }]),
      /outside the screen/,
    );
    assert.throws(
      () => composeRaw(2, 2, [{ x: 0, y: 0, w: 1, h: 1, encoding: 0, data: new Uint8Array(3) }]),
      /carries 3 bytes/,
    );
  });
});
