import type { Tier } from '../../protocol/session.ts';
import type { GenesisLimits, SessionRow } from '../canon/canon-store.ts';
import { PHASE_TABLE, type DeploymentPhase } from '../governance/deployment-phase.ts';
import { podFor, type SessionObjectsConfig } from '../runtime/kubernetes/session-objects.ts';
import type { CheckResult } from './auth-probe.ts';

const cores = (millicores: number): string => `${millicores / 1000} CPU`;
const gib = (mib: number): string => `${Math.round((mib / 1024) * 10) / 10} GiB`;

/**
 * The 55 "Resource allocation limits": every tier has its CPU, memory and storage set and fits the cluster
 * ceiling (a tier larger than the whole cluster could never be launched); on Kubernetes the pod the runtime
 * builds for each tier requests and is limited to exactly the tier's CPU and memory.
 */
export function resourceLimits(
  catalogue: readonly Tier[],
  cluster: GenesisLimits['cluster'],
  kubernetes?: SessionObjectsConfig,
): CheckResult {
  const problems: string[] = [];
  for (const t of catalogue) {
    const r = t.resources;
    const unset = (
      [
        ['CPU', r.cpuMillicores],
        ['memory', r.memoryMiB],
        ['storage', r.storageGiB],
        ['display width', r.display.width],
        ['display height', r.display.height],
      ] as const
    ).filter(([, v]) => !Number.isFinite(v) || v <= 0);
    for (const [what] of unset) problems.push(`tier ${t.id} has no ${what} set`);
    if (r.cpuMillicores > cluster.maxCpuMillicores)
      problems.push(
        `tier ${t.id} needs ${cores(r.cpuMillicores)}, more than the cluster's ${cores(cluster.maxCpuMillicores)}`,
      );
    if (r.memoryMiB > cluster.maxMemoryMiB)
      problems.push(
        `tier ${t.id} needs ${gib(r.memoryMiB)}, more than the cluster's ${gib(cluster.maxMemoryMiB)}`,
      );
    if (r.storageGiB > cluster.maxStorageGiB)
      problems.push(
        `tier ${t.id} needs ${r.storageGiB} GiB of storage, more than the cluster's ${cluster.maxStorageGiB} GiB`,
      );
    if (kubernetes) {
      const pod = podFor(
        'limits-probe',
        { tier: t.id },
        r,
        { secretName: 'p', pvcName: 'p', owner: { name: 'p', uid: 'p' } },
        kubernetes,
      );
      const res = pod.spec?.containers[0]?.resources;
      const want = { cpu: `${r.cpuMillicores}m`, memory: `${r.memoryMiB}Mi` };
      for (const kind of ['requests', 'limits'] as const) {
        const got = res?.[kind];
        if (got?.cpu !== want.cpu || got.memory !== want.memory)
          problems.push(`tier ${t.id}'s pod ${kind} are not its ${want.cpu} CPU and ${want.memory} memory`);
      }
    }
  }
  if (catalogue.length === 0) problems.push('the tier catalogue is empty');
  if (problems.length > 0) return { ok: false, evidence: problems.join('; ') };
  const tiers = catalogue
    .map(
      (t) =>
        `${t.id} ${cores(t.resources.cpuMillicores)}/${gib(t.resources.memoryMiB)}/${t.resources.storageGiB} GiB`,
    )
    .join(', ');
  return {
    ok: true,
    evidence: `${catalogue.length} tiers (${tiers}), each within the cluster ceiling of ${cores(cluster.maxCpuMillicores)}, ${gib(cluster.maxMemoryMiB)} memory and ${cluster.maxStorageGiB} GiB storage; ${
      kubernetes
        ? 'each pod requests and is limited to exactly its tier'
        : 'the local runtime accounts them at Genesis (its desktops are not cgroup-limited)'
    }`,
  };
}

/**
 * The 45 "Resource quota compliance": the limits Genesis checks atomically (per user, per tenant, the cluster
 * ceiling) are loaded as finite numbers, and what live sessions hold now is within the cluster ceiling (a
 * lowered ceiling, or sessions written around the check, would show here).
 */
