// The object store of the FAKE Kubernetes API server used by tests: what the real API server keeps in etcd,
// with the behaviour the runtime relies on — a monotonic resourceVersion, watch history (compactable, so old
// versions get 410 Gone), 409 AlreadyExists on create, optimistic concurrency on patch (409 on a stale
// resourceVersion; 422 when a JSON patch's `test` fails), validation (422), ResourceQuota admission (403 with
// the real message), owner-reference garbage collection and PVC protection.
import { randomUUID } from 'node:crypto';
import { validate } from './validation.ts';
import { applyJsonPatch } from './json-patch.ts';
import { checkQuota } from './quota.ts';
import { RESOURCES, statusError, type KubeObject, type Resource } from './kube-objects.ts';

export { RESOURCES, StatusError, statusError } from './kube-objects.ts';
export type { KubeObject, ObjectMeta, OwnerReference, Resource, StatusBody } from './kube-objects.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  resource: Resource;
  type: WatchEventType;
  object: KubeObject;
  /** For MODIFIED: the object before, so a watch can tell that it started or stopped matching a selector. */
  previous?: KubeObject;
}

export type ChangeListener = (event: StoredEvent) => void;

const clone = <T>(value: T): T => structuredClone(value);

/** A label selector as the API server understands it: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`. */
export function matchesLabels(selector: string | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return true;
  // Split on commas outside parentheses.
  const terms = selector.match(/[^,(]+(\([^)]*\))?[^,]*/g) ?? [];
  return terms.every((raw) => {
    const term = raw.trim();
    if (!term) return true;
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim());
      const has = m[1] !== undefined && m[1] in labels && values.includes(labels[m[1]] ?? '');
      return m[2] === 'in' ? has : !has;
    }
    m = /^([^!=]+)(==|!=|=)(.*)$/.exec(term);
    if (m) {
      const key = (m[1] ?? '').trim();
      const value = (m[3] ?? '').trim();
      return m[2] === '!=' ? labels[key] !== value : labels[key] === value;
    }
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    return term in labels;
  });
}

/** Field selectors the runtime uses: metadata.name, metadata.namespace, involvedObject.* and status.phase. */
export function matchesFields(selector: string | undefined, object: KubeObject): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([^!=]+)(==|!=|=)(.*)$/.exec(term.trim());
    if (!m) return false;
    let value: unknown = object;
    for (const part of (m[1] ?? '').split('.')) {
      value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
    }
    const equal = String(value ?? '') === m[3];
    return m[2] === '!=' ? !equal : equal;
  });
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const base: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target) ? (target as Record<string, unknown>) : {};
  const changes = patch as Record<string, unknown>;
  const kept = Object.entries(base).filter(([key]) => !(key in changes));
  const merged = Object.entries(changes)
    .filter(([, value]) => value !== null) // null removes the field
    .map(([key, value]) => [key, mergePatch(base[key], value)]);
  return Object.fromEntries([...kept, ...merged]);
}

export class FakeStore {
  private rv = 1000;
  /** Versions at or below this are compacted away: a watch from one of them gets 410 Gone. */
  private oldestRv = 1000;
  private readonly objects = new Map<Resource, Map<string, KubeObject>>();
  private history: StoredEvent[] = [];
  private readonly listeners = new Set<ChangeListener>();
  /** Keeps at most this many watch events (the API server's watch cache window). */
  historyLimit = 10_000;

  constructor() {
    for (const r of Object.keys(RESOURCES) as Resource[]) this.objects.set(r, new Map());
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get oldestResourceVersion(): number {
    return this.oldestRv;
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drops the watch history: every watch from an earlier resourceVersion now gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.oldestRv = this.rv;
  }

  /** Events after `rv` (for a resuming watch), or undefined when `rv` is older than the history kept. */
  eventsSince(rv: number): StoredEvent[] | undefined {
    if (rv < this.oldestRv) return undefined;
    return this.history.filter((e) => e.rv > rv);
  }

  private key(namespace: string, name: string): string {
    return `${namespace}/${name}`;
  }

  private record(resource: Resource, type: WatchEventType, object: KubeObject, previous?: KubeObject): void {
    const event: StoredEvent = { rv: this.rv, resource, type, object: clone(object), previous };
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.oldestRv = dropped.at(-1)?.rv ?? this.oldestRv;
    }
    for (const listener of this.listeners) listener(event);
  }

  private bump(object: KubeObject): void {
    this.rv += 1;
    object.metadata.resourceVersion = String(this.rv);
  }

