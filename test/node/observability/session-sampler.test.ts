import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { CanonStore } from '../../../backend-adapter/canon/canon-store.ts';
import { SessionSampler } from '../../../backend-adapter/observability/session-sampler.ts';
import { StreamStats } from '../../../backend-adapter/observability/stream-stats.ts';
import type { RuntimeProvider } from '../../../backend-adapter/runtime/runtime-provider.ts';

type Row = Awaited<ReturnType<CanonStore['listUnfinished']>>[number];

const row = (sessionId: string): Row =>
  ({ session: { sessionId, state: 'active' }, runtime: { kind: 'local', id: sessionId } }) as unknown as Row;

describe('SessionSampler.tick', () => {
  it('called during a slow round, samples once more after it (a desktop started meanwhile is not missed)', async () => {
    const rows: Row[] = [row('first')];
    let listings = 0;
    let releaseFirst: () => void = () => undefined;
    const canon = {
      listUnfinished: async () => {
        listings++;
        const snapshot = [...rows];
        if (listings === 1) await new Promise<void>((resolve) => (releaseFirst = resolve));
        return snapshot;
      },
    } as unknown as CanonStore;
    const sampled: string[] = [];
    const runtime = {
      sample: async (handle: { id: string }) => {
        sampled.push(handle.id);
        return { cpuSeconds: 1, memoryBytes: 64 * 1024 * 1024, gpuPercent: null };
      },
    } as unknown as RuntimeProvider;
    const sampler = new SessionSampler({
      canon,
      runtime,
      streams: new StreamStats(),
      logger: pino({ level: 'silent' }),
    });

    const timerRound = sampler.tick(); // the timer's round, slow
    rows.push(row('started-meanwhile'));
    const a = sampler.tick();
    const b = sampler.tick();
    releaseFirst();
    await Promise.all([timerRound, a, b]);
    assert.equal(listings, 2, 'one more round for both callers, not one each');
    assert.deepEqual(sampled, ['first', 'first', 'started-meanwhile']);
  });
});
