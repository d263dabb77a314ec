import type { LaunchPrediction } from '../../protocol/ai.ts';
import type { TierId } from '../../protocol/session.ts';

/** One past launch, from Canon Memory's session history. */
export interface LaunchHistoryEntry {
  createdAt: string;
  tier: TierId;
}

export interface LaunchModelOptions {
  /** Weight of a week relative to the week after it: recent habits count more. */
  weeklyDecay: number;
  /** Weeks of history used at most. */
  maxWeeks: number;
  /** Share of each slot's estimate given to each neighbouring hour (habits drift by an hour). */
  neighbourShare: number;
  /** Pseudo-weeks of the user's overall launch rate mixed into every slot (shrinkage for short histories). */
  priorWeeks: number;
}

export const DEFAULT_LAUNCH_MODEL: LaunchModelOptions = {
  weeklyDecay: 0.85,
  maxWeeks: 26,
  neighbourShare: 0.1,
  priorWeeks: 1,
};

const HOUR_MS = 3_600_000;
const WEEK_MS = 168 * HOUR_MS;
const SLOTS = 168;

/** Hour-of-week slot (UTC): day of week (0 = Sunday, as Date#getUTCDay) × 24 + hour of day. */
export function slotOf(date: Date): number {
  return date.getUTCDay() * 24 + date.getUTCHours();
}

function hourStart(date: Date): Date {
  return new Date(Math.floor(date.getTime() / HOUR_MS) * HOUR_MS);
}

/**
 * The embedded `predictResourceNeeds`: a per-user hour-of-day × day-of-week model of past launches. For each
 * of the 168 weekly slots it estimates the probability that the user launches in that hour, as a
 * decay-weighted share of past weeks with a launch in the slot, blended a little with the neighbouring hours
 * and shrunk towards the user's overall rate while the history is short. Expected launches and the likely
 * tier come from the same weighted history. Times are UTC.
 */
export class LaunchModel {
  private constructor(
    private readonly probability: Float64Array,
    private readonly expected: Float64Array,
    private readonly tierBySlot: Array<TierId | null>,
    readonly launches: number,
    readonly weeksObserved: number,
  ) {}

