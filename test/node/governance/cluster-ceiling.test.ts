import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../backend-adapter/config.ts';
import { clusterCeiling } from '../../../backend-adapter/governance/cluster-ceiling.ts';
import { DEPLOYMENT_PHASES, PHASE_TABLE } from '../../../backend-adapter/governance/deployment-phase.ts';
import { SPEC_CLUSTER_QUOTA } from '../../../backend-adapter/lifecycle/lifecycle-policy.ts';

describe('cluster ceiling', () => {
  it('is the lower of the phase’s session ceiling and the ResourceQuota’s pods, in every phase', () => {
    for (const phase of DEPLOYMENT_PHASES) {
      const phaseMax = PHASE_TABLE[phase].maxConcurrentSessions;
      for (const pods of [50, phaseMax - 1, phaseMax, phaseMax + 1, 20_000]) {
        const ceiling = clusterCeiling(phase, { ...SPEC_CLUSTER_QUOTA, maxSessions: pods }, false);
        assert.equal(ceiling.maxSessions, Math.min(phaseMax, pods), `phase ${phase}, pods ${pods}`);
      }
    }
  });

  it('keeps the spec’s CPU, memory and storage figures, and the PVC limit only where sessions hold volumes', () => {
    const local = clusterCeiling('3.0', SPEC_CLUSTER_QUOTA, false);
    assert.deepEqual(local, {
      maxCpuMillicores: 500_000, // requests.cpu "500"
      maxMemoryMiB: 1024 * 1024, // requests.memory 1Ti
      maxStorageGiB: 10 * 1024, // requests.storage 10Ti
      maxSessions: 50, // pods "50", below phase 3.0's 100
    });
    assert.equal(clusterCeiling('3.0', SPEC_CLUSTER_QUOTA, true).maxVolumes, 100); // persistentvolumeclaims "100"
  });

  it('is what the configuration enforces: spec figures by default, CLUSTER_QUOTA_* to match another quota', () => {
    const base = { DATA_DIR: '/tmp/x' };
    assert.deepEqual(loadConfig(base).policy.limits.cluster, {
      maxCpuMillicores: 500_000,
      maxMemoryMiB: 1024 * 1024,
      maxStorageGiB: 10 * 1024,
      maxSessions: 50,
    });
    assert.equal(loadConfig({ ...base, RUNTIME: 'kubernetes' }).policy.limits.cluster.maxVolumes, 100);
    const raised = loadConfig({
      ...base,
      RUNTIME: 'kubernetes',
      DEPLOYMENT_PHASE: '3.5',
      CLUSTER_QUOTA_PODS: '400',
      CLUSTER_QUOTA_PVCS: '300',
      CLUSTER_QUOTA_CPU_MILLICORES: '2000000',
      CLUSTER_QUOTA_MEMORY_MIB: '4194304',
      CLUSTER_QUOTA_STORAGE_GIB: '40960',
    }).policy.limits.cluster;
    assert.deepEqual(raised, {
      maxCpuMillicores: 2_000_000,
      maxMemoryMiB: 4_194_304,
      maxStorageGiB: 40_960,
      maxSessions: 400, // below phase 3.5's 1,000
      maxVolumes: 300,
    });
    assert.throws(() => loadConfig({ ...base, CLUSTER_QUOTA_PODS: '-1' }), ConfigError);
  });

  it('reads per-user CPU and memory limits, defaulting to a quarter of a tenant’s', () => {
    const defaults = loadConfig({ DATA_DIR: '/tmp/x' }).policy.limits;
    assert.equal(defaults.maxCpuMillicoresPerUser, defaults.maxCpuMillicoresPerTenant / 4);
    assert.equal(defaults.maxMemoryMiBPerUser, defaults.maxMemoryMiBPerTenant / 4);
    const set = loadConfig({
      DATA_DIR: '/tmp/x',
      MAX_USER_CPU_MILLICORES: '4000',
      MAX_USER_MEMORY_MIB: '8192',
    }).policy.limits;
    assert.deepEqual([set.maxCpuMillicoresPerUser, set.maxMemoryMiBPerUser], [4000, 8192]);
    assert.throws(() => loadConfig({ DATA_DIR: '/tmp/x', MAX_USER_CPU_MILLICORES: '1.5' }), ConfigError);
  });
});
