import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { loadConfig } from '../../../backend-adapter/config.ts';
import { startAdapter } from '../../../backend-adapter/start-adapter.ts';
import {
  CANONICAL_TENANT_COUNT,
  DEFAULT_TENANT_REGISTRY_PATH,
  TenantRegistry,
  TenantRegistryError,
  type TenantRegistryDocument,
} from '../../../backend-adapter/tenants/tenant-registry.ts';

const original = JSON.parse(readFileSync(DEFAULT_TENANT_REGISTRY_PATH, 'utf8')) as TenantRegistryDocument;
const copy = (): TenantRegistryDocument => structuredClone(original);

function invalid(mutate: (d: TenantRegistryDocument) => void, message: RegExp): void {
  const d = copy();
  mutate(d);
  assert.throws(
    () => TenantRegistry.fromDocument(d, 'test.json'),
    (e: unknown) => {
      assert.ok(e instanceof TenantRegistryError);
      assert.match(e.message, /the tenant registry test\.json is invalid/);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('tenant registry', () => {
  it('ships the 13 canonical tenants, valid against its own JSON Schema', () => {
    const schema = JSON.parse(
      readFileSync(DEFAULT_TENANT_REGISTRY_PATH.replace('tenants.json', 'tenants.schema.json'), 'utf8'),
    ) as Record<string, unknown>;
    const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
    assert.equal(validate(original), true, JSON.stringify(validate.errors));
    const registry = TenantRegistry.load();
    assert.equal(registry.tenants.filter((t) => t.canonical).length, CANONICAL_TENANT_COUNT);
    const founding = registry.tenants.filter((t) => t.founding).map((t) => t.id);
    assert.ok(founding.length >= 1 && founding.length < 13, founding.join());
    for (const check of [
      registry.checkTenantRegistry(),
      registry.checkValueDistribution(),
      registry.checkFoundingRights(),
    ]) {
      assert.equal(check.ok, true, check.evidence);
    }
  });

  it('gives a founding tenant every right and an unlisted tenant the defaults', () => {
    const registry = TenantRegistry.load();
    const puabo = registry.termsFor('puabo');
    assert.equal(puabo.founding, true);
    assert.ok(puabo.discountBasisPoints > 0);
    assert.equal(puabo.priorityAllocation, true);
    assert.equal(puabo.earlyAccess, true);
    assert.ok(puabo.configuration.supportContact);
    const stranger = registry.termsFor('tenant-a');
    assert.deepEqual(
      { ...stranger, limits: undefined, configuration: undefined },
      {
        tenantId: 'tenant-a',
        listed: false,
        name: 'tenant-a',
        canonical: false,
        founding: false,
        discountBasisPoints: 0,
        allocationPriority: 10,
        priorityAllocation: false,
        earlyAccess: false,
        limits: undefined,
        configuration: undefined,
      },
    );
  });

  it('refuses an invalid registry with every problem named', () => {
    invalid((d) => {
      delete (d as Partial<TenantRegistryDocument>).valueDistribution;
    }, /\(root\) must have required property 'valueDistribution'/);
    invalid((d) => {
      (d.tenants[0] as unknown as Record<string, unknown>).discountBasisPoints = 12_000;
    }, /\/tenants\/0\/discountBasisPoints must be <= 10000/);
    invalid((d) => {
      (d.tenants[1] as unknown as Record<string, unknown>).vip = true;
    }, /\/tenants\/1 must NOT have additional properties \("vip"\)/);
    invalid((d) => {
      (d.tenants[2] as unknown as Record<string, unknown>).founding = 'yes';
    }, /\/tenants\/2\/founding must be boolean/);
    invalid((d) => {
      d.tenants[3] = { ...d.tenants[3], id: 'puabo' } as (typeof d.tenants)[number];
    }, /\/tenants\/3\/id "puabo" is listed twice/);
    invalid((d) => {
      (d.valueDistribution.shares[0] as { basisPoints: number }).basisPoints = 7_000;
    }, /shares add up to 9000 basis points, not 10000/);
    invalid((d) => {
      d.valueDistribution.remainderTo = 'nobody';
    }, /remainderTo "nobody" is not one of the shares/);
    invalid((d) => {
      (d.valueDistribution.shares[0] as { account: string }).account = 'tenant:{userId}:pool';
    }, /unknown placeholder \{userId\}/);
    invalid((d) => {
      (d.tenants[0] as unknown as { configuration: { allowedTiers: string[] } }).configuration.allowedTiers =
        ['quantum'];
    }, /allowedTiers\/0 must be equal to one of the allowed values/);
  });

  it('reports (not refuses) a registry that is valid but incomplete: 12 canonical tenants, a founder without rights', () => {
    const d = copy();
    d.tenants = d.tenants.filter((t) => t.id !== 'civic-commons');
    const founder = d.tenants.find((t) => t.id === 'canon-archive');
    if (founder) founder.allocationPriority = 10;
    const registry = TenantRegistry.fromDocument(d, 'short.json');
    assert.equal(registry.checkTenantRegistry().ok, false);
    assert.match(registry.checkTenantRegistry().evidence, /12 canonical tenants \(13 expected\)/);
    assert.equal(registry.checkFoundingRights().ok, false);
    assert.match(registry.checkFoundingRights().evidence, /canon-archive is below the priority threshold/);
  });

  it('is loaded at start from TENANT_REGISTRY, and an invalid one stops the adapter with the reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vsc-registry-'));
    try {
      const bad = join(dir, 'tenants.json');
      const d = copy() as unknown as Record<string, unknown>;
      d.version = 2;
      await writeFile(bad, JSON.stringify(d));
      const config = loadConfig({ DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent', TENANT_REGISTRY: bad });
      assert.equal(config.billing.tenantRegistryPath, bad);
      await assert.rejects(
        startAdapter(config),
        /tenant registry .*tenants\.json is invalid[\s\S]*\/version must be equal to constant/,
      );
      await writeFile(bad, '{ not json');
      await assert.rejects(startAdapter(config), /is not JSON/);
      await assert.rejects(
        startAdapter(
          loadConfig({
            DATA_DIR: dir,
            PORT: '0',
            LOG_LEVEL: 'silent',
            TENANT_REGISTRY: join(dir, 'missing.json'),
          }),
        ),
        /cannot read the tenant registry/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
