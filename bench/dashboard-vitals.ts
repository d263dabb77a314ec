// Mount time and Core Web Vitals (LCP, INP, CLS; FCP and TTFB beside them) of the harness's v-SuperCore page in
// headless Chromium with 50 sessions listed, plus what the page downloads from the remote to show it.
// Prints figures; never fails on time.
//   npm run build && node --import tsx bench/dashboard-vitals.ts -- --runs 5 [--warmups 1] [--trace] [--timeline]
//   [--trace-file run1.json]
// Each interaction is named by the step of the script that made it. With --trace, the first run is traced
// (Chromium's DevTools timeline) and each interaction's time is split into script, style, layout and paint.
//
// The 50 sessions are real Canon Memory rows, written with SqliteCanonStore into the harness's DATA_DIR before
// it starts (50 real Xvnc desktops are too heavy for one machine, and nothing here is faked): each one
// requested → active → paused or terminated, with its records. At start the adapter reconciles the paused ones,
// finds no desktop for them, and marks them failed ("the desktop ended while the adapter was down"), so the list
// shows 25 failed and 25 terminated sessions — 50 rows once "Show terminated" is ticked.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { HANDSHAKE } from '../protocol/handshake.ts';
import type { Session } from '../protocol/session.ts';
import { SqliteCanonStore } from '../backend-adapter/canon/sqlite-canon-store.ts';
import { TIER_CATALOGUE } from '../backend-adapter/tiers/tier-catalogue.ts';
import { launchChromium } from '../test/support/chromium.ts';
import {
  INTERACTION_TRACE_CATEGORIES,
  InteractionBreakdown,
  type Breakdown,
} from './interaction-breakdown.ts';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const warmupArg = process.argv.indexOf('--warmups');
const warmups = warmupArg > 0 ? Number(process.argv[warmupArg + 1]) : 1;
const trace = process.argv.includes('--trace');
// With --trace-file PATH, run 1's Chromium trace is also written there (for DevTools' Performance panel).
const traceFileArg = process.argv.indexOf('--trace-file');
const traceFile = traceFileArg > 0 ? process.argv[traceFileArg + 1] : undefined;
// With --timeline, run 1's requests up to its LCP and every LCP candidate are printed: what LCP waited for.
const timeline = process.argv.includes('--timeline');
const SESSIONS = 50;
const USER = { userId: 'dev-user', tenantId: 'dev-tenant' };

async function seed(dataDir: string): Promise<void> {
  const canon = new SqliteCanonStore(path.join(dataDir, 'canon.sqlite'));
  const start = Date.now() - 3 * 3600_000;
  for (let i = 0; i < SESSIONS; i++) {
    const tier = TIER_CATALOGUE[i % 3];
    if (!tier) throw new Error('no tier');
    const created = new Date(start + i * 60_000);
    const session: Session = {
      sessionId: randomUUID(),
      ...USER,
      tier: tier.id,
      resources: tier.resources,
      state: 'requested',
      createdAt: created.toISOString(),
      canonTimestamp: created.toISOString(),
      handshake: HANDSHAKE,
    };
    await canon.createSession(
      { session, runtime: null, lastActivityAt: created.toISOString() },
      'bench:seed',
    );
    const at = (s: number): Date => new Date(created.getTime() + s * 1000);
    const step = (from: Session['state'], to: Session['state'], s: number, action: string) =>
      canon.transition({
        sessionId: session.sessionId,
        from: [from],
        to,
        action,
        actor: 'bench:seed',
        at: at(s),
      });
    await step('requested', 'provisioning', 1, 'genesis.provisioning');
    await step('provisioning', 'active', 3, 'genesis.active');
    if (i % 2 === 0) {
      await step('active', 'pausing', 600, 'pause.requested');
      await step('pausing', 'paused', 601, 'pause.done');
    } else {
      await step('active', 'terminating', 900, 'terminate.requested');
      await step('terminating', 'terminated', 902, 'terminate.done');
    }
  }
  await canon.close();
}

