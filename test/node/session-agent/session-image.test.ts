import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

/** Packages `npm start` / `npm test` install that a desktop does not run (the tests' browser). */
const TEST_ONLY = new Set(['chromium']);

/** The apt packages scripts/setup.mjs installs (its APT_PACKAGES list, read as text: importing it runs it). */
function setupPackages(): string[] {
  const list = /const APT_PACKAGES = \[([\s\S]*?)\];/.exec(read('scripts/setup.mjs'))?.[1];
  assert.ok(list, 'scripts/setup.mjs has no APT_PACKAGES list');
  return [...list.matchAll(/'([^']+)'/g)].map((m) => m[1] ?? '');
}

/** The packages the Dockerfile's final stage installs with apt-get install. */
function imagePackages(dockerfile: string): string[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n');
  const finalStage = lines.slice(lines.findLastIndex((l) => /^FROM\s/i.test(l)));
  const packages: string[] = [];
  for (const line of finalStage) {
    for (const command of line.split('&&')) {
      const words = command.trim().split(/\s+/);
      const at = words.indexOf('install');
      if (!words.includes('apt-get') || at < 0) continue;
      packages.push(...words.slice(at + 1).filter((w) => w && !w.startsWith('-')));
    }
  }
  return packages;
}

describe('session image (session-agent/Dockerfile)', () => {
  it('reads the package lists of both files', () => {
    assert.deepEqual(
      imagePackages(
        'FROM a AS build\nRUN apt-get install -y gcc\nFROM b\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends \\\n  one two \\\n && rm -rf x\n',
      ),
      ['one', 'two'],
    );
    assert.ok(setupPackages().includes('tigervnc-standalone-server'));
  });

  it('installs every package the local desktop needs (scripts/setup.mjs), X fonts included', () => {
    const image = new Set(imagePackages(read('session-agent/Dockerfile')));
    const missing = setupPackages().filter((p) => !TEST_ONLY.has(p) && !image.has(p));
    assert.deepEqual(missing, [], 'the session image lacks packages the local desktop is set up with');
    assert.ok(image.has('xfonts-base'), 'xterm and openbox need the core X fonts');
  });

  it('installs no browser the desktop does not use', () => {
    const image = imagePackages(read('session-agent/Dockerfile'));
    assert.deepEqual(
      image.filter((p) => TEST_ONLY.has(p)),
      [],
    );
  });
});