  list(
    resource: Resource,
    namespace: string | undefined,
    labelSelector?: string,
    fieldSelector?: string,
  ): KubeObject[] {
    return this.select(resource, namespace, labelSelector, fieldSelector).map(clone);
  }

  /** The matching stored objects themselves, by name (callers clone what they hand out). */
  select(
    resource: Resource,
    namespace: string | undefined,
    labelSelector?: string,
    fieldSelector?: string,
  ): readonly KubeObject[] {
    const all = [...(this.objects.get(resource)?.values() ?? [])];
    return all
      .filter((o) => !namespace || o.metadata.namespace === namespace)
      .filter((o) => matchesLabels(labelSelector, o.metadata.labels))
      .filter((o) => matchesFields(fieldSelector, o))
      .sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
  }

  get(resource: Resource, namespace: string, name: string): KubeObject {
    const found = this.objects.get(resource)?.get(this.key(namespace, name));
    if (!found)
      throw statusError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
    return clone(found);
  }

  /** The stored object itself (for the simulated kubelet), or undefined. */
  peek(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(resource)?.get(this.key(namespace, name));
  }

  create(resource: Resource, namespace: string, input: KubeObject): KubeObject {
    const object = clone(input);
    object.metadata ??= {};
    if (!object.metadata.name && object.metadata.generateName) {
      object.metadata.name = `${object.metadata.generateName}${randomUUID().slice(0, 5)}`;
    }
    object.metadata.namespace = namespace;
    object.apiVersion ??= 'v1';
    object.kind ??= RESOURCES[resource].kind;
    validate(resource, object);
    const name = object.metadata.name ?? '';
    const map = this.objects.get(resource);
    if (map?.has(this.key(namespace, name))) {
      throw statusError(409, 'AlreadyExists', `${resource} "${name}" already exists`, {
        name,
        kind: resource,
      });
    }
    checkQuota(this, resource, namespace, object);
    if (resource === 'secrets' && object.stringData && typeof object.stringData === 'object') {
      const data = { ...((object.data as Record<string, string> | undefined) ?? {}) };
      for (const [k, v] of Object.entries(object.stringData as Record<string, string>)) {
        data[k] = Buffer.from(v).toString('base64');
      }
      object.data = data;
      delete object.stringData;
    }
    object.metadata.uid = randomUUID();
    object.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (resource === 'pods') object.status = { phase: 'Pending', ...((object.status as object) ?? {}) };
    if (resource === 'persistentvolumeclaims') {
      object.metadata.finalizers = ['kubernetes.io/pvc-protection'];
      object.status = { phase: 'Pending' };
    }
    this.bump(object);
    map?.set(this.key(namespace, name), object);
    this.record(resource, 'ADDED', object);
    return clone(object);
  }

  /** Applies a merge patch to an object's metadata (and, where the API allows, its other fields). */
  patch(
    resource: Resource,
    namespace: string,
    name: string,
    patch: KubeObject | Record<string, unknown>,
  ): KubeObject {
    return this.patchWith(resource, namespace, name, (current) => mergePatch(current, patch) as KubeObject);
  }

  /** Applies an RFC 6902 JSON patch; a failing `test` operation refuses the whole patch (422). */
  jsonPatch(resource: Resource, namespace: string, name: string, operations: unknown): KubeObject {
    return this.patchWith(resource, namespace, name, (current) => applyJsonPatch(current, operations));
  }

