import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
/** Build output, dependencies and local state: named in docs, never part of a clone. */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', 'test-results']);

/** The repository's top-level folders (what a path in the docs can start with). */
function topLevelFolders(): string[] {
  return readdirSync(root).filter(
    (name) => !name.startsWith('.') && !NOT_IN_A_CLONE.has(name) && statSync(join(root, name)).isDirectory(),
  );
}

/**
 * Repository paths a document names in inline code (`session-agent/agent.ts`, `node session-agent/main.ts`),
 * leaving out patterns and placeholders (`manifest/grafana/*.json`, `DATA_DIR/sessions/<id>`).
 */
function pathsNamed(markdown: string, folders: readonly string[]): string[] {
  const text = markdown.replace(/```[\s\S]*?```/g, '');
  const start = new RegExp(`(?:^|[\\s(=])((?:${folders.join('|')})/[^\\s\`'"),;]*)`, 'g');
  const paths = new Set<string>();
  for (const span of text.matchAll(/`([^`\n]+)`/g)) {
    for (const m of (span[1] ?? '').matchAll(start)) {
      const path = (m[1] ?? '').replace(/[.:]+$/, '');
      if (/[*<>…{}$]/.test(path)) continue;
      paths.add(path);
    }
  }
  return [...paths];
}

describe('file references in the operations docs', () => {
  const folders = topLevelFolders();

  it('finds paths in inline code and skips patterns and placeholders', () => {
    const found = pathsNamed(
      'run `node session-agent/main.ts`, read `docs/faq.md`. and `manifest/grafana/*.json`, ' +
        '`DATA_DIR/sessions/<id>`, `session-agent/<x>.ts`\n```sh\nnode harness/nowhere.ts\n```',
      ['session-agent', 'docs', 'manifest', 'harness'],
    );
    assert.deepEqual(found.sort(), ['docs/faq.md', 'session-agent/main.ts']);
  });

  for (const doc of ['docs/getting-started.md', 'docs/incident-response.md', 'README.md']) {
    it(`${doc} names only files and folders that exist`, () => {
      const paths = pathsNamed(read(doc), folders);
      assert.ok(paths.length > 0, `${doc}: no repository path found (is the scan broken?)`);
      const missing = paths.filter((p) => !existsSync(join(root, p)));
      assert.deepEqual(missing, [], `${doc} names paths that do not exist`);
    });
  }

  it('getting-started.md describes the session agent that starts the desktop', () => {
    const guide = read('docs/getting-started.md');
    assert.ok(
      /^#{2,3} .*session agent/im.test(guide),
      'getting-started.md has no section on the session agent',
    );
    for (const path of ['session-agent/main.ts', 'session-agent/desktop-launcher.sh']) {
      assert.ok(guide.includes(`\`${path}\``) || guide.includes(` ${path}\``), `getting-started.md: ${path}`);
    }
  });
});

interface AlertRule {
  alert?: string;
  labels?: Record<string, string>;
}

describe('docs/incident-response.md', () => {
  const alerts = (
    parseYaml(read('manifest/prometheus/alerts.yaml')) as {
      spec: { groups: Array<{ rules: AlertRule[] }> };
    }
  ).spec.groups
    .flatMap((g) => g.rules)
    .filter((r): r is AlertRule & { alert: string } => typeof r.alert === 'string');
  const doc = read('docs/incident-response.md');
  const alertsSection = (() => {
    const start = doc.indexOf('\n## Alerts\n');
    assert.ok(start >= 0, 'incident-response.md has no "## Alerts" section');
    const end = doc.indexOf('\n## ', start + 1);
    return doc.slice(start, end < 0 ? undefined : end);
  })();
  const headings = [...alertsSection.matchAll(/^### (\S+) \(([a-z]+)\)$/gm)].map((m) => ({
    alert: m[1] ?? '',
    severity: m[2] ?? '',
  }));

  it('has a section for every alert of manifest/prometheus/alerts.yaml, with its severity', () => {
    assert.ok(alerts.length >= 7, `only ${alerts.length} alerts read`);
    for (const rule of alerts) {
      const section = headings.find((h) => h.alert === rule.alert);
      assert.ok(section, `no "### ${rule.alert} (<severity>)" section under "## Alerts"`);
      assert.equal(section.severity, rule.labels?.['severity'], `${rule.alert}: severity`);
    }
  });

  it('has no section for an alert that does not exist', () => {
    const names = new Set(alerts.map((r) => r.alert));
    assert.deepEqual(
      headings.filter((h) => !names.has(h.alert)).map((h) => h.alert),
      [],
    );
  });
});
