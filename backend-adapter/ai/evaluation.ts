/**
 * Generated workloads with known anomalies and known weekly launch patterns, and the scores of the embedded
 * models on them. Used by test/node/ai/*.test.ts (which assert bounds) and bench/ai/evaluate-ai.ts (which
 * prints the figures). Everything is seeded: the same seed gives the same workloads on every machine.
 */
import type { AnomalyMetric, AnomalyReport } from '../../protocol/ai.ts';
import type { MetricsSample } from '../../protocol/live-events.ts';
import type { TierId } from '../../protocol/session.ts';
import { normal, seededRandom } from './robust-stats.ts';
import type { LaunchHistoryEntry } from './launch-predictor.ts';

export const SAMPLE_INTERVAL_MS = 2000;

export type InjectedKind =
  'cpu-spike' | 'cpu-runaway' | 'memory-step' | 'memory-leak' | 'fps-drop' | 'latency-spike';

export interface InjectedAnomaly {
  kind: InjectedKind;
  metric: AnomalyMetric;
  /** Sample indices [start, end). */
  start: number;
  end: number;
}

export interface GeneratedWorkload {
  samples: MetricsSample[];
  injected: InjectedAnomaly[];
}

const METRIC_OF: Record<InjectedKind, AnomalyMetric> = {
  'cpu-spike': 'cpuPercent',
  'cpu-runaway': 'cpuPercent',
  'memory-step': 'memoryMiB',
  'memory-leak': 'memoryMiB',
  'fps-drop': 'streamFps',
  'latency-spike': 'streamLatencyMs',
};

/**
 * One session's samples: noisy but normal CPU, memory, frame rate and latency (with the heavy-ish tails real
 * desktops have: occasional benign bursts), and `anomalies` injected episodes at random non-overlapping places.
 */
