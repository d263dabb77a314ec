import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';

/** A container's state as far as launching and failing is concerned. */
export interface ContainerView {
  name: string;
  waiting?: { reason: string; message: string };
  terminated?: { reason: string; exitCode: number; message: string };
  lastTerminated?: { reason: string; exitCode: number; message: string };
  ready: boolean;
}

/** What the runtime keeps of a pod: enough to launch, watch and reconcile, and nothing more. */
export interface PodView {
  name: string;
  uid: string;
  resourceVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  createdAt: string;
  deleting: boolean;
  phase: string;
  podIP: string;
  ready: boolean;
  /** The PodScheduled condition when it is False (e.g. Unschedulable with the scheduler's message). */
  unschedulable?: { reason: string; message: string };
  containers: ContainerView[];
}

export interface PvcView {
  name: string;
  uid: string;
  labels: Record<string, string>;
  createdAt: string;
  deleting: boolean;
  phase: string;
}

/** Timestamps are Date objects from a list call and strings from a watch. */
function iso(value: Date | string | undefined): string {
  if (value === undefined || value === null) return '';
  return value instanceof Date ? value.toISOString() : String(value);
}

const terminatedView = (t: { reason?: string; exitCode?: number; message?: string } | undefined) =>
  t ? { reason: t.reason ?? '', exitCode: t.exitCode ?? 0, message: t.message ?? '' } : undefined;

export function podView(pod: V1Pod): PodView {
  const conditions = pod.status?.conditions ?? [];
  const scheduled = conditions.find((c) => c.type === 'PodScheduled');
  return {
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    resourceVersion: pod.metadata?.resourceVersion ?? '',
    labels: { ...pod.metadata?.labels },
    annotations: { ...pod.metadata?.annotations },
    createdAt: iso(pod.metadata?.creationTimestamp),
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    phase: pod.status?.phase ?? 'Pending',
    podIP: pod.status?.podIP ?? '',
    ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    unschedulable:
      scheduled?.status === 'False'
        ? { reason: scheduled.reason ?? 'Unschedulable', message: scheduled.message ?? '' }
        : undefined,
    containers: (pod.status?.containerStatuses ?? []).map((c) => ({
      name: c.name,
      ready: c.ready,
      waiting: c.state?.waiting
        ? { reason: c.state.waiting.reason ?? '', message: c.state.waiting.message ?? '' }
        : undefined,
      terminated: terminatedView(c.state?.terminated),
      lastTerminated: terminatedView(c.lastState?.terminated),
    })),
  };
}

export function pvcView(pvc: V1PersistentVolumeClaim): PvcView {
  return {
    name: pvc.metadata?.name ?? '',
    uid: pvc.metadata?.uid ?? '',
    labels: { ...pvc.metadata?.labels },
    createdAt: iso(pvc.metadata?.creationTimestamp),
    deleting: Boolean(pvc.metadata?.deletionTimestamp),
    phase: pvc.status?.phase ?? 'Pending',
  };
}