interface Vital {
  name: string;
  value: number;
}

interface Run {
  mountMs: number;
  /** When the first mount finished, from the navigation start (the pane was on screen). */
  onScreenMs: number;
  warmMountMs: number;
  vitals: Record<string, number>;
  rows: number;
  remoteFiles: Map<string, number>;
  vitalsPosted: number;
  /** The longest event of each interaction, by the step of the script that made it (Event Timing). */
  interactions: Interaction[];
  /** The last LCP candidate. */
  lcp: LcpEntry | undefined;
  /** Every LCP candidate, in order. */
  lcpCandidates: LcpEntry[];
  /** What the page fetched, and when (Resource Timing, ms from navigation start). */
  fetches: Fetch[];
  /** Frames longer than 50 ms (Long Animation Frames), with their scripts. */
  frames: LongFrame[];
  /** Where each interaction's time went on the main thread (traced runs only). */
  breakdowns?: Map<string, Breakdown>;
}

interface LcpEntry {
  at: number;
  size: number;
  url: string;
  node: string;
  loadTime: number;
}

interface LongFrame {
  at: number;
  duration: number;
  blocking: number;
  scripts: string[];
}

interface Fetch {
  name: string;
  start: number;
  end: number;
}

interface Interaction {
  label: string;
  /** The script's step (a performance mark `bench:<step>` set just before it acted). */
  step: string;
  startTime: number;
  duration: number;
  /** Input delay, event handlers, and the rest (rendering up to the next paint). */
  delay: number;
  processing: number;
  presentation: number;
}

const webVitalsIife = readFileSync(
  path.join(import.meta.dirname, '../node_modules/web-vitals/dist/web-vitals.iife.js'),
  'utf8',
);

/** The same library the module reports with, observing with reportAllChanges so the page need not be hidden. */
const collector = `${webVitalsIife}
window.__vitals = [];
for (const on of ['onLCP', 'onINP', 'onCLS', 'onFCP', 'onTTFB'])
  webVitals[on]((m) => window.__vitals.push({ name: m.name, value: m.value }), { reportAllChanges: true });
// Every interaction's longest event, with what it hit, to see which interaction sets INP.
window.__interactions = new Map();
const stepAt = (t) => {
  let step = '(before the script)';
  for (const m of performance.getEntriesByType('mark'))
    if (m.name.startsWith('bench:') && m.startTime <= t) step = m.name.slice(6);
  return step;
};
const describe = (node) => {
  if (!node || node.nodeType !== 1) return '(detached)';
  const action = node.getAttribute('data-action') || node.getAttribute('data-tab') || node.getAttribute('role');
  const text = (node.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 24);
  return node.localName + (action ? '[' + action + ']' : '') + (text ? ' "' + text + '"' : '');
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (!e.interactionId) continue;
    const known = window.__interactions.get(e.interactionId);
    if (known && known.duration >= e.duration) continue;
    window.__interactions.set(e.interactionId, {
      label: known ? known.label : describe(e.target),
      step: known ? known.step : stepAt(e.startTime),
      startTime: known ? known.startTime : e.startTime,
      duration: e.duration,
      delay: e.processingStart - e.startTime,
      processing: e.processingEnd - e.processingStart,
      presentation: e.startTime + e.duration - e.processingEnd,
    });
  }
}).observe({ type: 'event', durationThreshold: 16, buffered: true });
// What moved, when a layout shift counts (no recent input): to tell where any CLS comes from.
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.hadRecentInput) continue;
    window.__shifts.push({ value: e.value, at: Math.round(e.startTime), sources: (e.sources || []).map((s) => describe(s.node)).join(', ') });
  }
}).observe({ type: 'layout-shift', buffered: true });
// The LCP candidates: which element (inside shadow roots the entry has none, so its size and URL tell), and when.
window.__lcp = [];
// A text candidate inside a shadow root has no element: the text box of about its size on screen names it. That
// walk lays out and measures every text node, so it runs once the load is over (window.__nameLcp, called by the
// script), never in the observer, where it would take the main thread from the frames the page is painting.
const textOfSize = (size) => {
  let best = null;
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      for (const child of el.childNodes) {
        if (child.nodeType !== 3 || !child.textContent.trim()) continue;
        const range = document.createRange();
        range.selectNodeContents(child);
        const r = range.getBoundingClientRect();
        const off = Math.abs(r.width * r.height - size) / size;
        if (off < 0.1 && (!best || off < best.off)) best = { off, text: child.textContent.trim().slice(0, 40), host: el.localName };
      }
    }
  };
  walk(document);
  return best ? best.host + ' "' + best.text + '"' : '(detached)';
};
// Long animation frames (what kept a frame from painting), with the scripts that ran in them.
window.__loaf = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    window.__loaf.push({ at: Math.round(e.startTime), duration: Math.round(e.duration), blocking: Math.round(e.blockingDuration),
      scripts: (e.scripts || []).map((x) => Math.round(x.duration) + ' ms ' + x.invokerType + ' ' + (x.invoker || '').slice(0, 40) + ' ' + (x.sourceURL || '').split('/').pop() + (x.sourceFunctionName ? ':' + x.sourceFunctionName : '')).slice(0, 4) });
}).observe({ type: 'long-animation-frame', buffered: true });
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    window.__lcp.push({ at: Math.round(e.startTime), size: e.size, url: (e.url || '').slice(0, 60), node: e.element ? describe(e.element) : null, loadTime: Math.round(e.loadTime) });
}).observe({ type: 'largest-contentful-paint', buffered: true });
window.__nameLcp = () => {
  for (const l of window.__lcp) l.node ??= textOfSize(l.size);
};`;

