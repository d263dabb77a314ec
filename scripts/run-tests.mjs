// `npm test`: every suite in order, each counted; the last line is the plain total CI reads.
// Suites: typecheck, lint, format, node (Node tests), build, browser (real Chromium), e2e (Playwright +
// Chromium + real Xvnc). `node scripts/run-tests.mjs node e2e` runs only the suites named.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const only = new Set(process.argv.slice(2));
const wanted = (suite) => only.size === 0 || only.has(suite);

mkdirSync('test-results', { recursive: true });
const totals = { passed: 0, failed: 0 };
const summary = [];

function step(name, cmd, args, count) {
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env });
  const counted = count(r.status ?? 1);
  totals.passed += counted.passed;
  totals.failed += counted.failed;
  summary.push(`${name}: ${counted.passed} passed, ${counted.failed} failed`);
}

/** One check: passes when the command exits 0. */
const asOne = (status) => (status === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 });

/** Reads node:test's TAP totals; a runner that crashed before reporting counts as one failure. */
function fromTap(file) {
  return (status) => {
    if (!existsSync(file)) return { passed: 0, failed: 1 };
    const tap = readFileSync(file, 'utf8');
    const num = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
    const failed = num('fail') + num('cancelled');
    return { passed: num('pass'), failed: failed || (status === 0 ? 0 : 1) };
  };
}

/** Test files under `dir` (Node 20's --test does not expand globs). */
function testFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(dir, f))
    .sort();
}

function nodeTests(name, dir, tap) {
  rmSync(tap, { force: true });
  step(
    name,
    'node',
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      // A test that hangs fails after this long instead of stalling the whole run.
      '--test-timeout=180000',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...testFiles(dir),
    ],
    fromTap(tap),
  );
}

if (wanted('typecheck')) step('typecheck', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'], asOne);
if (wanted('lint')) step('lint', 'npx', ['eslint', '.'], asOne);
if (wanted('format')) step('format', 'npx', ['prettier', '--check', '.'], asOne);
if (wanted('node')) nodeTests('node tests', 'test/node', 'test-results/node.tap');
if (wanted('build')) step('build', 'npm', ['run', 'build'], asOne);
if (wanted('browser')) {
  rmSync('test-results/browser-summary.json', { force: true });
  step('browser tests', 'npx', ['web-test-runner'], (status) => {
    const file = 'test-results/browser-summary.json';
    if (!existsSync(file)) return { passed: 0, failed: 1 };
    const s = JSON.parse(readFileSync(file, 'utf8'));
    return { passed: s.passed, failed: s.failed || (status === 0 ? 0 : 1) };
  });
}
if (wanted('e2e')) nodeTests('end-to-end tests', 'test/e2e', 'test-results/e2e.tap');

console.log('\n' + summary.join('\n'));
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(totals.failed === 0 ? 0 : 1);
