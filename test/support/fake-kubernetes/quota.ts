// ResourceQuota admission of the FAKE API server, with the API server's own 403 messages.
import { formatQuantity, parseQuantity } from './quantity.ts';
import { statusError, type KubeObject, type Resource } from './kube-objects.ts';
import type { FakeStore } from './store.ts';

interface ContainerResources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

function podUsage(pod: KubeObject): Record<string, number> {
  const containers =
    (pod.spec as { containers?: Array<{ resources?: ContainerResources }> } | undefined)?.containers ?? [];
  const usage: Record<string, number> = { pods: 1 };
  const add = (key: string, value: string | undefined): void => {
    usage[key] = (usage[key] ?? 0) + (parseQuantity(value) ?? 0);
  };
  for (const c of containers) {
    const requests = c.resources?.requests ?? {};
    const limits = c.resources?.limits ?? {};
    for (const [name, value] of Object.entries(requests)) {
      add(`requests.${name}`, value);
      if (name === 'cpu' || name === 'memory') add(name, value);
    }
    for (const [name, value] of Object.entries(limits)) {
      add(`limits.${name}`, value);
      // Extended resources (nvidia.com/gpu) given only as limits are requested at the same amount.
      if (name.includes('/') && requests[name] === undefined) add(`requests.${name}`, value);
    }
  }
  return usage;
}

function pvcUsage(pvc: KubeObject): Record<string, number> {
  const storage = (pvc.spec as { resources?: { requests?: { storage?: string } } } | undefined)?.resources
    ?.requests?.storage;
  return { persistentvolumeclaims: 1, 'requests.storage': parseQuantity(storage) ?? 0 };
}

function usageOf(resource: Resource, object: KubeObject): Record<string, number> | undefined {
  if (resource === 'pods') return podUsage(object);
  if (resource === 'persistentvolumeclaims') return pvcUsage(object);
  if (resource === 'secrets') return { secrets: 1 };
  return undefined;
}

const live = (o: KubeObject): boolean => {
  const phase = (o.status as { phase?: string } | undefined)?.phase;
  return phase !== 'Failed' && phase !== 'Succeeded';
};

/** Refuses a create that a ResourceQuota in the namespace does not allow, as the quota admission plugin does. */
export function checkQuota(
  store: FakeStore,
  resource: Resource,
  namespace: string,
  object: KubeObject,
): void {
  const wanted = usageOf(resource, object);
  if (!wanted) return;
  const name = object.metadata.name ?? '';
  for (const quota of store.list('resourcequotas', namespace)) {
    const hard = (quota.spec as { hard?: Record<string, string> } | undefined)?.hard ?? {};
    const tracked = Object.keys(hard).filter(
      (k) => k in wanted || (resource === 'pods' && /^(requests|limits)\.(cpu|memory)$/.test(k)),
    );
    const missing = tracked.filter(
      (k) => resource === 'pods' && /^(requests|limits)\./.test(k) && !(k in wanted),
    );
    if (missing.length > 0) {
      throw statusError(
        403,
        'Forbidden',
        `${resource} "${name}" is forbidden: failed quota: ${quota.metadata.name}: must specify ${missing.sort().join(',')}`,
        { name, kind: resource },
      );
    }
    const used: Record<string, number> = {};
    for (const existing of store.list(resource, namespace).filter(live)) {
      for (const [k, v] of Object.entries(usageOf(resource, existing) ?? {})) used[k] = (used[k] ?? 0) + v;
    }
    const exceeded = tracked
      .filter((k) => (used[k] ?? 0) + (wanted[k] ?? 0) > (parseQuantity(hard[k]) ?? Infinity) + 1e-9)
      .sort();
    if (exceeded.length > 0) {
      const list = (values: (k: string) => number) =>
        exceeded.map((k) => `${k}=${formatQuantity(k, values(k))}`).join(',');
      throw statusError(
        403,
        'Forbidden',
        `${resource} "${name}" is forbidden: exceeded quota: ${quota.metadata.name}, requested: ${list((k) => wanted[k] ?? 0)}, used: ${list((k) => used[k] ?? 0)}, limited: ${list((k) => parseQuantity(hard[k]) ?? 0)}`,
        { name, kind: resource },
      );
    }
  }
}
