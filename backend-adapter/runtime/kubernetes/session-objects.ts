import type { V1PersistentVolumeClaim, V1Pod, V1Secret } from '@kubernetes/client-node';
import { HANDSHAKE } from '../../../protocol/handshake.ts';
import type { AllocatedResources } from '../../../protocol/session.ts';
import { AGENT_CONTROL_PORT, RFB_PORT } from '../../../session-agent/protocol.ts';

/** Labels every session object carries; `app: v-supercore` is what the spec's NetworkPolicy selects. */
export const LABELS = {
  app: 'app',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  session: 'v-supercore.n3xus/session',
  tenant: 'v-supercore.n3xus/tenant',
  tier: 'v-supercore.n3xus/tier',
  /** `warm` until a session claims it, then `claimed`. */
  pool: 'v-supercore.n3xus/pool',
  retained: 'v-supercore.n3xus/retained',
} as const;

export const ANNOTATIONS = {
  handshake: 'v-supercore.n3xus/handshake',
  /** Set while the desktop is frozen through its agent, so status survives an orchestrator restart. */
  pausedAt: 'v-supercore.n3xus/paused-at',
  user: 'v-supercore.n3xus/user',
  /** On a pod: the name its Secret and PVC share (a pod's own name changes when it is recreated). */
  objects: 'v-supercore.n3xus/objects',
} as const;

/** Selects every object the runtime made (and only those). */
export const SESSION_SELECTOR = `${LABELS.app}=v-supercore,${LABELS.component}=session`;

export const SECRET_KEYS = { agentToken: 'agent-token', vncPassword: 'vnc-password' } as const;
export const HOME_DIR = '/home/desktop';
export const SESSION_POOL_SERVICE = 'v-supercore-session-pool';

export interface SessionObjectsConfig {
  namespace: string;
  image: string;
  storageClass: string;
  runAsUser: number;
}

/**
 * A label value from free text: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric.
 * Tenant ids are not ours to choose; what cannot be represented is replaced, never rejected.
 */
export function labelValue(text: string): string {
  const cleaned = text
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
  return cleaned;
}

export interface SessionIdentity {
  /** Session id, or undefined for a warm-pool desktop nobody has claimed yet. */
  sessionId?: string;
  tenantId?: string;
  userId?: string;
  tier: string;
}

export function sessionLabels(who: SessionIdentity): Record<string, string> {
  return {
    [LABELS.app]: 'v-supercore',
    [LABELS.component]: 'session',
    [LABELS.managedBy]: 'v-supercore-orchestrator',
    [LABELS.tier]: labelValue(who.tier),
    [LABELS.pool]: who.sessionId ? 'claimed' : 'warm',
    ...(who.sessionId ? { [LABELS.session]: labelValue(who.sessionId) } : {}),
    ...(who.tenantId ? { [LABELS.tenant]: labelValue(who.tenantId) } : {}),
  };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** The session's Secret: the agent's bearer token and the VNC password. It owns the PVC and the pod. */
export function secretFor(
  name: string,
  who: SessionIdentity,
  secrets: { agentToken: string; vncPassword: string },
  config: SessionObjectsConfig,
): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: config.namespace,
      labels: sessionLabels(who),
      annotations: { [ANNOTATIONS.handshake]: HANDSHAKE },
    },
    type: 'Opaque',
    data: {
      [SECRET_KEYS.agentToken]: b64(secrets.agentToken),
      [SECRET_KEYS.vncPassword]: b64(secrets.vncPassword),
    },
  };
}

function ownedBy(owner: { name: string; uid: string }) {
  return [{ apiVersion: 'v1', kind: 'Secret', name: owner.name, uid: owner.uid }];
}