  static fit(
    history: readonly LaunchHistoryEntry[],
    now: Date,
    options: LaunchModelOptions = DEFAULT_LAUNCH_MODEL,
  ): LaunchModel {
    const end = hourStart(now).getTime();
    const past = history
      .map((h) => ({ t: Date.parse(h.createdAt), tier: h.tier }))
      .filter((h) => Number.isFinite(h.t) && h.t < end && end - h.t <= options.maxWeeks * WEEK_MS);
    const probability = new Float64Array(SLOTS);
    const expected = new Float64Array(SLOTS);
    if (past.length === 0) return new LaunchModel(probability, expected, new Array(SLOTS).fill(null), 0, 0);

    const oldest = Math.min(...past.map((h) => h.t));
    const weeks = Math.min(options.maxWeeks, Math.max(1, Math.ceil((end - oldest) / WEEK_MS)));
    const weight = Array.from({ length: weeks }, (_, k) => options.weeklyDecay ** k);
    const totalWeight = weight.reduce((a, b) => a + b, 0);

    // Per week (k = weeks before now) and slot: launched at all, and how often.
    const occupied = Array.from({ length: weeks }, () => new Uint8Array(SLOTS));
    const counts = Array.from({ length: weeks }, () => new Uint16Array(SLOTS));
    const tierVotes = Array.from({ length: SLOTS }, () => new Map<TierId, number>());
    const overallVotes = new Map<TierId, number>();
    for (const h of past) {
      const k = Math.floor((end - h.t - 1) / WEEK_MS);
      if (k < 0 || k >= weeks) continue;
      const s = slotOf(new Date(h.t));
      (occupied[k] as Uint8Array)[s] = 1;
      (counts[k] as Uint16Array)[s] = ((counts[k] as Uint16Array)[s] ?? 0) + 1;
      const w = weight[k] ?? 0;
      for (const [slot, share] of [
        [s, 1],
        [(s + 1) % SLOTS, 0.5],
        [(s + SLOTS - 1) % SLOTS, 0.5],
      ] as const) {
        const votes = tierVotes[slot] as Map<TierId, number>;
        votes.set(h.tier, (votes.get(h.tier) ?? 0) + w * share);
      }
      overallVotes.set(h.tier, (overallVotes.get(h.tier) ?? 0) + w);
    }

    const raw = new Float64Array(SLOTS);
    const rawExpected = new Float64Array(SLOTS);
    let occupiedTotal = 0;
    let countTotal = 0;
    for (let s = 0; s < SLOTS; s++) {
      let p = 0;
      let e = 0;
      for (let k = 0; k < weeks; k++) {
        p += (weight[k] ?? 0) * ((occupied[k] as Uint8Array)[s] ?? 0);
        e += (weight[k] ?? 0) * ((counts[k] as Uint16Array)[s] ?? 0);
        occupiedTotal += (occupied[k] as Uint8Array)[s] ?? 0;
        countTotal += (counts[k] as Uint16Array)[s] ?? 0;
      }
      raw[s] = p / totalWeight;
      rawExpected[s] = e / totalWeight;
    }
    const baseRate = occupiedTotal / (weeks * SLOTS);
    const baseCount = countTotal / (weeks * SLOTS);
    const b = options.neighbourShare;
    const shrink = (value: number, base: number) =>
      (totalWeight * value + options.priorWeeks * base) / (totalWeight + options.priorWeeks);
    for (let s = 0; s < SLOTS; s++) {
      const blend = (a: Float64Array) =>
        (1 - 2 * b) * (a[s] ?? 0) + b * ((a[(s + 1) % SLOTS] ?? 0) + (a[(s + SLOTS - 1) % SLOTS] ?? 0));
      probability[s] = Math.min(1, shrink(blend(raw), baseRate));
      expected[s] = shrink(blend(rawExpected), baseCount);
    }
    const mode = (votes: Map<TierId, number>): TierId | null => {
      let best: TierId | null = null;
      let bestVotes = 0;
      for (const [tier, v] of votes) if (v > bestVotes) [best, bestVotes] = [tier, v];
      return best;
    };
    const overall = mode(overallVotes);
    const tierBySlot = tierVotes.map((v) => mode(v) ?? overall);
    return new LaunchModel(probability, expected, tierBySlot, past.length, weeks);
  }

  get confidence(): LaunchPrediction['confidence'] {
    if (this.launches === 0) return 'none';
    if (this.weeksObserved < 3) return 'low';
    if (this.weeksObserved < 8) return 'medium';
    return 'high';
  }

  /** The prediction for the hour that contains `at`. */
  predict(at: Date): LaunchPrediction {
    const start = hourStart(at);
    const s = slotOf(start);
    return {
      at: start.toISOString(),
      dayOfWeek: start.getUTCDay(),
      hourOfDay: start.getUTCHours(),
      launchProbability: Math.round((this.probability[s] ?? 0) * 1000) / 1000,
      expectedLaunches: Math.round((this.expected[s] ?? 0) * 1000) / 1000,
      likelyTier: this.tierBySlot[s] ?? null,
      confidence: this.confidence,
    };
  }

  /** Unrounded probability for the hour containing `at` (for scoring). */
  probabilityAt(at: Date): number {
    return this.probability[slotOf(hourStart(at))] ?? 0;
  }
}

/**
 * What a warm pool needs: expected launches per tier in the hour containing `at`, summed over users.
 * (Not wired to a pool yet: the local runtime has none.)
 */
export function forecastLaunches(models: readonly LaunchModel[], at: Date): Partial<Record<TierId, number>> {
  const out: Partial<Record<TierId, number>> = {};
  for (const m of models) {
    const p = m.predict(at);
    if (p.likelyTier) out[p.likelyTier] = (out[p.likelyTier] ?? 0) + p.expectedLaunches;
  }
  return out;
}