export function generateWorkload(
  seed: number,
  options: { length?: number; anomalies?: number } = {},
): GeneratedWorkload {
  const random = seededRandom(seed);
  const length = options.length ?? 360;
  const between = (a: number, b: number) => a + random() * (b - a);
  const int = (a: number, b: number) => Math.floor(between(a, b + 1));
  const noise = () => {
    // Mostly normal, sometimes a wider draw: a Gaussian scale mixture.
    const z = normal(random);
    return random() < 0.05 ? z * 2 : z;
  };

  const cpuBase = between(5, 60);
  const cpuSd = between(1.5, 5);
  const memBase = between(400, 3000);
  const memSd = between(2, 8);
  const watched = random() < 0.8;
  const fpsBase = watched ? between(15, 30) : 0;
  const fpsSd = between(0.5, 1.5);
  const latBase = between(12, 45);
  const latSd = between(1, 3);

  // Normal life: CPU drifts slowly (the user's activity changes) and has short benign bursts (opening an
  // app); memory drifts a little too. None of this is labelled anomalous, and a detector that flags it
  // loses precision.
  const drift = between(0, 0.3);
  const period = between(150, 400);
  const phase = between(0, 2 * Math.PI);
  const cpu = Array.from({ length }, (_, i) => {
    const level = cpuBase * (1 + drift * Math.sin((2 * Math.PI * i) / period + phase));
    const burst = random() < 0.02 ? between(2, 4) * cpuSd : 0;
    return Math.max(0, level + burst + cpuSd * noise());
  });
  const memDrift = between(-0.02, 0.02) * memBase;
  const mem = Array.from({ length }, (_, i) => memBase + (memDrift * i) / length + memSd * noise());
  const fps = Array.from({ length }, () => (watched ? Math.max(0, fpsBase + fpsSd * noise()) : 0));
  const lat = Array.from({ length }, () => Math.max(1, latBase + latSd * noise()));

  const kinds: InjectedKind[] = ['cpu-spike', 'cpu-runaway', 'memory-step', 'memory-leak', 'latency-spike'];
  if (watched) kinds.push('fps-drop');
  const injected: InjectedAnomaly[] = [];
  const count = options.anomalies ?? int(0, 3);
  for (let tries = 0; injected.length < count && tries < 50; tries++) {
    const kind = kinds[int(0, kinds.length - 1)] ?? 'cpu-spike';
    const duration =
      kind === 'cpu-spike' || kind === 'latency-spike'
        ? int(3, 10)
        : kind === 'fps-drop'
          ? int(5, 20)
          : kind === 'memory-leak'
            ? int(40, 80)
            : int(20, 60);
    const start = int(40, length - duration - 5);
    const end = start + duration;
    // Episodes of one metric are kept apart, so each truth is one episode.
    const metric = METRIC_OF[kind];
    if (injected.some((a) => a.metric === metric && start < a.end + 70 && a.start < end + 70)) continue;
    injected.push({ kind, metric, start, end });
    // Magnitudes range from obvious to barely above the noise, so recall is not 1 by construction.
    if (kind === 'cpu-spike') {
      const add = between(8, 120);
      for (let i = start; i < end; i++) cpu[i] = (cpu[i] ?? 0) + add;
    } else if (kind === 'cpu-runaway') {
      const add = between(20, 200);
      for (let i = start; i < end; i++) cpu[i] = (cpu[i] ?? 0) + add;
    } else if (kind === 'memory-step') {
      const add = memBase * between(0.02, 0.6);
      for (let i = start; i < end; i++) mem[i] = (mem[i] ?? 0) + add;
    } else if (kind === 'memory-leak') {
      // Rises steadily, then stays up (a leak does not give memory back).
      const total = memBase * between(0.05, 0.5);
      for (let i = start; i < length; i++)
        mem[i] = (mem[i] ?? 0) + total * Math.min(1, (i - start) / duration);
    } else if (kind === 'fps-drop') {
      const keep = between(0, 0.8);
      for (let i = start; i < end; i++) fps[i] = (fps[i] ?? 0) * keep;
    } else {
      const factor = between(1.3, 8);
      for (let i = start; i < end; i++) lat[i] = (lat[i] ?? 0) * factor;
    }
  }

  const t0 = Date.parse('2026-03-02T09:00:00.000Z');
  const samples: MetricsSample[] = Array.from({ length }, (_, i) => ({
    sessionId: `gen-${seed}`,
    at: new Date(t0 + i * SAMPLE_INTERVAL_MS).toISOString(),
    cpuPercent: Math.round((cpu[i] ?? 0) * 10) / 10,
    memoryMiB: Math.round((mem[i] ?? 0) * 10) / 10,
    gpuPercent: null,
    networkTxBytesPerSec: watched ? 200_000 : 0,
    networkRxBytesPerSec: watched ? 2_000 : 0,
    streamFps: Math.round((fps[i] ?? 0) * 10) / 10,
    streamLatencyMs: Math.round((lat[i] ?? 0) * 10) / 10,
  }));
  return { samples, injected };
}

export interface DetectionScore {
  workloads: number;
  injected: number;
  detections: number;
  truePositives: number;
  falsePositives: number;
  detectedInjected: number;
  precision: number;
  recall: number;
  /** Recall per injected kind. */
  recallByKind: Record<string, { injected: number; detected: number }>;
}

/**
 * Episode-level scoring. A detection is correct when it overlaps an injected episode of the same metric
 * (with `tolerance` samples of slack: a lasting change is legitimately reported a little after it ends);
 * precision = correct detections / detections, recall = injected episodes overlapped by a detection / injected.
 */