  /**
   * A patch as the API server applies it: to the current version, atomically; a resourceVersion in the result
   * other than the current one is a precondition that failed (409); the pod spec and identity are immutable.
   */
  private patchWith(
    resource: Resource,
    namespace: string,
    name: string,
    apply: (current: KubeObject) => KubeObject,
  ): KubeObject {
    const current = this.peek(resource, namespace, name);
    if (!current)
      throw statusError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
    const next = apply(current);
    next.metadata ??= {};
    const wanted = next.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== current.metadata.resourceVersion) {
      throw statusError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, kind: resource },
      );
    }
    if (resource === 'pods' && JSON.stringify(next.spec) !== JSON.stringify(current.spec)) {
      throw statusError(
        422,
        'Invalid',
        `Pod "${name}" is invalid: spec: Forbidden: pod updates may not change fields other than \`spec.containers[*].image\`, \`spec.initContainers[*].image\`, \`spec.activeDeadlineSeconds\`, \`spec.tolerations\` (only additions to existing tolerations) or \`spec.terminationGracePeriodSeconds\``,
        {
          name,
          kind: 'Pod',
          causes: [
            { reason: 'FieldValueForbidden', message: 'pod updates may not change fields', field: 'spec' },
          ],
        },
      );
    }
    for (const immutable of ['uid', 'creationTimestamp', 'namespace', 'name'] as const) {
      next.metadata[immutable] = current.metadata[immutable] as never;
    }
    validate(resource, next);
    return this.replace(resource, next);
  }

  /** Writes a new version of an existing object (the kubelet's status updates, GC, patches). */
  replace(resource: Resource, object: KubeObject): KubeObject {
    const namespace = object.metadata.namespace ?? '';
    const name = object.metadata.name ?? '';
    const stored = clone(object);
    const previous = this.objects.get(resource)?.get(this.key(namespace, name));
    this.bump(stored);
    this.objects.get(resource)?.set(this.key(namespace, name), stored);
    this.record(resource, 'MODIFIED', stored, previous);
    return clone(stored);
  }

  /** Changes an object in place through `mutate` and records the new version. */
  update(
    resource: Resource,
    namespace: string,
    name: string,
    mutate: (o: KubeObject) => void,
  ): KubeObject | undefined {
    const current = this.peek(resource, namespace, name);
    if (!current) return undefined;
    const next = clone(current);
    mutate(next);
    return this.replace(resource, next);
  }

  /**
   * DELETE: pods with a grace period are marked (deletionTimestamp) for the kubelet to stop and then
   * `remove`; PVCs still mounted by a pod wait for it (pvc-protection); dependents of a deleted owner are
   * deleted too (background propagation).
   */
  delete(
    resource: Resource,
    namespace: string,
    name: string,
    options: { gracePeriodSeconds?: number; propagationPolicy?: string } = {},
  ): KubeObject {
    const current = this.peek(resource, namespace, name);
    if (!current)
      throw statusError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
    if (current.metadata.deletionTimestamp) return clone(current);
    if (resource === 'pods') {
      const spec = current.spec as { terminationGracePeriodSeconds?: number; nodeName?: string } | undefined;
      const grace = options.gracePeriodSeconds ?? spec?.terminationGracePeriodSeconds ?? 30;
      const phase = (current.status as { phase?: string } | undefined)?.phase;
      // A pod no kubelet runs (unscheduled, or already ended) has nothing to stop.
      if (grace > 0 && spec?.nodeName && phase !== 'Failed' && phase !== 'Succeeded') {
        return this.markDeleting(resource, current, grace);
      }
      return this.remove(resource, namespace, name);
    }
    if (resource === 'persistentvolumeclaims' && this.mountedBy(namespace, name)) {
      return this.markDeleting(resource, current, 0);
    }
    return this.remove(resource, namespace, name);
  }

  private markDeleting(resource: Resource, current: KubeObject, grace: number): KubeObject {
    return this.update(resource, current.metadata.namespace ?? '', current.metadata.name ?? '', (o) => {
      o.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      o.metadata.deletionGracePeriodSeconds = grace;
    }) as KubeObject;
  }

  private mountedBy(namespace: string, claim: string): boolean {
    return this.list('pods', namespace).some((pod) => {
      const volumes = (pod.spec as { volumes?: Array<{ persistentVolumeClaim?: { claimName?: string } }> })
        ?.volumes;
      return (volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim);
    });
  }

  /** Takes the object out for good (DELETED), then collects its dependents and unblocks protected PVCs. */
  remove(resource: Resource, namespace: string, name: string): KubeObject {
    const map = this.objects.get(resource);
    const current = map?.get(this.key(namespace, name));
    if (!current)
      throw statusError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
    map?.delete(this.key(namespace, name));
    const gone = clone(current);
    this.bump(gone);
    this.record(resource, 'DELETED', gone);
    // Garbage collection: whatever this object owned goes too.
    for (const r of Object.keys(RESOURCES) as Resource[]) {
      for (const dependent of this.list(r, namespace)) {
        if (dependent.metadata.ownerReferences?.some((ref) => ref.uid === current.metadata.uid)) {
          try {
            this.delete(r, namespace, dependent.metadata.name ?? '');
          } catch {
            // already gone
          }
        }
      }
    }
    if (resource === 'pods') {
      for (const pvc of this.list('persistentvolumeclaims', namespace)) {
        const claim = pvc.metadata.name ?? '';
        if (pvc.metadata.deletionTimestamp && !this.mountedBy(namespace, claim)) {
          this.remove('persistentvolumeclaims', namespace, claim);
        }
      }
    }
    return gone;
  }
}
