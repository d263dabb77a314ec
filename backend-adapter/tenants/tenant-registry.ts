import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TierId } from '../../protocol/session.ts';
import { splitExactly, type DistributionShare } from '../wallet/wallet.ts';

export const DEFAULT_TENANT_REGISTRY_PATH = fileURLToPath(
  new URL('../../manifest/tenants/tenants.json', import.meta.url),
);
const SCHEMA_PATH = fileURLToPath(new URL('../../manifest/tenants/tenants.schema.json', import.meta.url));

/** How many canonical tenants N3XUS v-COS has (the spec's "Integration with 13 canonical tenants"). */
export const CANONICAL_TENANT_COUNT = 13;

export class TenantRegistryError extends Error {
  readonly code = 'TENANT_REGISTRY_INVALID';
}

export interface TenantLimits {
  maxLiveSessionsPerUser?: number;
  maxCpuMillicoresPerUser?: number;
  maxMemoryMiBPerUser?: number;
  maxLiveSessionsPerTenant?: number;
  maxCpuMillicoresPerTenant?: number;
  maxMemoryMiBPerTenant?: number;
}

export interface TenantConfiguration {
  defaultTier?: TierId;
  allowedTiers?: TierId[];
  supportContact?: string;
  region?: string;
  brandColor?: string;
}

export interface TenantEntry {
  id: string;
  name: string;
  description?: string;
  canonical: boolean;
  founding: boolean;
  discountBasisPoints: number;
  allocationPriority: number;
  earlyAccess?: boolean;
  limits?: TenantLimits;
  configuration?: TenantConfiguration;
}

export interface ValueShare {
  id: string;
  label: string;
  /** May contain `{tenantId}`. */
  account: string;
  basisPoints: number;
}

export interface TenantRegistryDocument {
  version: 1;
  handshake: '55-45-17';
  description?: string;
  valueDistribution: { model: '80/20'; shares: ValueShare[]; remainderTo: string };
  allocation: { reservedBasisPoints: number; priorityThreshold: number };
  defaults: {
    discountBasisPoints: number;
    allocationPriority: number;
    limits?: TenantLimits;
    configuration?: TenantConfiguration;
  };
  tenants: TenantEntry[];
}

/** What one tenant is entitled to, whether or not the registry lists it. */
export interface TenantTerms {
  tenantId: string;
  /** Listed in the registry (an unlisted tenant gets the defaults). */
  listed: boolean;
  name: string;
  canonical: boolean;
  founding: boolean;
  discountBasisPoints: number;
  allocationPriority: number;
  /** May take the capacity reserved for priority tenants. */
  priorityAllocation: boolean;
  /** May launch tiers marked earlyAccess. */
  earlyAccess: boolean;
  limits: TenantLimits;
  configuration: TenantConfiguration;
}

/** One governance check's outcome, for the handshake report's "17" group. */
export interface GovernanceCheck {
  ok: boolean;
  evidence: string;
}