/** Marks the step the script takes next; the interactions it makes are named by it. */
async function step(page: Page, name: string): Promise<void> {
  await page.evaluate((n) => performance.mark(`bench:${n}`), name);
}

async function mountMeasures(page: Page): Promise<number[]> {
  return page.evaluate(() => performance.getEntriesByName('v-supercore:mount').map((e) => e.duration));
}

async function firstMountEnd(page: Page): Promise<number> {
  return page.evaluate(() => {
    const [first] = performance.getEntriesByName('v-supercore:mount');
    return first ? first.startTime + first.duration : NaN;
  });
}

async function oneRun(baseUrl: string, remoteUrl: string, page: Page, traced?: Browser): Promise<Run> {
  const remoteFiles = new Map<string, number>();
  let vitalsPosted = 0;
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/v1/vitals')) vitalsPosted++;
  });
  page.on('response', async (response) => {
    if (!response.url().startsWith(remoteUrl)) return;
    try {
      remoteFiles.set(
        new URL(response.url()).pathname.slice(1),
        gzipSync(await response.body(), { level: 9 }).length,
      );
    } catch {
      // redirects and aborted bodies carry nothing to count
    }
  });
  if (traced) await traced.startTracing(page, { categories: INTERACTION_TRACE_CATEGORIES });
  await page.goto(`${baseUrl}/v-supercore/sessions`);
  const list = page.locator('vsc-active-sessions');
  await list.locator('table').waitFor({ timeout: 20_000 });
  const [mountMs = NaN] = await mountMeasures(page);
  const onScreenMs = await firstMountEnd(page);
  // The LCP candidates painted by now are reported after the next frame; name them while they are on screen.
  await page.evaluate(
    () =>
      new Promise<void>((resolve) =>
        requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 0))),
      ),
  );
  await page.evaluate(() => (window as unknown as { __nameLcp(): void }).__nameLcp());

  // Interactions for INP: show the 50 rows, switch panes, refresh.
  await step(page, 'tick "Show terminated"');
  await list.locator('[data-action="show-ended"]').click();
  await list
    .locator('tbody tr')
    .nth(SESSIONS - 1)
    .waitFor();
  const rows = await list.locator('tbody tr').count();
  await step(page, 'tab Resource Monitor');
  await page.getByRole('tab', { name: 'Resource Monitor' }).click();
  await page.locator('vsc-resource-monitor').waitFor();
  await step(page, 'tab Active Sessions (back)');
  await page.getByRole('tab', { name: 'Active Sessions' }).click();
  await step(page, 'Refresh');
  await list.locator('[data-action="refresh"]').click();
  await page.waitForTimeout(500);

  // A second mount, the chunks now cached: Home, then back through the navigation item.
  await step(page, 'shell link Home (unmount)');
  await page.getByRole('link', { name: 'Home' }).click();
  await step(page, 'shell link Virtual Super PC (mount)');
  await page.getByRole('link', { name: /Virtual Super PC/ }).click();
  await page.locator('vsc-quick-launch [data-tier="basic"]').waitFor();
  const measures = await mountMeasures(page);
  const warmMountMs = measures.at(-1) ?? NaN;

  const reported = await page.evaluate(() => (window as unknown as { __vitals: Vital[] }).__vitals);
  const shifts = await page.evaluate(() => (window as unknown as { __shifts: unknown[] }).__shifts);
  if (shifts.length > 0) console.log(`  layout shifts: ${JSON.stringify(shifts)}`);
  const interactions = await page.evaluate(() => [
    ...(window as unknown as { __interactions: Map<number, Interaction> }).__interactions.values(),
  ]);
  const lcpEntries = await page.evaluate(() => {
    const w = window as unknown as { __lcp: LcpEntry[]; __nameLcp(): void };
    w.__nameLcp(); // any candidate reported after the load (named by what is on screen now)
    return w.__lcp;
  });
  const frames = await page.evaluate(() => (window as unknown as { __loaf: LongFrame[] }).__loaf);
  const fetches = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((e) => ({
      name: e.name,
      start: Math.round(e.startTime),
      end: Math.round((e as PerformanceResourceTiming).responseEnd || e.startTime + e.duration),
    })),
  );
  const vitals: Record<string, number> = {};
  for (const v of reported) vitals[v.name] = v.value; // the last report of each is its current value
  let breakdowns: Map<string, Breakdown> | undefined;
  if (traced) {
    const anchor = await page.evaluate(() => {
      const [mark] = performance.getEntriesByType('mark').filter((m) => m.name.startsWith('bench:'));
      return mark ? { name: mark.name, startTime: mark.startTime } : undefined;
    });
    const timeline = await traced.stopTracing();
    if (traceFile) await writeFile(traceFile, timeline);
    if (anchor) {
      const reader = new InteractionBreakdown(timeline, anchor);
      breakdowns = new Map(
        interactions.map((i) => [i.step, reader.window(i.startTime, i.startTime + i.duration)]),
      );
    }
  }
  await page.close({ runBeforeUnload: true });
  return {
    mountMs,
    onScreenMs,
    warmMountMs,
    vitals,
    rows,
    remoteFiles,
    vitalsPosted,
    interactions,
    lcp: lcpEntries.at(-1),
    lcpCandidates: lcpEntries,
    fetches,
    frames,
    ...(breakdowns ? { breakdowns } : {}),
  };
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The harness in its own process, as a server is: Playwright's client in this process must not share the
 * server's event loop (it did, and every request of the page waited on the driver's work).
 */
