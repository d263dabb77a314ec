// Kubernetes object shapes and the API's error bodies, shared by the FAKE API server's store, validation and quota.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

/** Any Kubernetes object, as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** The resources this fake serves, by their URL plural. */
export const RESOURCES = {
  pods: { kind: 'Pod', namespaced: true },
  persistentvolumeclaims: { kind: 'PersistentVolumeClaim', namespaced: true },
  secrets: { kind: 'Secret', namespaced: true },
  events: { kind: 'Event', namespaced: true },
  resourcequotas: { kind: 'ResourceQuota', namespaced: true },
} as const;
export type Resource = keyof typeof RESOURCES;

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: {
    name?: string;
    kind?: string;
    causes?: Array<{ reason: string; message: string; field: string }>;
  };
  code: number;
}

/** An API error with the API server's own Status body. */
export class StatusError extends Error {
  constructor(readonly body: StatusBody) {
    super(body.message);
  }
  get status(): number {
    return this.body.code;
  }
}

export function statusError(
  code: number,
  reason: string,
  message: string,
  details?: StatusBody['details'],
): StatusError {
  return new StatusError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}
