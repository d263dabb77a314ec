import { resolve } from 'node:path';
import { ConfigError as BillingConfigError, integer } from '../env-vars.ts';
import {
  DEPLOYMENT_PHASES,
  isDeploymentPhase,
  type DeploymentPhase,
} from '../governance/deployment-phase.ts';
import { DEFAULT_TENANT_REGISTRY_PATH } from '../tenants/tenant-registry.ts';
import { DEFAULT_BILLING_POLICY, type BillingPolicy } from './billing-policy.ts';

export type WalletConfig =
  | {
      kind: 'embedded';
      /** Micro-NexCoin credited once to every new wallet (dev harness); 0 for none. */
      openingBalance: number;
    }
  | { kind: 'http'; url: string; token?: string; timeoutMs: number; retries: number };

/** Billing, tenant and phase governance, from the environment (documented in docs/billing.md). */
export interface BillingConfig {
  /** DEPLOYMENT_PHASE: 3.0, 3.5 or 4.0. */
  phase: DeploymentPhase;
  /** TENANT_REGISTRY: the tenant registry file. */
  tenantRegistryPath: string;
  wallet: WalletConfig;
  policy: BillingPolicy;
}

/** Kept as its own name for callers; the same error as every other configuration problem. */
export { ConfigError as BillingConfigError } from '../env-vars.ts';

function walletConfig(env: NodeJS.ProcessEnv): WalletConfig {
  const url = env.NEXCOIN_WALLET_URL;
  if (!url) {
    return {
      kind: 'embedded',
      openingBalance: integer(env, 'WALLET_OPENING_BALANCE_MICRO', 100_000_000, 0, Number.MAX_SAFE_INTEGER),
    };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BillingConfigError('NEXCOIN_WALLET_URL must be a URL');
  }
  if (!['http:', 'https:'].includes(parsed.protocol)) {
    throw new BillingConfigError('NEXCOIN_WALLET_URL must use http: or https:');
  }
  return {
    kind: 'http',
    url,
    ...(env.NEXCOIN_WALLET_TOKEN ? { token: env.NEXCOIN_WALLET_TOKEN } : {}),
    timeoutMs: integer(env, 'NEXCOIN_WALLET_TIMEOUT_MS', 5_000, 50, 120_000),
    retries: integer(env, 'NEXCOIN_WALLET_RETRIES', 4, 0, 20),
  };
}

export function loadBillingConfig(env: NodeJS.ProcessEnv): BillingConfig {
  const phase = env.DEPLOYMENT_PHASE || '3.0';
  if (!isDeploymentPhase(phase)) {
    throw new BillingConfigError(
      `DEPLOYMENT_PHASE must be one of ${DEPLOYMENT_PHASES.join(', ')}, got "${phase}"`,
    );
  }
  const periodMs =
    integer(env, 'BILLING_PERIOD_SECONDS', DEFAULT_BILLING_POLICY.periodMs / 1000, 1, 3600) * 1000;
  const d = DEFAULT_BILLING_POLICY;
  return {
    phase,
    tenantRegistryPath: env.TENANT_REGISTRY ? resolve(env.TENANT_REGISTRY) : DEFAULT_TENANT_REGISTRY_PATH,
    wallet: walletConfig(env),
    policy: {
      periodMs,
      settleDelayMs: integer(
        env,
        'BILLING_SETTLE_DELAY_MS',
        Math.min(d.settleDelayMs, periodMs / 4),
        0,
        600_000,
      ),
      reservePeriods: integer(env, 'BILLING_RESERVE_PERIODS', d.reservePeriods, 1, 1000),
      warnPeriods: integer(env, 'BILLING_WARN_PERIODS', d.warnPeriods, 1, 100_000),
      balanceTtlMs: integer(env, 'BILLING_BALANCE_TTL_MS', d.balanceTtlMs, 0, 3_600_000),
      cycleIntervalMs: integer(
        env,
        'BILLING_CYCLE_INTERVAL_MS',
        Math.min(d.cycleIntervalMs, periodMs / 2),
        50,
        3_600_000,
      ),
      reconciliationIntervalMs: integer(
        env,
        'RECONCILIATION_INTERVAL_MS',
        d.reconciliationIntervalMs,
        1_000,
        7 * 24 * 3_600_000,
      ),
    },
  };
}
