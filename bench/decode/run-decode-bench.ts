// Decode throughput of our stream engine vs noVNC on recorded RFB streams, in one headless Chromium.
//   npm run bench:decode -- [--recordings <folder>] [--json] [--only a,b] [--timeout <s>]
//                           [--warmup <n>] [--rounds <n>] [--no-trace]
//
// For each recording (NAME.rfb + NAME.json in the fixtures' format, ../shared/fixtures/rfb by default):
//   ours   the real decoder worker (worker/decoder-worker.ts, bundled with esbuild; one worker for the
//          whole run, as a viewer keeps one per session) connects to a local WebSocket server that
//          sends the gateway's msgpack messages for the recording (framed in Node beforehand with
//          RfbMessageParser and packed exactly as stream-bridge.ts does) under the gateway's flow
//          control: the next update as soon as fewer than STREAM_ACK_WINDOW are unacknowledged. The
//          worker decodes, draws into a transferred OffscreenCanvas and acknowledges each update.
//   noVNC  noVNC 1.7's RFB client (its ES modules bundled with esbuild into the same page) connects to
//          a second server that replays the recording's raw bytes: the handshake step by step, then —
//          once noVNC has asked for its first update — everything at once, so noVNC never waits for a
//          server. noVNC decodes on the main thread.
// Each recording: --warmup untimed rounds of both clients (default 1, so neither is measured cold),
// --rounds measured rounds (default 3; updates/s and MB/s are medians), then one traced round.
// Figures (one row per recording):
//   updates/s  updates / (last update done − first update sent), both on the Node side's clock: "done"
//              is our worker's ack of the last update (sent after it is drawn), and noVNC's request that
//              follows its last update (sent once noVNC has processed it; images of that last update
//              may still be loading then, which can only flatter noVNC).
//   MB/s       the recording's RFB bytes over the same time (the same numerator for both clients).
//   main ms/update  busy time of the page's main thread during the client's run (from its start mark
//              before connecting to its end mark once done) over its updates, from a Chromium trace of
//              the traced round: the sum of the main thread's top-level tasks — JavaScript, GC, message
//              handling, canvas work, layout, paint — not just our own callbacks. `details` also has
//              the time inside the page's own handlers (ours: the onEvent callback; noVNC: its socket
//              handler, its resumption after image waits and its render-queue scan), measured with
//              performance.now(), which pages without cross-origin isolation see in 0.1 ms steps.
//   pixelMatch our final frame (the worker's framebuffer) vs noVNC's canvas, every measured round:
//              equal on lossless recordings, within 8 per channel where JPEG rectangles occur.
// Everything runs on 127.0.0.1; every wait is bounded by --timeout (seconds per client run, default 120).
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../test/support/chromium.ts';
import type { FrameComparison, OursPageReport, PageClientReport } from './bench-api.ts';
import { prepareRecording, type PreparedRecording } from './prepare-recording.ts';
import { startNovncServer, startOursServer, type ReplayServer, type ReplayTiming } from './replay-servers.ts';
import { TRACE_CATEGORIES, TraceBusy } from './trace-busy.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const JPEG_TOLERANCE = 8;

interface Options {
  recordings: string;
  json: boolean;
  only: Set<string> | null;
  timeoutMs: number;
  trace: boolean;
  warmup: number;
  rounds: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    recordings: resolve(ROOT, '../shared/fixtures/rfb'),
    json: false,
    only: null,
    timeoutMs: 120_000,
    trace: true,
    warmup: 1,
    rounds: 3,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--recordings') options.recordings = resolve(value());
    else if (arg === '--json') options.json = true;
    else if (arg === '--only') options.only = new Set(value().split(','));
    else if (arg === '--timeout') options.timeoutMs = Number(value()) * 1000;
    else if (arg === '--no-trace') options.trace = false;
    else if (arg === '--warmup') options.warmup = Number(value());
    else if (arg === '--rounds') options.rounds = Number(value());
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!(options.timeoutMs > 0)) throw new Error('--timeout must be a positive number of seconds');
  if (!Number.isInteger(options.warmup) || options.warmup < 0) throw new Error('--warmup must be 0 or more');
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error('--rounds must be 1 or more');
  return options;
}

