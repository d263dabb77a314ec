import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';

interface Manifest {
  modules: Array<{
    declarations?: Array<{ tagName?: string; events?: Array<{ name: string }>; cssParts?: unknown[] }>;
  }>;
}

describe('custom-elements.json (generated from the components’ JSDoc)', () => {
  it('describes every component with its tag, events and parts', async () => {
    // The analyzer takes --outdir relative to the working directory, so stay inside the (ignored) test-results.
    await mkdir('test-results', { recursive: true });
    const out = await mkdtemp(join('test-results', 'cem-'));
    // The analyzer also writes its output path into package.json's `customElements`: put the file back after.
    const packageJson = await readFile('package.json', 'utf8');
    try {
      execFileSync(
        'npx',
        ['cem', 'analyze', '--litelement', '--globs', 'module/**/*.component.ts', '--outdir', out],
        {
          stdio: 'pipe',
        },
      );
      const manifest = JSON.parse(await readFile(join(out, 'custom-elements.json'), 'utf8')) as Manifest;
      const elements = manifest.modules.flatMap((m) => m.declarations ?? []).filter((d) => d.tagName);
      assert.deepEqual(elements.map((d) => d.tagName).sort(), [
        'vsc-active-sessions',
        'vsc-app',
        'vsc-change-tier',
        'vsc-quick-launch',
        'vsc-resource-monitor',
        'vsc-session-parcel',
        'vsc-settings',
        'vsc-viewer',
        'vsc-workspace-members',
      ]);
      const viewer = elements.find((d) => d.tagName === 'vsc-viewer');
      assert.ok(viewer?.events?.some((e) => e.name === 'vsc-first-frame'));
      assert.ok((viewer?.cssParts ?? []).length > 0);
    } finally {
      await writeFile('package.json', packageJson);
      await rm(out, { recursive: true, force: true });
    }
  });
});