export function resourceQuota(
  limits: GenesisLimits,
  phase: DeploymentPhase,
  live: readonly SessionRow[],
): CheckResult {
  const c = limits.cluster;
  const values: Array<[string, number | undefined]> = [
    ['sessions per user', limits.maxLiveSessionsPerUser],
    ['CPU per user', limits.maxCpuMillicoresPerUser],
    ['memory per user', limits.maxMemoryMiBPerUser],
    ['sessions per tenant', limits.maxLiveSessionsPerTenant],
    ['CPU per tenant', limits.maxCpuMillicoresPerTenant],
    ['memory per tenant', limits.maxMemoryMiBPerTenant],
    ['cluster sessions', c.maxSessions],
    ['cluster CPU', c.maxCpuMillicores],
    ['cluster memory', c.maxMemoryMiB],
    ['cluster storage', c.maxStorageGiB],
  ];
  if (c.maxVolumes !== undefined) values.push(['cluster persistent volumes', c.maxVolumes]);
  const problems = values
    .filter(([, v]) => v === undefined || !Number.isFinite(v) || v < 0)
    .map(([what, v]) => `the ${what} limit is not a finite number (${String(v)})`);

  const sum = (pick: (r: SessionRow) => number) => live.reduce((a, r) => a + pick(r), 0);
  const used = {
    sessions: live.length,
    cpu: sum((r) => r.session.resources.cpuMillicores),
    memory: sum((r) => r.session.resources.memoryMiB),
    storage: sum((r) => r.session.resources.storageGiB),
  };
  const over: Array<[boolean, string]> = [
    [
      used.sessions > c.maxSessions,
      `${used.sessions} live sessions exceed the cluster ceiling of ${c.maxSessions}`,
    ],
    [
      c.maxVolumes !== undefined && used.sessions > c.maxVolumes,
      `${used.sessions} live sessions hold more persistent volumes than the ${c.maxVolumes} allowed`,
    ],
    [
      used.cpu > c.maxCpuMillicores,
      `live sessions hold ${cores(used.cpu)}, above the cluster's ${cores(c.maxCpuMillicores)}`,
    ],
    [
      used.memory > c.maxMemoryMiB,
      `live sessions hold ${gib(used.memory)}, above the cluster's ${gib(c.maxMemoryMiB)}`,
    ],
    [
      used.storage > c.maxStorageGiB,
      `live sessions hold ${used.storage} GiB of storage, above the cluster's ${c.maxStorageGiB} GiB`,
    ],
  ];
  problems.push(...over.filter(([exceeded]) => exceeded).map(([, why]) => why));
  if (problems.length > 0) return { ok: false, evidence: problems.join('; ') };

  const phaseMax = PHASE_TABLE[phase].maxConcurrentSessions;
  return {
    ok: true,
    evidence:
      `checked atomically at Genesis with the session's write: per user ${limits.maxLiveSessionsPerUser} live sessions, ${cores(limits.maxCpuMillicoresPerUser)}, ${gib(limits.maxMemoryMiBPerUser)}; ` +
      `per tenant ${limits.maxLiveSessionsPerTenant} sessions, ${cores(limits.maxCpuMillicoresPerTenant)}, ${gib(limits.maxMemoryMiBPerTenant)} (the tenant registry may override); ` +
      `cluster ceiling ${c.maxSessions} sessions (the lower of phase ${phase}'s ${phaseMax} and the ResourceQuota's pods), ${cores(c.maxCpuMillicores)}, ${gib(c.maxMemoryMiB)} memory, ${c.maxStorageGiB} GiB storage` +
      `${c.maxVolumes !== undefined ? `, ${c.maxVolumes} persistent volumes` : ''}; ` +
      `live now: ${used.sessions} sessions, ${cores(used.cpu)}, ${gib(used.memory)} memory, ${used.storage} GiB storage`,
  };
}