export interface ClientFigures {
  updatesPerSec: number | null;
  mbPerSec: number | null;
  mainThreadMsPerUpdate: number | null;
}

export interface BenchRow {
  recording: string;
  ours: ClientFigures;
  novnc: ClientFigures;
  /** ours.updatesPerSec / novnc.updatesPerSec */
  ratio: number | null;
  pixelMatch: boolean | null;
  details: {
    updates: number;
    mb: number;
    lossy: boolean;
    /** Measured rounds; updates/s and MB/s are their medians. */
    rounds: number;
    oursSeconds: number | null;
    novncSeconds: number | null;
    maxChannelDiff: number | null;
    differingPixels: number | null;
    /** Our final frame's digest equals the sidecar's (expected on lossless recordings). */
    oursMatchesSidecar: boolean | null;
    /** Time inside the page's own handlers per update (ms). */
    oursHandlerMsPerUpdate: number | null;
    novncHandlerMsPerUpdate: number | null;
    /** Busy time of our worker thread per update (ms), from the trace. */
    oursWorkerThreadMsPerUpdate: number | null;
    mainThreadMethod: 'trace' | 'handlers';
    errors: string[];
  };
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function bundle(entry: string, format: 'esm' | 'iife'): Promise<string> {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    write: false,
    platform: 'browser',
    format,
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    tsconfig: join(ROOT, 'tsconfig.json'),
  });
  const [file] = result.outputFiles;
  if (!file) throw new Error(`esbuild produced nothing for ${entry}`);
  return file.text;
}

