import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { ERRORS } from '../../../protocol/errors.ts';
import {
  API_REFERENCE_PATH,
  ROUTE_NOTES,
  fetchOpenApiDocument,
  renderApiReference,
  renderApiReferenceMarkdown,
  type OpenApiDocument,
} from '../../../scripts/generate-api-reference.ts';

const REGENERATE = 'node --import tsx scripts/generate-api-reference.ts';
const docsDir = fileURLToPath(new URL('../../../docs/', import.meta.url));
/** The SDK docs (issue 4) and the operations docs (issue 5) readers follow links in; every link must resolve. */
const LINKED_DOCS = [
  'api-reference.md',
  'integration-guide.md',
  'code-examples.md',
  'monitoring-guide.md',
  'getting-started.md',
  'incident-response.md',
];

/** GitHub's heading anchors of a Markdown document, plus explicit `<a id="…">` anchors. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = markdown.replace(/```[\s\S]*?```/g, '');
  for (const match of text.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = (match[1] ?? '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const match of text.matchAll(/<a id="([^"]+)"><\/a>/g)) anchors.add(match[1] ?? '');
  return anchors;
}

/** A minimal OpenAPI document with the given operations (each `METHOD /path`). */
function syntheticDocument(operations: string[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const op of operations) {
    const [method = '', path = ''] = op.split(' ');
    paths[path] = { ...paths[path], [method.toLowerCase()]: { responses: { '200': {} } } };
  }
  return { openapi: '3.1.0', info: { title: 't', version: '1' }, paths };
}

describe('docs/api-reference.md', () => {
  let document: OpenApiDocument;
  let rateLimitPerMinute: number;

  before(async () => {
    ({ document, rateLimitPerMinute } = await fetchOpenApiDocument());
  });

  it('is exactly what the generator makes from the running adapter’s OpenAPI document', async () => {
    const expected = await renderApiReference(document, { rateLimitPerMinute });
    const actual = existsSync(API_REFERENCE_PATH) ? readFileSync(API_REFERENCE_PATH, 'utf8') : '';
    assert.ok(actual === expected, `docs/api-reference.md is stale: run ${REGENERATE}`);
  });

  it('documents every operation the adapter serves', () => {
    const reference = readFileSync(API_REFERENCE_PATH, 'utf8');
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    assert.ok(operations.length >= 10, `only ${operations.length} operations in the OpenAPI document`);
    for (const op of operations) assert.ok(reference.includes(`### \`${op}\``), `no section for ${op}`);
    for (const core of ['POST /api/v1/sessions', 'POST /api/v1/sessions/{id}/pause', 'GET /api/v1/events']) {
      assert.ok(operations.includes(core), `the OpenAPI document lacks ${core}`);
    }
  });

  it('lists every error code of protocol/errors.ts with its status', () => {
    const reference = readFileSync(API_REFERENCE_PATH, 'utf8');
    for (const [code, { status }] of Object.entries(ERRORS)) {
      assert.match(reference, new RegExp(`\\| \`${code}\` +\\| ${status} +\\|`), `${code} (${status})`);
    }
  });
});

describe('scripts/generate-api-reference.ts', () => {
  const everything = Object.keys(ROUTE_NOTES);

  it('refuses an operation it has no notes for, and notes for an operation that is gone', () => {
    assert.throws(
      () =>
        renderApiReferenceMarkdown(syntheticDocument([...everything, 'GET /api/v1/new']), {
          rateLimitPerMinute: 1,
        }),
      /GET \/api\/v1\/new has no entry in ROUTE_NOTES/,
    );
    assert.throws(
      () => renderApiReferenceMarkdown(syntheticDocument(everything.slice(1)), { rateLimitPerMinute: 1 }),
      /no longer has/,
    );
  });

  it('flattens nested fields and refers to a schema shown before instead of repeating it', () => {
    const item = {
      type: 'object',
      required: ['id'],
      properties: {
        id: { type: 'string', minLength: 1, maxLength: 8 },
        state: {
          anyOf: [
            { type: 'string', enum: ['a'] },
            { type: 'string', enum: ['b'] },
          ],
        },
        inner: { type: 'object', properties: { n: { type: 'integer', minimum: 0 } } },
      },
    };
    const doc = syntheticDocument(everything);
    const one = doc.paths['/api/v1/tiers']?.['get']; // rendered before the list below
    const list = doc.paths['/api/v1/sessions']?.['get'];
    assert.ok(one && list);
    one.responses = { '200': { content: { 'application/json': { schema: item } } } };
    list.responses = {
      '200': {
        content: {
          'application/json': {
            schema: { type: 'object', properties: { sessions: { type: 'array', items: item } } },
          },
        },
      },
    };
    const markdown = renderApiReferenceMarkdown(doc, { rateLimitPerMinute: 1 });
    assert.match(markdown, /\| `id` \| string \| yes \| 1–8 characters \|/);
    assert.match(markdown, /\| `state` \| one of `"a"`, `"b"` \| no \|/);
    assert.match(markdown, /\| `inner\.n` \| integer \| no \| ≥ 0 \|/);
    assert.match(markdown, /`sessions\[\]`: the fields of the `200` response of `GET \/api\/v1\/tiers`/);
  });
});

describe('SDK docs (docs/)', () => {
  it('have only links that resolve, anchors included', () => {
    for (const name of LINKED_DOCS) {
      const file = resolve(docsDir, name);
      const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1] ?? '';
        if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
        const [path = '', anchor] = target.split('#');
        const linked = path === '' ? file : resolve(dirname(file), path);
        assert.ok(existsSync(linked), `${name}: ${target} does not exist`);
        if (anchor && linked.endsWith('.md')) {
          assert.ok(
            anchorsOf(readFileSync(linked, 'utf8')).has(anchor),
            `${name}: ${target} — no such heading in ${path || name}`,
          );
        }
      }
    }
  });

  it('name the SDK and its files as they are', () => {
    const guide = readFileSync(resolve(docsDir, 'integration-guide.md'), 'utf8');
    const client = readFileSync(new URL('../../../module/api/api-client.ts', import.meta.url), 'utf8');
    assert.match(client, /export class ApiClient\b/);
    for (const method of guide.matchAll(/^\| `([a-zA-Z]+)\(/gm)) {
      assert.match(
        client,
        new RegExp(`\\b${method[1]}\\(`),
        `integration-guide.md: ApiClient has no ${method[1]}()`,
      );
    }
    for (const file of ['module/api/api-client.ts', 'module/api/live-events.ts', 'module/api/sse.ts']) {
      assert.ok(existsSync(new URL(`../../../${file}`, import.meta.url)), file);
    }
  });
});
