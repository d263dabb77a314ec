import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from './chromium.ts';
import { PNG } from 'pngjs';
import { startHarness, type RunningHarness } from '../../harness/server/start-harness.ts';
import { SqliteCanonStore } from '../../backend-adapter/canon/sqlite-canon-store.ts';

export { CHROMIUM_ARGS } from './chromium.ts';

export interface HarnessSession {
  harness: RunningHarness;
  browser: Browser;
  page: Page;
  dataDir: string;
  /** Page errors and console errors seen so far. */
  problems: string[];
  /** Reads Canon Memory as the adapter wrote it (the desktop's process id, port, …). */
  canon(): SqliteCanonStore;
  close(): Promise<void>;
}

/** The dev harness on free ports with its own data directory, and a real Chromium on it. */
export async function openHarness(
  options: {
    /** Extra adapter environment (e.g. STREAM_WEBRTC=on). */
    env?: NodeJS.ProcessEnv;
    /** Extra Chromium switches (e.g. a WebRTC IP handling policy). */
    chromiumArgs?: string[];
  } = {},
): Promise<HarnessSession> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vsc-e2e-'));
  const harness = await startHarness({
    port: 0,
    remotePort: 0,
    dataDir,
    env: { ...process.env, LOG_LEVEL: 'warn', ...options.env },
  });
  const browser = await launchChromium(options.chromiumArgs);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  let canon: SqliteCanonStore | undefined;
  return {
    harness,
    browser,
    page,
    dataDir,
    problems,
    canon() {
      canon ??= new SqliteCanonStore(join(dataDir, 'canon.sqlite'));
      return canon;
    },
    async close() {
      await canon?.close();
      await browser.close();
      // End any desktop a failed test left behind before the adapter goes.
      const store = new SqliteCanonStore(join(dataDir, 'canon.sqlite'));
      for (const row of await store.listUnfinished()) {
        if (row.runtime?.kind === 'local') {
          try {
            process.kill(-row.runtime.pgid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      await store.close();
      await harness.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Pixels {
  width: number;
  height: number;
  data: Buffer;
}

/** What the element shows on screen, as RGBA pixels (the canvas belongs to a worker, so it is read from the screen). */
export async function screenPixels(element: Locator): Promise<Pixels> {
  const png = PNG.sync.read(await element.screenshot({ animations: 'disabled' }));
  return { width: png.width, height: png.height, data: png.data };
}

export function distinctColours(p: Pixels, limit = 64): number {
  const seen = new Set<number>();
  for (let i = 0; i < p.data.length && seen.size < limit; i += 4) seen.add(p.data.readUInt32BE(i));
  return seen.size;
}

/** How many pixels differ between two captures of the same element. */
export function changedPixels(a: Pixels, b: Pixels): number {
  if (a.width !== b.width || a.height !== b.height) return a.width * a.height;
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) if (a.data.readUInt32BE(i) !== b.data.readUInt32BE(i)) n++;
  return n;
}

/** Polls until `check` passes or `timeoutMs` runs out; returns the last value either way. */
export async function waitFor<T>(
  read: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}