async function serveBench(): Promise<{ server: Server; url: string }> {
  const [page, worker] = await Promise.all([
    // noVNC uses top-level await, so the page is a module; the worker is a classic worker script.
    bundle('bench/decode/bench-page.ts', 'esm'),
    bundle('worker/decoder-worker.ts', 'iife'),
  ]);
  const files: Record<string, [string, string]> = {
    '/': [
      'text/html; charset=utf-8',
      '<!doctype html><meta charset="utf-8"><title>decode benchmark</title><body><script type="module" src="/bench-page.js"></script>',
    ],
    '/bench-page.js': ['text/javascript', page],
    '/decoder-worker.js': ['text/javascript', worker],
    '/favicon.ico': ['image/x-icon', ''],
  };
  const server = createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface ClientRun<R> {
  timing: ReplayTiming | null;
  report: R | null;
  error: string | null;
}

async function runClient<R>(
  rec: PreparedRecording,
  options: Options,
  startServer: (rec: PreparedRecording, timeoutMs: number) => Promise<ReplayServer>,
  start: (url: string) => Promise<void>,
  end: () => Promise<R>,
): Promise<ClientRun<R>> {
  const server = await startServer(rec, options.timeoutMs);
  const run: ClientRun<R> = { timing: null, report: null, error: null };
  try {
    await withTimeout(start(server.url), options.timeoutMs, 'start');
    run.timing = await server.done;
  } catch (error) {
    run.error = error instanceof Error ? error.message : String(error);
  }
  try {
    run.report = await withTimeout(end(), options.timeoutMs, 'end');
  } catch (error) {
    run.error ??= error instanceof Error ? error.message : String(error);
  }
  await server.close();
  return run;
}

function runOurs(page: Page, rec: PreparedRecording, options: Options): Promise<ClientRun<OursPageReport>> {
  return runClient(
    rec,
    options,
    startOursServer,
    (url) => page.evaluate((u) => window.vscDecodeBench.startOurs(u), url),
    () => page.evaluate(() => window.vscDecodeBench.endOurs()),
  );
}

function runNovnc(
  page: Page,
  rec: PreparedRecording,
  options: Options,
): Promise<ClientRun<PageClientReport>> {
  return runClient(
    rec,
    options,
    startNovncServer,
    (url) => page.evaluate((u) => window.vscDecodeBench.startNovnc(u), url),
    () => page.evaluate(() => window.vscDecodeBench.endNovnc()),
  );
}

function seconds(timing: ReplayTiming | null): number | null {
  return timing ? (timing.lastDoneAt - timing.firstSentAt) / 1000 : null;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function benchRecording(
  browser: Browser,
  page: Page,
  rec: PreparedRecording,
  options: Options,
): Promise<BenchRow> {
  const { updates } = rec;
  const mb = rec.meta.bytes / 1e6;
  const errors: string[] = [];
  const note = (who: string, error: string | null | undefined): void => {
    if (error) errors.push(`${who}: ${error}`);
  };
  const compare = async (): Promise<FrameComparison | null> => {
    try {
      return await page.evaluate(([w, h]) => window.vscDecodeBench.compare(w, h), [
        rec.meta.width,
        rec.meta.height,
      ] as const);
    } catch (error) {
      note('compare', error instanceof Error ? error.message : String(error));
      return null;
    }
  };

  // Warm-up: both clients decode the recording once, untimed, so that neither is measured cold.
  for (let i = 0; i < options.warmup; i++) {
    note('ours (warm-up)', (await runOurs(page, rec, options)).error);
    note('noVNC (warm-up)', (await runNovnc(page, rec, options)).error);
    await compare();
  }

  // Measured rounds, untraced: throughput (median) and final frames (every round compared).
  const oursSeconds: number[] = [];
  const novncSeconds: number[] = [];
  let oursReport: OursPageReport | null = null;
  let novncReport: PageClientReport | null = null;
  let comparison: FrameComparison | null = null;
  let comparedAll = true;
  for (let i = 0; i < options.rounds; i++) {
    const ours = await runOurs(page, rec, options);
    note('ours', ours.error ?? ours.report?.error);
    const novnc = await runNovnc(page, rec, options);
    note('noVNC', novnc.error ?? novnc.report?.error);
    const s1 = ours.error ? null : seconds(ours.timing);
    const s2 = novnc.error ? null : seconds(novnc.timing);
    if (s1 !== null) oursSeconds.push(s1);
    if (s2 !== null) novncSeconds.push(s2);
    oursReport ??= ours.report;
    novncReport ??= novnc.report;
    const c = await compare();
    if (!c || ours.error || novnc.error) comparedAll = false;
    // Keep the worst round's comparison.
    if (c && (!comparison || !c.sameSize || c.maxChannelDiff > comparison.maxChannelDiff)) comparison = c;
  }

  // A traced round: main-thread (and worker-thread) busy time, apart so tracing cannot slow the above.
  let oursBusy = null;
  let novncBusy = null;
  if (options.trace) {
    await browser.startTracing(page, { categories: TRACE_CATEGORIES });
    let traced = false;
    try {
      const o = await runOurs(page, rec, options);
      note('ours (traced)', o.error);
      const n = await runNovnc(page, rec, options);
      note('noVNC (traced)', n.error);
      traced = !o.error && !n.error;
    } finally {
      const trace = new TraceBusy(await browser.stopTracing());
      if (traced) {
        oursBusy = trace.window('ours');
        novncBusy = trace.window('novnc');
      }
      await page.evaluate(() => window.vscDecodeBench.compare(0, 0)).catch(() => undefined);
    }
  }

  const oursS = median(oursSeconds);
  const novncS = median(novncSeconds);
  const figures = (s: number | null, mainMs: number | null): ClientFigures => ({
    updatesPerSec: s ? updates / s : null,
    mbPerSec: s ? mb / s : null,
    mainThreadMsPerUpdate: mainMs === null ? null : mainMs / updates,
  });
  const row: BenchRow = {
    recording: rec.name,
    ours: figures(oursS, options.trace ? (oursBusy?.mainMs ?? null) : (oursReport?.handlerMs ?? null)),
    novnc: figures(novncS, options.trace ? (novncBusy?.mainMs ?? null) : (novncReport?.handlerMs ?? null)),
    ratio: null,
    pixelMatch: null,
    details: {
      updates,
      mb,
      lossy: rec.lossy,
      rounds: options.rounds,
      oursSeconds: oursS,
      novncSeconds: novncS,
      maxChannelDiff: comparison?.sameSize ? comparison.maxChannelDiff : null,
      differingPixels: comparison?.sameSize ? comparison.differingPixels : null,
      oursMatchesSidecar: comparison ? comparison.oursRgbSha256 === rec.meta.finalFrame.rgbSha256 : null,
      oursHandlerMsPerUpdate: oursReport ? oursReport.handlerMs / updates : null,
      novncHandlerMsPerUpdate: novncReport ? novncReport.handlerMs / updates : null,
      oursWorkerThreadMsPerUpdate: oursBusy ? oursBusy.workerMs / updates : null,
      mainThreadMethod: options.trace ? 'trace' : 'handlers',
      errors,
    },
  };
  if (row.ours.updatesPerSec && row.novnc.updatesPerSec) {
    row.ratio = row.ours.updatesPerSec / row.novnc.updatesPerSec;
  }
  if (comparison && comparedAll) {
    row.pixelMatch = comparison.sameSize && comparison.maxChannelDiff <= (rec.lossy ? JPEG_TOLERANCE : 0);
  }
  return row;
}

const fmt = (v: number | null, digits: number): string => (v === null ? 'n/a' : v.toFixed(digits));

function table(rows: BenchRow[]): string {
  const head = [
    'recording',
    'ours upd/s',
    'ours MB/s',
    'ours main ms/upd',
    'noVNC upd/s',
    'noVNC MB/s',
    'noVNC main ms/upd',
    'ratio',
    'pixelMatch',
  ];
  const body = rows.map((r) => [
    r.recording,
    fmt(r.ours.updatesPerSec, 0),
    fmt(r.ours.mbPerSec, 1),
    fmt(r.ours.mainThreadMsPerUpdate, 3),
    fmt(r.novnc.updatesPerSec, 0),
    fmt(r.novnc.mbPerSec, 1),
    fmt(r.novnc.mainThreadMsPerUpdate, 3),
    r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}x`,
    r.pixelMatch === null
      ? 'n/a'
      : `${r.pixelMatch ? 'yes' : 'NO'} (${r.details.lossy ? '≤8' : 'exact'}, max ${r.details.maxChannelDiff ?? '?'})`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(options.recordings)) throw new Error(`no recordings folder ${options.recordings}`);
  const names = readdirSync(options.recordings)
    .filter((f) => f.endsWith('.rfb') && existsSync(join(options.recordings, `${f.slice(0, -4)}.json`)))
    .map((f) => f.slice(0, -4))
    .filter((n) => !options.only || options.only.has(n))
    .sort();
  if (names.length === 0) throw new Error(`no recordings (NAME.rfb + NAME.json) in ${options.recordings}`);

  const { server, url } = await serveBench();
  const browser = await launchChromium();
  const rows: BenchRow[] = [];
  const chromiumVersion = browser.version();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on('pageerror', (error) => log(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') log(`page console: ${message.text()}`);
    });
    await page.goto(url);
    await page.waitForFunction(() => 'vscDecodeBench' in window);
    log(`decode benchmark: ${names.length} recordings from ${options.recordings}`);
    for (const name of names) {
      const rec = prepareRecording(options.recordings, name);
      const row = await benchRecording(browser, page, rec, options);
      rows.push(row);
      log(
        `  ${name}: ours ${fmt(row.ours.updatesPerSec, 0)} upd/s, noVNC ${fmt(row.novnc.updatesPerSec, 0)} upd/s` +
          (row.details.errors.length ? ` — ${row.details.errors.join('; ')}` : ''),
      );
    }
  } finally {
    await browser.close();
    server.close();
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    console.log(table(rows));
    console.log(
      `\nupdates/s and MB/s: first update sent → last update done (ours: its ack after drawing; noVNC: its next request).` +
        `\nmain ms/upd: ${options.trace ? "the page main thread's busy time (Chromium trace, all tasks) during the run / updates" : "time in the page's own handlers / updates (--no-trace)"}.` +
        `\nChromium ${chromiumVersion}, ${names.length} recordings, one page; ours first, then noVNC, per recording.`,
    );
  }
}

await main();
