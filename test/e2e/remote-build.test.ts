import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * What `npm run build` hands a host (run after the build, like every end-to-end test): a Module Federation 2.0
 * remote named `v_supercore` whose manifest exposes the application and the parcel, with lit and rxjs as shared
 * singletons so the host's copies are used, and a decoder worker chunk.
 */
const remoteDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/remote');

interface MfManifest {
  name: string;
  metaData: { remoteEntry: { name: string } };
  shared: { name: string; singleton?: boolean; requiredVersion?: string }[];
  exposes: { name: string; path: string }[];
}

describe('the built remote', () => {
  it('is v_supercore with mf-manifest.json exposing ./module and ./session-parcel', async () => {
    const manifest = JSON.parse(
      await readFile(path.join(remoteDir, 'mf-manifest.json'), 'utf8'),
    ) as MfManifest;
    assert.equal(manifest.name, 'v_supercore');
    assert.equal(manifest.metaData.remoteEntry.name, 'remoteEntry.js');
    const exposed = manifest.exposes.map((e) => e.path);
    assert.ok(exposed.includes('./module'), `exposes ${exposed.join(', ')}`);
    assert.ok(exposed.includes('./session-parcel'), `exposes ${exposed.join(', ')}`);
    for (const name of ['lit', 'rxjs']) {
      const entry = manifest.shared.find((s) => s.name === name);
      assert.ok(entry, `${name} is shared`);
      assert.equal(entry.singleton, true, `${name} is a singleton`);
      assert.match(
        entry.requiredVersion ?? '',
        /^\^\d+\.\d+\.\d+$/,
        `${name} accepts a caret range from the host`,
      );
    }
    const module = JSON.parse(
      await readFile(path.resolve(remoteDir, '../../manifest/module.json'), 'utf8'),
    ) as {
      exposes?: unknown;
    };
    assert.ok(
      JSON.stringify(module.exposes).includes('./module'),
      'manifest/module.json names what is exposed',
    );
  });

  it('has the decoder worker as its own chunk', async () => {
    const files = await readdir(remoteDir);
    assert.ok(
      files.some((f) => /^decoder-worker\.[0-9a-f]{12}\.js$/.test(f)),
      `no decoder-worker chunk among ${files.join(', ')}`,
    );
  });
});