let validator: ReturnType<Ajv['compile']> | undefined;
function validateSchema(document: unknown): string[] {
  if (!validator) {
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
    validator = new Ajv({ allErrors: true, strict: true }).compile(schema);
  }
  if (validator(document)) return [];
  return (validator.errors ?? []).map((e) => {
    const where = e.instancePath || '(root)';
    const extra =
      e.keyword === 'additionalProperties'
        ? ` ("${String((e.params as { additionalProperty?: string }).additionalProperty)}")`
        : e.keyword === 'enum'
          ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})`
          : '';
    return `${where} ${e.message ?? 'is invalid'}${extra}`;
  });
}

/** What JSON Schema cannot say: unique ids, shares that add up, a remainder that goes somewhere. */
function semanticErrors(doc: TenantRegistryDocument): string[] {
  const errors: string[] = [];
  const seen = new Set<string>();
  doc.tenants.forEach((t, i) => {
    if (seen.has(t.id)) errors.push(`/tenants/${i}/id "${t.id}" is listed twice`);
    seen.add(t.id);
  });
  const { shares, remainderTo } = doc.valueDistribution;
  const total = shares.reduce((a, s) => a + s.basisPoints, 0);
  if (total !== 10_000) errors.push(`/valueDistribution/shares add up to ${total} basis points, not 10000`);
  const shareIds = new Set<string>();
  shares.forEach((s, i) => {
    if (shareIds.has(s.id)) errors.push(`/valueDistribution/shares/${i}/id "${s.id}" is listed twice`);
    shareIds.add(s.id);
    const placeholders = s.account.match(/\{[^}]*\}/g) ?? [];
    for (const p of placeholders) {
      if (p !== '{tenantId}')
        errors.push(`/valueDistribution/shares/${i}/account has an unknown placeholder ${p}`);
    }
  });
  if (!shareIds.has(remainderTo)) {
    errors.push(`/valueDistribution/remainderTo "${remainderTo}" is not one of the shares`);
  }
  return errors;
}

/**
 * The tenant registry (manifest/tenants/tenants.json): the canonical tenants, which are founding, and what
 * that gives them — discounted rates, early access, priority allocation, dedicated support, custom
 * configuration — plus the 80/20 value distribution. Validated against its JSON Schema with ajv at load;
 * an invalid registry is refused with every problem listed, and the adapter does not start.
 */
export class TenantRegistry {
  private readonly byId: Map<string, TenantEntry>;

  private constructor(
    readonly document: TenantRegistryDocument,
    readonly source: string,
  ) {
    this.byId = new Map(document.tenants.map((t) => [t.id, t]));
  }

  static load(path: string = DEFAULT_TENANT_REGISTRY_PATH): TenantRegistry {
    let raw: string;
    try {
      raw = readFileSync(path, 'utf8');
    } catch (error) {
      throw new TenantRegistryError(
        `cannot read the tenant registry ${path}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new TenantRegistryError(
        `the tenant registry ${path} is not JSON: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return TenantRegistry.fromDocument(parsed, path);
  }

  static fromDocument(document: unknown, source = 'tenant registry'): TenantRegistry {
    const schemaErrors = validateSchema(document);
    const errors =
      schemaErrors.length > 0 ? schemaErrors : semanticErrors(document as TenantRegistryDocument);
    if (errors.length > 0) {
      throw new TenantRegistryError(
        `the tenant registry ${source} is invalid (manifest/tenants/tenants.schema.json):\n  - ${errors.join('\n  - ')}`,
      );
    }
    return new TenantRegistry(document as TenantRegistryDocument, source);
  }

  get tenants(): readonly TenantEntry[] {
    return this.document.tenants;
  }

  termsFor(tenantId: string): TenantTerms {
    const t = this.byId.get(tenantId);
    const d = this.document.defaults;
    const priority = t?.allocationPriority ?? d.allocationPriority;
    return {
      tenantId,
      listed: t !== undefined,
      name: t?.name ?? tenantId,
      canonical: t?.canonical ?? false,
      founding: t?.founding ?? false,
      discountBasisPoints: t?.discountBasisPoints ?? d.discountBasisPoints,
      allocationPriority: priority,
      priorityAllocation: priority >= this.document.allocation.priorityThreshold,
      earlyAccess: t ? (t.earlyAccess ?? t.founding) : false,
      limits: { ...d.limits, ...t?.limits },
      configuration: { ...d.configuration, ...t?.configuration },
    };
  }

  /**
   * Splits a charge by the configured shares (basis points): each share rounded down, the leftover
   * micro-NexCoin to `remainderTo`. The parts always sum to `amount`.
   */
  distribute(tenantId: string, amount: number): DistributionShare[] {
    const { shares, remainderTo } = this.document.valueDistribution;
    const parts = splitExactly(
      amount,
      shares.map((s) => s.basisPoints),
      shares.findIndex((s) => s.id === remainderTo),
    );
    return shares.map((s, i) => ({
      shareId: s.id,
      account: s.account.replaceAll('{tenantId}', tenantId),
      amount: parts[i] ?? 0,
    }));
  }

  /** "Integration with 13 canonical tenants". */
  checkTenantRegistry(): GovernanceCheck {
    const canonical = this.tenants.filter((t) => t.canonical);
    const founding = canonical.filter((t) => t.founding);
    return {
      ok: canonical.length === CANONICAL_TENANT_COUNT,
      evidence: `tenant registry ${this.source} loaded and schema-valid: ${canonical.length} canonical tenants (${CANONICAL_TENANT_COUNT} expected), ${founding.length} founding (${founding.map((t) => t.id).join(', ')})`,
    };
  }

  /** "80/20 value distribution model": two kinds of share, 8000 and 2000 basis points. */
  checkValueDistribution(): GovernanceCheck {
    const { shares, remainderTo } = this.document.valueDistribution;
    const points = shares.map((s) => s.basisPoints).sort((a, b) => b - a);
    const ok = points.length === 2 && points[0] === 8000 && points[1] === 2000;
    return {
      ok,
      evidence: `every charge is split as ledger entries: ${shares.map((s) => `${s.basisPoints / 100}% to ${s.account} (${s.id})`).join(', ')}; leftover micro-NexCoin to ${remainderTo}`,
    };
  }

  /** "Founding tenant rights respected": each founding tenant has every right, and each right is enforced. */
  checkFoundingRights(): GovernanceCheck {
    const founding = this.tenants.filter((t) => t.founding);
    const problems: string[] = [];
    for (const t of founding) {
      const terms = this.termsFor(t.id);
      if (terms.discountBasisPoints <= 0) problems.push(`${t.id} has no discount`);
      if (!terms.priorityAllocation) problems.push(`${t.id} is below the priority threshold`);
      if (!terms.earlyAccess) problems.push(`${t.id} has no early access`);
      if (!terms.configuration.supportContact) problems.push(`${t.id} has no dedicated support contact`);
    }
    const { reservedBasisPoints, priorityThreshold } = this.document.allocation;
    return {
      ok: founding.length > 0 && problems.length === 0,
      evidence:
        problems.length > 0
          ? `founding tenant rights incomplete: ${problems.join('; ')}`
          : `${founding.length} founding tenants: discounted rates (${founding.map((t) => `${t.id} −${t.discountBasisPoints / 100}%`).join(', ')}) applied to every charge; early access to earlyAccess tiers; priority allocation of the last ${reservedBasisPoints / 100}% of the session ceiling (priority ≥ ${priorityThreshold}); dedicated support contacts; custom limits and configuration`,
    };
  }
}