/** Home directory volume, sized by the tier, on the encrypted storage class; outlives pods (hibernation). */
export function pvcFor(
  name: string,
  who: SessionIdentity,
  resources: AllocatedResources,
  owner: { name: string; uid: string },
  config: SessionObjectsConfig,
): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name,
      namespace: config.namespace,
      labels: sessionLabels(who),
      annotations: { [ANNOTATIONS.handshake]: HANDSHAKE },
      ownerReferences: ownedBy(owner),
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: config.storageClass,
      resources: { requests: { storage: `${Math.max(1, resources.storageGiB)}Gi` } },
    },
  };
}

/** The desktop pod: the session image running the agent, non-root, read-only root, the tier's resources. */
export function podFor(
  name: string,
  who: SessionIdentity,
  resources: AllocatedResources,
  refs: { secretName: string; pvcName: string; owner: { name: string; uid: string } },
  config: SessionObjectsConfig,
): V1Pod {
  const quantities: Record<string, string> = {
    cpu: `${resources.cpuMillicores}m`,
    memory: `${resources.memoryMiB}Mi`,
  };
  if (resources.gpus > 0) quantities['nvidia.com/gpu'] = String(resources.gpus);
  const fromSecret = (key: string) => ({ secretKeyRef: { name: refs.secretName, key } });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: config.namespace,
      labels: sessionLabels(who),
      annotations: {
        [ANNOTATIONS.handshake]: HANDSHAKE,
        [ANNOTATIONS.objects]: refs.secretName,
        ...(who.userId ? { [ANNOTATIONS.user]: who.userId } : {}),
      },
      ownerReferences: ownedBy(refs.owner),
    },
    spec: {
      restartPolicy: 'Never',
      // A stable DNS name under the headless session-pool Service.
      hostname: name.slice(0, 63),
      subdomain: SESSION_POOL_SERVICE,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 10,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: config.runAsUser,
        runAsGroup: config.runAsUser,
        fsGroup: config.runAsUser,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      ...(resources.gpus > 0
        ? { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] }
        : {}),
      containers: [
        {
          name: 'desktop',
          image: config.image,
          imagePullPolicy: 'IfNotPresent',
          workingDir: HOME_DIR,
          ports: [
            { name: 'rfb', containerPort: RFB_PORT },
            { name: 'control', containerPort: AGENT_CONTROL_PORT },
          ],
          env: [
            { name: 'AGENT_TOKEN', valueFrom: fromSecret(SECRET_KEYS.agentToken) },
            { name: 'VNC_PASSWORD', valueFrom: fromSecret(SECRET_KEYS.vncPassword) },
            { name: 'HOME', value: HOME_DIR },
            { name: 'SESSION_DIR', value: '/run/v-supercore' },
            { name: 'GEOMETRY', value: `${resources.display.width}x${resources.display.height}` },
            { name: 'RFB_PORT', value: String(RFB_PORT) },
            { name: 'AGENT_PORT', value: String(AGENT_CONTROL_PORT) },
            { name: 'AGENT_METRICS', value: 'cgroup' },
          ],
          resources: { requests: quantities, limits: quantities },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ['ALL'] },
          },
          // Xvnc accepting connections means the desktop is up; the kernel keeps accepting while it is paused.
          readinessProbe: { tcpSocket: { port: RFB_PORT }, periodSeconds: 2, failureThreshold: 3 },
          livenessProbe: { tcpSocket: { port: AGENT_CONTROL_PORT }, periodSeconds: 10, failureThreshold: 3 },
          volumeMounts: [
            { name: 'home', mountPath: HOME_DIR },
            { name: 'tmp', mountPath: '/tmp' },
            { name: 'run', mountPath: '/run/v-supercore' },
            // Xvnc compiles its keymap here; the root filesystem is read-only.
            { name: 'xkb', mountPath: '/var/lib/xkb' },
          ],
        },
      ],
      volumes: [
        { name: 'home', persistentVolumeClaim: { claimName: refs.pvcName } },
        { name: 'tmp', emptyDir: { sizeLimit: '512Mi' } },
        { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
        { name: 'xkb', emptyDir: { sizeLimit: '16Mi' } },
      ],
    },
  };
}