export function scoreDetections(
  runs: ReadonlyArray<{ workload: GeneratedWorkload; report: AnomalyReport }>,
  tolerance = 5,
): DetectionScore {
  let detections = 0;
  let truePositives = 0;
  let injected = 0;
  let detectedInjected = 0;
  const recallByKind: DetectionScore['recallByKind'] = {};
  for (const { workload, report } of runs) {
    const indexOf = (at: string) =>
      Math.round((Date.parse(at) - Date.parse(workload.samples[0]?.at ?? at)) / SAMPLE_INTERVAL_MS);
    const found = report.anomalies.map((a) => ({
      metric: a.metric,
      start: indexOf(a.startedAt),
      end: indexOf(a.endedAt) + 1,
    }));
    const overlaps = (d: { metric: AnomalyMetric; start: number; end: number }, t: InjectedAnomaly) =>
      d.metric === t.metric && d.start < t.end + tolerance && t.start < d.end;
    detections += found.length;
    truePositives += found.filter((d) => workload.injected.some((t) => overlaps(d, t))).length;
    for (const t of workload.injected) {
      injected++;
      const hit = found.some((d) => overlaps(d, t));
      if (hit) detectedInjected++;
      const k = (recallByKind[t.kind] ??= { injected: 0, detected: 0 });
      k.injected++;
      if (hit) k.detected++;
    }
  }
  return {
    workloads: runs.length,
    injected,
    detections,
    truePositives,
    falsePositives: detections - truePositives,
    detectedInjected,
    precision: detections ? truePositives / detections : 1,
    recall: injected ? detectedInjected / injected : 1,
    recallByKind,
  };
}

// ---- weekly launch patterns ----

export interface WeeklyPatternUser {
  /** Every launch, oldest first. */
  history: LaunchHistoryEntry[];
  /** Start (Monday 00:00 UTC) of the first week and the number of weeks generated. */
  firstWeek: Date;
  weeks: number;
}

const HOUR_MS = 3_600_000;
const WEEK_MS = 7 * 24 * HOUR_MS;

/**
 * A user with habits: on weekdays a morning session (most days, usually at 9, sometimes at 10) and often one
 * after lunch; now and then a weekend session at a random hour; rare launches at any time. Each habit holds
 * with a probability, so no week is exactly like the one before.
 */
export function generateWeeklyUser(seed: number, weeks: number): WeeklyPatternUser {
  const random = seededRandom(seed);
  const firstWeek = new Date('2026-01-05T00:00:00.000Z'); // a Monday
  const morningHour = 8 + Math.floor(random() * 3); // 8, 9 or 10
  const morningP = 0.7 + random() * 0.25;
  const afternoonP = 0.3 + random() * 0.4;
  const weekendP = 0.1 + random() * 0.2;
  const tiers: TierId[] = ['basic', 'standard', 'pro'];
  const usual = tiers[Math.floor(random() * tiers.length)] ?? 'basic';
  const history: LaunchHistoryEntry[] = [];
  const launch = (week: number, day: number, hour: number, tier: TierId) => {
    const minute = Math.floor(random() * 60);
    history.push({
      createdAt: new Date(
        firstWeek.getTime() + week * WEEK_MS + (day * 24 + hour) * HOUR_MS + minute * 60_000,
      ).toISOString(),
      tier,
    });
  };
  for (let w = 0; w < weeks; w++) {
    for (let day = 0; day < 7; day++) {
      // day 0 = Monday here; Date#getUTCDay() numbering is applied by the model.
      if (day < 5) {
        if (random() < morningP) launch(w, day, random() < 0.8 ? morningHour : morningHour + 1, usual);
        if (random() < afternoonP) launch(w, day, 14, random() < 0.7 ? usual : 'pro');
      } else if (random() < weekendP) {
        launch(w, day, 10 + Math.floor(random() * 10), 'basic');
      }
      for (let hour = 0; hour < 24; hour++) if (random() < 0.004) launch(w, day, hour, 'basic');
    }
  }
  history.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  return { history, firstWeek, weeks };
}

/** Which hour slots of week `week` had a launch: 168 zeros and ones, index = hours since that Monday 00:00. */
export function launchedSlots(user: WeeklyPatternUser, week: number): number[] {
  const start = user.firstWeek.getTime() + week * WEEK_MS;
  const slots = new Array<number>(168).fill(0);
  for (const h of user.history) {
    const t = Date.parse(h.createdAt);
    if (t >= start && t < start + WEEK_MS) slots[Math.floor((t - start) / HOUR_MS)] = 1;
  }
  return slots;
}

export { HOUR_MS, WEEK_MS };
