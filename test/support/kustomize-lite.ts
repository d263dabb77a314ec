// A small renderer for exactly the kustomize features manifest/kubernetes uses — `resources` (files and
// directories with a kustomization), `namespace`, `labels` (pairs, on metadata.labels only) and `patches`
// (strategic-merge patch files) — because CI machines have no kustomize binary and npm has no kustomize.
// Anything else in a kustomization.yaml is refused rather than rendered wrongly.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [field: string]: unknown;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  namespace?: string;
  labels?: Array<{ pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }>;
  patches?: Array<{ path?: string; patch?: string; target?: unknown }>;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'labels', 'patches']);
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'StorageClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'CustomResourceDefinition',
  'PriorityClass',
  'IngressClass',
]);
/** The patchMergeKey of the list fields a patch might touch; other lists are replaced. */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
};

export function readManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

type Json = unknown;

/** A strategic merge patch as kustomize applies it for the fields above. */
export function strategicMerge(target: Json, patch: Json, field = ''): Json {
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (!key || !Array.isArray(target)) return structuredClone(patch);
    const out = [...(target as Array<Record<string, unknown>>)];
    for (const item of patch as Array<Record<string, unknown>>) {
      const at = out.findIndex((t) => t[key] === item[key]);
      if (at >= 0) out[at] = strategicMerge(out[at], item) as Record<string, unknown>;
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object') return patch;
  const base: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? (target as Record<string, unknown>) : {};
  const changes = patch as Record<string, unknown>;
  const kept = Object.entries(base).filter(([key]) => !(key in changes));
  const merged = Object.entries(changes)
    .filter(([, value]) => value !== null) // null removes the field
    .map(([key, value]) => [key, strategicMerge(base[key], value, key)]);
  return Object.fromEntries([...kept, ...merged]);
}

/** Renders the kustomization in `dir` (as `kubectl kustomize dir` would, for the features above). */
export function renderKustomization(dir: string): Manifest[] {
  const file = join(dir, 'kustomization.yaml');
  const k = readManifests(file)[0] as unknown as Kustomization;
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length)
    throw new Error(`${file}: kustomize-lite does not support ${unsupported.join(', ')}`);

  const objects: Manifest[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) {
      if (!existsSync(join(path, 'kustomization.yaml'))) throw new Error(`${path} has no kustomization.yaml`);
      objects.push(...renderKustomization(path));
    } else {
      objects.push(...readManifests(path));
    }
  }
  for (const p of k.patches ?? []) {
    if (p.target !== undefined || p.path === undefined) {
      throw new Error(`${file}: kustomize-lite supports only strategic-merge patches given by path`);
    }
    for (const patch of readManifests(resolve(dir, p.path))) {
      const matches = objects.filter(
        (o) =>
          o.kind === patch.kind &&
          o.metadata.name === patch.metadata.name &&
          (patch.metadata.namespace === undefined || o.metadata.namespace === patch.metadata.namespace),
      );
      if (matches.length !== 1) {
        throw new Error(
          `${p.path}: no unique ${patch.kind}/${patch.metadata.name} to patch (${matches.length})`,
        );
      }
      const target = matches[0] as Manifest;
      objects[objects.indexOf(target)] = strategicMerge(target, patch) as Manifest;
    }
  }
  for (const o of objects) {
    if (k.namespace && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  for (const l of k.labels ?? []) {
    if (l.includeSelectors || l.includeTemplates) {
      throw new Error(`${file}: kustomize-lite applies labels to metadata only`);
    }
    for (const o of objects) o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
  }
  return objects;
}
