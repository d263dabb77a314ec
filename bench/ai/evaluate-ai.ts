/**
 * Evaluates the embedded N.E.X.U.S AI models on generated workloads and prints the figures (never
 * pass/fail; test/node/ai/*.test.ts asserts bounds). Seeded: the same numbers on every machine.
 *
 *   node --import tsx bench/ai/evaluate-ai.ts [workloads=1000] [users=500]
 */
import { DEFAULT_ANOMALY_OPTIONS, detectAnomalies } from '../../backend-adapter/ai/anomaly-detector.ts';
import {
  HOUR_MS,
  WEEK_MS,
  generateWeeklyUser,
  generateWorkload,
  launchedSlots,
  scoreDetections,
} from '../../backend-adapter/ai/evaluation.ts';
import { LaunchModel } from '../../backend-adapter/ai/launch-predictor.ts';

const workloads = Number(process.argv[2] ?? 1000);
const users = Number(process.argv[3] ?? 500);
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

console.log(`# Anomaly detection: ${workloads} generated sessions of 360 samples (12 min at 2 s)`);
const started = performance.now();
const runs = Array.from({ length: workloads }, (_, i) => {
  const workload = generateWorkload(1 + i);
  return { workload, report: detectAnomalies(workload.samples) };
});
const elapsed = performance.now() - started;
const score = scoreDetections(runs);
console.log(`injected episodes     ${score.injected}`);
console.log(
  `detections            ${score.detections} (${score.truePositives} correct, ${score.falsePositives} false)`,
);
console.log(`precision             ${pct(score.precision)}`);
console.log(`recall                ${pct(score.recall)}`);
console.log(
  `F1                    ${pct((2 * score.precision * score.recall) / (score.precision + score.recall))}`,
);
for (const [kind, k] of Object.entries(score.recallByKind).sort()) {
  console.log(`  recall ${kind.padEnd(14)} ${pct(k.detected / k.injected)} (${k.detected}/${k.injected})`);
}
const clean = Array.from({ length: 300 }, (_, i) => {
  const workload = generateWorkload(100_000 + i, { anomalies: 0 });
  return { workload, report: detectAnomalies(workload.samples) };
});
console.log(`false alarms on 300 clean sessions: ${scoreDetections(clean).detections}`);
console.log(`cost: ${(elapsed / workloads).toFixed(2)} ms per session analysed`);

console.log('\n# Threshold sensitivity (same workloads)');
for (const threshold of [2.5, 3, 3.5, 4, 5]) {
  const s = scoreDetections(
    runs.map(({ workload }) => ({
      workload,
      report: detectAnomalies(workload.samples, { ...DEFAULT_ANOMALY_OPTIONS, threshold }),
    })),
  );
  console.log(`z > ${threshold.toFixed(1)}: precision ${pct(s.precision)}, recall ${pct(s.recall)}`);
}

console.log(`\n# Launch prediction: ${users} generated users, 4–12 weeks each, last week held out`);
let brierModel = 0;
let brierLast = 0;
let brierRate = 0;
let hitsModel = 0;
let hitsLast = 0;
let slots = 0;
for (let seed = 1; seed <= users; seed++) {
  const weeks = 4 + (seed % 9);
  const user = generateWeeklyUser(seed, weeks);
  const test = weeks - 1;
  const now = new Date(user.firstWeek.getTime() + test * WEEK_MS);
  const model = LaunchModel.fit(user.history, now);
  const actual = launchedSlots(user, test);
  const previous = launchedSlots(user, test - 1);
  const trainWeeks = Array.from({ length: test }, (_, w) => launchedSlots(user, w));
  const rate = trainWeeks.flat().reduce((a, b) => a + b, 0) / (test * 168);
  for (let h = 0; h < 168; h++) {
    const y = actual[h] ?? 0;
    const p = model.probabilityAt(new Date(now.getTime() + h * HOUR_MS));
    brierModel += (p - y) ** 2;
    brierLast += ((previous[h] ?? 0) - y) ** 2;
    brierRate += (rate - y) ** 2;
    hitsModel += Number((p >= 0.5 ? 1 : 0) === y);
    hitsLast += Number((previous[h] ?? 0) === y);
    slots++;
  }
}
console.log(
  `Brier score (lower is better): model ${(brierModel / slots).toFixed(4)}, same-as-last-week ${(brierLast / slots).toFixed(4)}, constant rate ${(brierRate / slots).toFixed(4)}`,
);
console.log(
  `yes/no accuracy at 0.5: model ${pct(hitsModel / slots)}, same-as-last-week ${pct(hitsLast / slots)}`,
);