async function spawnHarness(
  dataDir: string,
): Promise<{ url: string; remoteUrl: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'harness/server/start.ts'], {
    cwd: path.join(import.meta.dirname, '..'),
    env: { ...process.env, PORT: '0', REMOTE_PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  let url = '';
  let remoteUrl = '';
  for await (const line of lines) {
    url ||= /dev harness: (\S+?)\/?$/.exec(line)?.[1] ?? '';
    remoteUrl ||= /remote \(Module Federation\): (\S+)\/mf-manifest\.json/.exec(line)?.[1] ?? '';
    if (url && remoteUrl) break;
  }
  if (!url || !remoteUrl) throw new Error(`the harness did not start (exit code ${String(child.exitCode)})`);
  return {
    url,
    remoteUrl,
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'vsc-bench-vitals-'));
await seed(dataDir);
const harness = await spawnHarness(dataDir);
const browser = await launchChromium();
const results: Run[] = [];
try {
  // One unmeasured visit first: a server in use has its code compiled (JIT) and its caches filled.
  for (let i = 0; i < warmups; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript({ content: collector });
    await oneRun(harness.url, harness.remoteUrl, await context.newPage());
    await context.close();
  }
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript({ content: collector });
    const page = await context.newPage();
    results.push(await oneRun(harness.url, harness.remoteUrl, page, trace && i === 0 ? browser : undefined));
    await context.close();
  }
} finally {
  await browser.close();
  await harness.close();
  await rm(dataDir, { recursive: true, force: true });
}

