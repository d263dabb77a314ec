import { ApiException } from '@kubernetes/client-node';
import type { PodView } from './views.ts';

/** The API server's Status body (what every error response carries). */
export interface StatusBody {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: Array<{ reason?: string; message?: string; field?: string }>;
  };
}

export function statusOf(error: unknown): { code: number; body: StatusBody } | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const raw: unknown = error.body;
  let body: StatusBody = {};
  if (typeof raw === 'string') {
    try {
      body = JSON.parse(raw) as StatusBody;
    } catch {
      body = { message: raw };
    }
  } else if (raw && typeof raw === 'object') {
    body = raw as StatusBody;
  }
  return { code: error.code, body };
}

export function isNotFound(error: unknown): boolean {
  return statusOf(error)?.code === 404;
}

export function isConflict(error: unknown): boolean {
  return statusOf(error)?.code === 409;
}

/** 422: an invalid object, or a JSON patch whose `test` operation did not hold. */
export function isUnprocessable(error: unknown): boolean {
  return statusOf(error)?.code === 422;
}

/**
 * A Kubernetes API failure as a sentence a user can act on: exceeded quota (403), a specification the cluster
 * refuses (422), a conflict (409), missing permissions (403 without a quota), or an unreachable API.
 */
export function describeApiError(error: unknown, doing: string): string {
  const status = statusOf(error);
  if (!status) {
    const message = error instanceof Error ? error.message : String(error);
    return `the Kubernetes API could not be reached while ${doing}: ${message}`;
  }
  const message = status.body.message ?? `HTTP ${status.code}`;
  switch (status.code) {
    case 403:
      return /exceeded quota/.test(message)
        ? `the cluster's resource quota is exhausted (${message.replace(/^.*?forbidden: /, '')})`
        : `the orchestrator is not allowed to do this (${doing}): ${message}`;
    case 422:
      return `the cluster refused the desktop's specification while ${doing}: ${message}`;
    case 409:
      return `a conflicting object exists while ${doing}: ${message}`;
    default:
      return `the Kubernetes API answered ${status.code} while ${doing}: ${message}`;
  }
}

const IMAGE_PULL_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
]);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/**
 * Why a pod will never become a working desktop, from its status alone — or undefined while it may still come
 * up. Unschedulable is not here: it may clear (a node joins), so the runtime gives it a deadline.
 */
export function podFailure(pod: PodView, memoryMiB: number): string | undefined {
  for (const c of pod.containers) {
    const terminated = c.terminated ?? c.lastTerminated;
    if (terminated?.reason === 'OOMKilled') {
      return `the desktop ran out of memory (OOMKilled at the tier's ${memoryMiB} MiB limit)`;
    }
    if (c.waiting && IMAGE_PULL_REASONS.has(c.waiting.reason)) {
      return `the desktop image could not be pulled (${c.waiting.reason}: ${c.waiting.message || 'no detail'})`;
    }
    if (c.waiting && CONFIG_REASONS.has(c.waiting.reason)) {
      return `the desktop container could not be created (${c.waiting.reason}: ${c.waiting.message || 'no detail'})`;
    }
    if (c.terminated) {
      return `the desktop exited during start (${c.terminated.reason || 'Error'}, exit code ${c.terminated.exitCode})`;
    }
  }
  if (pod.phase === 'Failed' || pod.phase === 'Succeeded') return `the desktop pod ended (${pod.phase})`;
  if (pod.deleting) return 'the desktop pod was deleted while it started';
  return undefined;
}
