import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HOUR_MS,
  WEEK_MS,
  generateWeeklyUser,
  launchedSlots,
} from '../../../backend-adapter/ai/evaluation.ts';
import { LaunchModel, forecastLaunches, slotOf } from '../../../backend-adapter/ai/launch-predictor.ts';

describe('N.E.X.U.S AI launch prediction (hour-of-day × day-of-week per user)', () => {
  it('knows nothing without history', () => {
    const p = LaunchModel.fit([], new Date('2026-03-02T09:00:00Z')).predict(new Date('2026-03-02T09:30:00Z'));
    assert.deepEqual(p, {
      at: '2026-03-02T09:00:00.000Z',
      dayOfWeek: 1,
      hourOfDay: 9,
      launchProbability: 0,
      expectedLaunches: 0,
      likelyTier: null,
      confidence: 'none',
    });
  });

  it('learns a weekday habit, its tier, and follows a habit that moved', () => {
    const history: Array<{ createdAt: string; tier: 'basic' | 'pro' }> = [];
    const monday = Date.parse('2026-01-05T00:00:00Z');
    for (let w = 0; w < 10; w++) {
      for (let d = 0; d < 5; d++) {
        // Mornings at 9 on Pro for weeks 0–4; then the user switches to 13:00 on Basic.
        const hour = w < 5 ? 9 : 13;
        history.push({
          createdAt: new Date(monday + w * WEEK_MS + (d * 24 + hour) * HOUR_MS + 12 * 60_000).toISOString(),
          tier: w < 5 ? 'pro' : 'basic',
        });
      }
    }
    const now = new Date(monday + 10 * WEEK_MS);
    const model = LaunchModel.fit(history, now);
    const tuesday = (hour: number) => model.predict(new Date(now.getTime() + (24 + hour) * HOUR_MS));
    assert.equal(tuesday(13).likelyTier, 'basic');
    assert.equal(tuesday(9).likelyTier, 'pro');
    assert.ok(tuesday(13).launchProbability > tuesday(9).launchProbability, 'recent weeks weigh more');
    assert.ok(tuesday(13).launchProbability > 0.4);
    assert.ok(tuesday(3).launchProbability < 0.05);
    assert.equal(tuesday(13).confidence, 'high');
    assert.equal(slotOf(new Date('2026-03-03T13:00:00Z')), 2 * 24 + 13);
    const pool = forecastLaunches([model, model], new Date(now.getTime() + (24 + 13) * HOUR_MS));
    assert.ok(
      (pool.basic ?? 0) > 0.8,
      'a warm pool would keep about one basic desktop for the two users then',
    );
  });

  it('beats "same as last week" on generated weekly patterns', (t) => {
    let model = 0;
    let lastWeek = 0;
    let slots = 0;
    let modelHits = 0;
    let lastWeekHits = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const weeks = 4 + (seed % 9);
      const user = generateWeeklyUser(seed, weeks);
      const test = weeks - 1;
      const now = new Date(user.firstWeek.getTime() + test * WEEK_MS);
      const fitted = LaunchModel.fit(user.history, now);
      const actual = launchedSlots(user, test);
      const previous = launchedSlots(user, test - 1);
      for (let h = 0; h < 168; h++) {
        const p = fitted.probabilityAt(new Date(now.getTime() + h * HOUR_MS));
        const y = actual[h] ?? 0;
        model += (p - y) ** 2;
        lastWeek += ((previous[h] ?? 0) - y) ** 2;
        modelHits += Number((p >= 0.5 ? 1 : 0) === y);
        lastWeekHits += Number((previous[h] ?? 0) === y);
        slots++;
      }
    }
    const brierModel = model / slots;
    const brierLast = lastWeek / slots;
    t.diagnostic(
      `Brier score: model ${brierModel.toFixed(4)}, same-as-last-week ${brierLast.toFixed(4)}; accuracy ${(modelHits / slots).toFixed(4)} vs ${(lastWeekHits / slots).toFixed(4)}`,
    );
    assert.ok(brierModel < 0.8 * brierLast, `${brierModel} vs ${brierLast}`);
    assert.ok(modelHits >= lastWeekHits, 'at least as many right yes/no calls at 0.5');
  });
});