const fmt = (v: number, unit: string, digits = 0): string =>
  Number.isFinite(v) ? `${v.toFixed(digits)} ${unit}` : 'n/a';
const series = (pick: (r: Run) => number): number[] => results.map(pick);
console.log(
  `v-SuperCore page of the dev harness, headless Chromium, ${SESSIONS} sessions listed, ${runs} runs (median) after ${warmups} unmeasured warm-up visit(s), the harness in its own process`,
);
console.log(`  rows listed                 ${results.map((r) => r.rows).join(', ')}`);
console.log(
  `  mount() first visit          ${fmt(median(series((r) => r.mountMs)), 'ms', 1)}   target <= 50 ms (single-spa's bootstrap already fetched the chunks)`,
);
console.log(
  `  mount() again (Home → back)  ${fmt(median(series((r) => r.warmMountMs)), 'ms', 1)}   (Quick Launch)`,
);
console.log(
  `  pane on screen after nav.    ${fmt(median(series((r) => r.onScreenMs)), 'ms')}   (navigation start → mount done: page, manifest, remote, chunks)`,
);
console.log(
  `  LCP                          ${fmt(median(series((r) => r.vitals['LCP'] ?? NaN)), 'ms')}   target <= 1000 ms`,
);
console.log(
  `  INP                          ${fmt(median(series((r) => r.vitals['INP'] ?? NaN)), 'ms')}   target <= 50 ms`,
);
console.log(
  `  CLS                          ${fmt(median(series((r) => r.vitals['CLS'] ?? NaN)), '', 4)}   target 0`,
);
console.log(`  FCP                          ${fmt(median(series((r) => r.vitals['FCP'] ?? NaN)), 'ms')}`);
console.log(`  TTFB                         ${fmt(median(series((r) => r.vitals['TTFB'] ?? NaN)), 'ms')}`);
console.log(
  `  vitals the module POSTed     ${results.map((r) => r.vitalsPosted).join(', ')} (per run, seen before the page closed)`,
);
console.log('  each run: mount ms, LCP ms, INP ms, CLS, FCP ms');
for (const [i, r] of results.entries()) {
  const v = (name: string, digits = 0): string => fmt(r.vitals[name] ?? NaN, '', digits).trim();
  console.log(
    `    run ${i + 1}: ${fmt(r.mountMs, '', 1).trim()}, ${v('LCP')}, ${v('INP')}, ${v('CLS', 4)}, ${v('FCP')}`,
  );
}
console.log('  LCP element (last candidate; its size in px², and its URL for an image):');
for (const [i, r] of results.entries()) {
  const l = r.lcp;
  console.log(
    l
      ? `    run ${i + 1}: at ${l.at} ms, ${l.size} px², ${l.url ? `image ${l.url} (loaded at ${l.loadTime} ms)` : 'text'} ${l.node}`
      : `    run ${i + 1}: none`,
  );
}
const firstRun = results[0];
if (timeline && firstRun) {
  const until = firstRun.lcp?.at ?? Infinity;
  console.log(
    '  run 1 up to its LCP: requests (start → end, ms from navigation start), long frames and LCP candidates:',
  );
  const rows: [number, string][] = [
    ...firstRun.fetches
      .filter((f) => f.start <= until)
      .map((f): [number, string] => {
        const u = new URL(f.name);
        return [
          f.start,
          `${String(f.start).padStart(5)} → ${String(f.end).padStart(5)}  ${u.port}${u.pathname}`,
        ];
      }),
    ...firstRun.frames
      .filter((f) => f.at <= until)
      .map((f): [number, string] => [
        f.at,
        `${String(f.at).padStart(5)} → ${String(f.at + f.duration).padStart(5)}  long frame (${f.blocking} ms blocking) ${f.scripts.join('; ')}`,
      ]),
    ...firstRun.lcpCandidates.map((l): [number, string] => [
      l.at,
      `${String(l.at).padStart(5)}          LCP candidate ${l.size} px² ${l.url ? l.url : 'text'} ${l.node}`,
    ]),
  ];
  for (const [, line] of rows.sort((a, b) => a[0] - b[0])) console.log(`    ${line}`);
}
// Each interaction of the script (the same sequence every run), keyed by the step that made it (and what it hit,
// as Event Timing sees it: a shadow root's host); a run where it took under 16 ms has no entry for it.
const keyed = results.map((r) => {
  const seen = new Map<string, number>();
  return new Map(
    r.interactions.map((i) => {
      const key = `${i.step} → ${i.label}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      return [n > 1 ? `${key} #${n}` : key, i] as const;
    }),
  );
});
const labels = [...new Set(keyed.flatMap((m) => [...m.keys()]))];
if (labels.length > 0) {
  console.log(
    '  interactions >= 16 ms (median over the runs that saw one: total = input delay + handlers + to paint):',
  );
  for (const label of labels) {
    const same = keyed.map((m) => m.get(label)).filter((i): i is Interaction => i !== undefined);
    const m = (pick: (i: Interaction) => number): string => median(same.map(pick)).toFixed(0).padStart(4);
    console.log(
      `    ${label.slice(0, 60).padEnd(60)} ${m((i) => i.duration)} ms = ${m((i) => i.delay)} + ${m((i) => i.processing)} + ${m((i) => i.presentation)}   (${same.length}/${results.length} runs)`,
    );
  }
}
const traced = results[0]?.breakdowns;
if (traced) {
  console.log(
    '  run 1 traced: main thread inside each interaction, ms (nested work counts twice, e.g. a forced layout in script):',
  );
  console.log(
    `    ${'step'.padEnd(40)} ${'busy'.padStart(6)} ${'script'.padStart(6)} ${'style'.padStart(6)} ${'layout'.padStart(6)} ${'paint'.padStart(6)}`,
  );
  const f = (v: number): string => v.toFixed(1).padStart(6);
  for (const [name, b] of traced) {
    console.log(
      `    ${name.slice(0, 40).padEnd(40)} ${f(b.busy)} ${f(b.script)} ${f(b.style)} ${f(b.layout)} ${f(b.paint)}`,
    );
  }
}
const first = results[0];
if (first) {
  let total = 0;
  console.log('  fetched from the remote on the first visit (gzip -9 of each body):');
  for (const [file, size] of [...first.remoteFiles].sort((a, b) => b[1] - a[1])) {
    total += size;
    console.log(`    ${file.padEnd(52)} ${(size / 1024).toFixed(1).padStart(6)} KiB`);
  }
  console.log(
    `    ${'total (incl. panes visited; the harness lends lit, rxjs and single-spa)'.padEnd(52)} ${(total / 1024).toFixed(1).padStart(6)} KiB`,
  );
}
