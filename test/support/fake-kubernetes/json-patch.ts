// RFC 6902 JSON Patch for the FAKE Kubernetes API server (application/json-patch+json), with the API server's
// answers: a malformed patch is 400; an operation that cannot apply — a `test` that does not hold, a path that
// does not exist — is 422, so a `test` makes a patch conditional ("only if this label is still warm").
import { isDeepStrictEqual } from 'node:util';
import { statusError } from './kube-objects.ts';

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

type Container = Record<string, unknown> | unknown[];

function malformed(message: string): never {
  throw statusError(400, 'BadRequest', message);
}

function cannotApply(message: string): never {
  // What the API server answers when the patch library fails to apply the patch.
  throw statusError(422, 'Invalid', message);
}

/** A JSON Pointer's reference tokens (`~1` is `/`, `~0` is `~`). */
function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) malformed(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

function child(container: Container, key: string): unknown {
  if (Array.isArray(container)) return container[Number(key)];
  return Object.hasOwn(container, key) ? container[key] : undefined;
}

/** The container that holds the last token of `path`, and that token. */
function parentOf(doc: unknown, path: string, op: string): { parent: Container; key: string } {
  const parts = tokens(path);
  const key = parts.pop();
  if (key === undefined) return cannotApply(`${op} on the whole document is not supported`);
  let at: unknown = doc;
  for (const part of parts) {
    at = isContainer(at) ? child(at, part) : undefined;
    if (at === undefined) cannotApply(`${op} operation does not apply: doc is missing path: "${path}"`);
  }
  if (!isContainer(at)) return cannotApply(`${op} operation does not apply: doc is missing path: "${path}"`);
  return { parent: at, key };
}

function get(doc: unknown, path: string): unknown {
  let at: unknown = doc;
  for (const part of tokens(path)) {
    at = isContainer(at) ? child(at, part) : undefined;
    if (at === undefined) break;
  }
  return at;
}

function arrayIndex(list: unknown[], key: string, forAdd: boolean): number {
  const index = key === '-' && forAdd ? list.length : Number(key);
  const max = forAdd ? list.length : list.length - 1;
  if (!/^(0|[1-9]\d*|-)$/.test(key) || !Number.isInteger(index) || index > max) {
    cannotApply(`array index ${key} is out of bounds`);
  }
  return index;
}

function add(doc: unknown, path: string, value: unknown): void {
  const { parent, key } = parentOf(doc, path, 'add');
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, structuredClone(value));
  else parent[key] = structuredClone(value);
}

function remove(doc: unknown, path: string): unknown {
  const { parent, key } = parentOf(doc, path, 'remove');
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false), 1)[0];
  if (!Object.hasOwn(parent, key))
    cannotApply(`remove operation does not apply: doc is missing key: ${path}`);
  const old = parent[key];
  Reflect.deleteProperty(parent, key);
  return old;
}

/** Applies `operations` to a copy of `doc`: all of them, or none (the first failure throws). */
export function applyJsonPatch<T>(doc: T, operations: unknown): T {
  if (!Array.isArray(operations)) malformed('a JSON patch must be an array of operations');
  const out = structuredClone(doc);
  for (const raw of operations as JsonPatchOperation[]) {
    if (!isContainer(raw) || typeof raw.path !== 'string') malformed('every operation needs "op" and "path"');
    switch (raw.op) {
      case 'add':
        add(out, raw.path, raw.value);
        break;
      case 'remove':
        remove(out, raw.path);
        break;
      case 'replace':
        remove(out, raw.path);
        add(out, raw.path, raw.value);
        break;
      case 'test': {
        const actual = get(out, raw.path);
        if (actual === undefined || !isDeepStrictEqual(actual, raw.value)) {
          cannotApply(`testing value ${raw.path} failed: test failed`);
        }
        break;
      }
      case 'move':
      case 'copy': {
        if (typeof raw.from !== 'string') malformed(`${raw.op} needs "from"`);
        const value = get(out, raw.from);
        if (value === undefined) cannotApply(`${raw.op} operation does not apply: doc is missing from path`);
        if (raw.op === 'move') remove(out, raw.from);
        add(out, raw.path, value);
        break;
      }
      default:
        malformed(`unexpected operation "${String((raw as { op?: unknown }).op)}"`);
    }
  }
  return out;
}
