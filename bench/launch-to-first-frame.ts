// Click-to-first-frame on the local runtime: from the click on Launch in Quick Launch to the viewer's first
// drawn update (`vsc-first-frame`), measured inside the page, through the whole real path (harness, API,
// Canon Memory, Xvnc start, gateway, WebSocket, worker decode and draw). Prints figures; never fails on time.
//   npm run bench:launch -- --runs 20
import { openHarness } from '../test/support/harness-browser.ts';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)] ?? NaN;
}

const h = await openHarness();
const samples: number[] = [];
try {
  const page = h.page;
  await page.goto(`${h.harness.url}/v-supercore`);
  for (let i = 0; i < runs; i++) {
    await page.locator('vsc-quick-launch [data-tier="basic"]').click();
    const ms = await page.evaluate(
      () =>
        new Promise<number>((resolve, reject) => {
          const launch = document
            .querySelector('vsc-app')
            ?.shadowRoot?.querySelector('vsc-quick-launch')
            ?.shadowRoot?.querySelector<HTMLButtonElement>('[data-action="launch"]');
          if (!launch) return reject(new Error('no Launch button'));
          const started = performance.now();
          document.addEventListener('vsc-first-frame', () => resolve(performance.now() - started), {
            once: true,
          });
          setTimeout(() => reject(new Error('no first frame within 20 s')), 20_000);
          launch.click();
        }),
    );
    samples.push(ms);
    const id = new URL(page.url()).pathname.split('/').pop();
    // End it through the UI's API path so the next launch starts from the same state.
    await page.locator('vsc-viewer [data-action="terminate"]').click();
    await page.locator('vsc-viewer [data-action="confirm-terminate"]').click();
    await page.waitForFunction((sid) => !location.pathname.endsWith(sid ?? ''), id);
    await page.goto(`${h.harness.url}/v-supercore`);
  }
} finally {
  await h.close();
}
const sorted = [...samples].sort((a, b) => a - b);
console.log(`click-to-first-frame over ${samples.length} launches (local runtime, basic tier 1280x720)`);
console.log(
  `  median ${percentile(sorted, 50).toFixed(0)} ms   p95 ${percentile(sorted, 95).toFixed(0)} ms   min ${sorted[0]?.toFixed(0)} ms   max ${sorted.at(-1)?.toFixed(0)} ms`,
);
console.log(`  target: median and p95 <= 1500 ms`);
