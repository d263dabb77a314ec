import type { V1Pod } from '@kubernetes/client-node';
import { stat } from 'node:fs/promises';
import { relative, resolve, isAbsolute } from 'node:path';
import type { AllocatedResources } from '../../protocol/session.ts';
import type { SessionRow } from '../canon/canon-store.ts';
import { podFor, type SessionObjectsConfig } from '../runtime/kubernetes/session-objects.ts';
import type {
  KubernetesRuntimeHandle,
  LocalRuntimeHandle,
  RuntimeHandle,
} from '../runtime/runtime-provider.ts';
import type { CheckResult } from './auth-probe.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Values that must differ between sessions: a second session holding one would share the first's secret. */
function duplicates(rows: Array<{ id: string; value: string | number | undefined }>, what: string): string[] {
  const seen = new Map<string | number, string>();
  const problems: string[] = [];
  for (const { id, value } of rows) {
    if (value === undefined || value === '') continue;
    const other = seen.get(value);
    if (other) problems.push(`sessions ${other} and ${id} share ${what}`);
    else seen.set(value, id);
  }
  return problems;
}

const handles = <K extends RuntimeHandle['kind']>(rows: readonly SessionRow[], kind: K) =>
  rows.flatMap((r) =>
    r.runtime?.kind === kind
      ? [{ id: r.session.sessionId, handle: r.runtime as Extract<RuntimeHandle, { kind: K }> }]
      : [],
  );

/**
 * Local runtime: every live desktop in its own process group (not the adapter's), in its own owner-only
 * directory under the sessions directory, on loopback, behind its own VNC password and agent secret — read
 * from the handles Canon Memory holds and the directories on disk.
 */
export async function localIsolation(rows: readonly SessionRow[], sessionsDir: string): Promise<CheckResult> {
  const live: Array<{ id: string; handle: LocalRuntimeHandle }> = handles(rows, 'local');
  const problems: string[] = [];
  for (const { id, handle } of live) {
    if (!handle.password) problems.push(`session ${id} has no VNC password`);
    if (!LOOPBACK.has(handle.host)) problems.push(`session ${id} listens on ${handle.host}, not loopback`);
    if (handle.pgid === process.pid || handle.pgid <= 1)
      problems.push(`session ${id} runs in process group ${handle.pgid}, not one of its own`);
    const inside = relative(resolve(sessionsDir), resolve(handle.workDir));
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside))
      problems.push(`session ${id} works in ${handle.workDir}, outside ${sessionsDir}`);
    const mode = await stat(handle.workDir).then(
      (s) => s.mode & 0o777,
      () => undefined, // gone with its desktop: the reconcile pass deals with that, not isolation
    );
    if (mode !== undefined && (mode & 0o077) !== 0)
      problems.push(`session ${id}'s directory is mode ${mode.toString(8)}, readable by others`);
  }
  problems.push(
    ...duplicates(
      live.map((l) => ({ id: l.id, value: l.handle.password })),
      'a VNC password',
    ),
    ...duplicates(
      live.map((l) => ({ id: l.id, value: l.handle.agentToken })),
      'an agent secret',
    ),
    ...duplicates(
      live.map((l) => ({ id: l.id, value: l.handle.pgid })),
      'a process group',
    ),
    ...duplicates(
      live.map((l) => ({ id: l.id, value: resolve(l.handle.workDir) })),
      'a directory',
    ),
  );
  if (problems.length > 0) return { ok: false, evidence: problems.join('; ') };
  return {
    ok: true,
    evidence:
      live.length === 0
        ? 'no live desktops; each one the local runtime starts gets its own process group, owner-only directory, loopback port, VNC password and agent secret (verified on every live one)'
        : `${live.length} live desktops, each in its own process group and owner-only directory under ${sessionsDir}, on loopback, behind its own VNC password and agent secret`,
  };
}

const PROBE = { secret: 'isolation-probe', pvc: 'isolation-probe-home' };

/** What the pod the runtime builds must enforce for one session to be cut off from every other. */
export function podIsolationProblems(pod: V1Pod, refs: { secretName: string; pvcName: string }): string[] {
  const problems: string[] = [];
  const spec = pod.spec;
  if (!spec) return ['the pod has no spec'];
  const ctx = spec.securityContext;
  if (ctx?.runAsNonRoot !== true) problems.push('the pod does not require a non-root user');
  if (ctx?.runAsUser === 0) problems.push('the pod runs as root (uid 0)');
  if (spec.automountServiceAccountToken !== false) problems.push('the pod mounts a service-account token');
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) problems.push("the pod shares the node's namespaces");
  for (const volume of spec.volumes ?? []) {
    if (volume.hostPath) problems.push(`volume ${volume.name} mounts a node path`);
    if (volume.persistentVolumeClaim && volume.persistentVolumeClaim.claimName !== refs.pvcName)
      problems.push(`volume ${volume.name} is not the session's own PVC`);
  }
  for (const c of spec.containers) {
    const sc = c.securityContext;
    if (sc?.privileged) problems.push(`container ${c.name} is privileged`);
    if (sc?.allowPrivilegeEscalation !== false)
      problems.push(`container ${c.name} allows privilege escalation`);
    if (!sc?.capabilities?.drop?.includes('ALL'))
      problems.push(`container ${c.name} keeps Linux capabilities`);
    for (const name of ['VNC_PASSWORD', 'AGENT_TOKEN']) {
      const from = c.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef?.name;
      if (from !== refs.secretName)
        problems.push(`container ${c.name} does not take ${name} from the session's own Secret`);
    }
  }
  return problems;
}

/**
 * Kubernetes runtime: the pod template the runtime builds for a session (non-root, no privilege escalation,
 * no capabilities, no service-account token, secrets from the session's own Secret, home on its own PVC), and
 * every live session in Canon Memory holding its own Secret, PVC and VNC password.
 */
export function kubernetesIsolation(
  rows: readonly SessionRow[],
  objects: SessionObjectsConfig,
  resources: AllocatedResources,
): CheckResult {
  const pod = podFor(
    'isolation-probe',
    { sessionId: 'isolation-probe', tenantId: 'isolation-probe', userId: 'isolation-probe', tier: 'basic' },
    resources,
    { secretName: PROBE.secret, pvcName: PROBE.pvc, owner: { name: PROBE.secret, uid: 'isolation-probe' } },
    objects,
  );
  const live: Array<{ id: string; handle: KubernetesRuntimeHandle }> = handles(rows, 'kubernetes');
  const problems = [
    ...podIsolationProblems(pod, { secretName: PROBE.secret, pvcName: PROBE.pvc }).map(
      (p) => `session pod template: ${p}`,
    ),
    ...duplicates(
      live.map((l) => ({ id: l.id, value: l.handle.secretName })),
      'a Secret',
    ),
    ...duplicates(
      live.map((l) => ({ id: l.id, value: l.handle.pvcName })),
      'a home volume',
    ),
    ...duplicates(
      live.map((l) => ({ id: l.id, value: l.handle.password })),
      'a VNC password',
    ),
  ];
  if (problems.length > 0) return { ok: false, evidence: problems.join('; ') };
  const uid = pod.spec?.securityContext?.runAsUser;
  return {
    ok: true,
    evidence: `each session pod runs as non-root uid ${uid ?? '?'} in namespace ${objects.namespace} without privilege escalation, capabilities or a service-account token, takes its VNC password and agent secret from its own Secret and mounts only its own PVC; ${live.length} live sessions, each with its own Secret and home volume`,
  };
}
