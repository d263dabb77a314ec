import type { Logger } from 'pino';
import type { Session } from '../../protocol/session.ts';
import type { Analytics } from '../analytics/analytics.ts';
import { isFinished } from '../canon/canon-shared.ts';
import type { CanonRecord, CanonStore, SessionRow } from '../canon/canon-store.ts';
import type { TenantRegistry } from '../tenants/tenant-registry.ts';
import { findTier, type CatalogueTier } from '../tiers/tier-catalogue.ts';
import {
  IdempotencyConflictError,
  InsufficientFundsError,
  WalletUnavailableError,
  type DeductRequest,
  type Wallet,
  type WalletOwner,
  type WalletResult,
} from '../wallet/wallet.ts';
import {
  pricesAt,
  type BillingSessionRow,
  type BillingStore,
  type ChargeRow,
  type NewCharge,
  type PeriodBatch,
} from './billing-store.ts';
import type { BillingMetricsSink } from './billing-metrics.ts';
import type { BillingPolicy } from './billing-policy.ts';
import {
  chargeablePeriods,
  chargeKey,
  costOf,
  otherTiersIn,
  pricePeriods,
  pricesOf,
  startedPeriods,
  timelineOf,
  type BillingTerms,
  type OtherTierPrices,
  type PeriodPrices,
  type Timeline,
} from './pricing.ts';

export const BILLING_ACTOR = 'system:billing';

export interface MeteringDeps {
  canon: CanonStore;
  wallet: Wallet;
  store: BillingStore;
  registry: TenantRegistry;
  policy: BillingPolicy;
  logger: Logger;
  analytics?: Pick<Analytics, 'track'>;
  clock?: () => Date;
  findTier?: (id: string) => CatalogueTier | undefined;
}

/** What one metering cycle did. */
export interface CycleReport {
  at: string;
  /** Sessions looked at (open billing rows plus live sessions). */
  sessions: number;
  /** Sessions whose records were read because a period had closed. */
  metered: number;
  /** Charge rows written this cycle (a replica that wrote them first makes this 0). */
  periodsRecorded: number;
  /** Charges the wallet confirmed this cycle (including replays of charges applied before a crash). */
  charged: number;
  /** Charges declined for lack of funds (owed, retried next cycle). */
  declined: number;
  /** Charges whose wallet call failed (retried next cycle with the same key). */
  failed: number;
  /** Sessions whose metering ended (finished, every period charged). */
  closed: number;
  /** Sessions paused for low balance. */
  paused: string[];
  /** Owners warned of a low balance. */
  warned: string[];
  durationMs: number;
}

/** Who a session is and the tier it is admitted at (a billing row's own tier is a plain string). */
type MeteredSession = { sessionId: string; tenantId: string; userId: string; tier: string };

const ownerKey = (o: WalletOwner): string => `${o.tenantId}/${o.userId}`;
/** Billing rows written per transaction. */
const WRITE_BATCH = 250;
/** How long sessions that ended are gathered before their final metering runs together. */
const FINISHED_BATCH_MS = 25;
/** Registrations kept for pricing terminations (Metering.registered): far more than live sessions. */
const REGISTERED_MAX = 100_000;
/** Owners whose charges are asked of the wallet at the same time. */
const SETTLE_LANES = 8;
/** Deductions per deductMany call (distinct owners: a statement of a few hundred rows at most). */
const DEDUCT_BATCH = 200;
/** Registered but never created (refused by the quota check after admission): closed after this long. */
const ORPHAN_AFTER_MS = 10 * 60_000;
/** How long a session's records and billing row are reused for its cost so far without a change event. */
const CACHE_MS = 60_000;

/** How settle asks the wallet for one charge and takes its answer (askTogether, askInLanes). */
interface SettleHandlers {
  requestOf(c: ChargeRow): DeductRequest;
  /** The wallet confirmed `c`, `seconds` after it was asked. */
  settled(c: ChargeRow, result: WalletResult, seconds: number): Promise<void>;
  /** The wallet refused `c`; 'stop' when it is down. */
  refused(c: ChargeRow, error: unknown, seconds: number): Promise<'stop' | undefined>;
}

/** A session's billing timeline as its Canon records say, and the last cost priced from it. */
interface CachedTimeline {
  timeline: Timeline;
  at: number;
  cost?: { billing: BillingSessionRow; periods: number; value: number };
}

/**
 * Metering: every live session billed up to now, period by period, exactly once.
 *
 * A cycle (every `cycleIntervalMs`, on every replica) meters each open session: reads its Canon records
 * when a period has closed since its cursor, writes one pending charge row per newly closed billable period
 * (unique per session and period), then settles every unsettled charge with the wallet under the period's
 * idempotency key. Whatever crashes or runs twice, the database refuses a second row and the wallet a
 * second charge for the same key. Finished sessions get their last periods charged (every started one) and
 * are closed. Finally each user's balance is compared with what their Active sessions cost per period:
 * below `warnPeriods` a warning, below `reservePeriods` (or any declined charge) their sessions are paused.
 */
export class Metering {
  private readonly clock: () => Date;
  private readonly tierOf: (id: string) => CatalogueTier | undefined;
  private readonly balances = new Map<string, { balance: number; at: number }>();
  private readonly warned = new Set<string>();
  private readonly listedTenants: ReadonlySet<string>;
  private running: Promise<CycleReport> | undefined;
  /** Pauses a session as `system:billing`; set by whoever owns the lifecycle. */
  pause: ((sessionId: string) => Promise<unknown>) | undefined;
  /** Where low-balance warnings and billing pauses are reported (v-analytics). */
  analytics: Pick<Analytics, 'track'> | undefined;
  /** Where charges, failures and low-balance actions are counted (Prometheus). */
  metrics: BillingMetricsSink | undefined;
  lastCycle: CycleReport | undefined;

  constructor(private readonly deps: MeteringDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.tierOf = deps.findTier ?? findTier;
    this.analytics = deps.analytics;
    this.listedTenants = new Set(deps.registry.tenants.map((t) => t.id));
  }

  /** Settles once the cycle under way and every final metering, including those still gathering, are done. */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
    if (this.finishing.size > 0) void this.flushFinished();
    await Promise.all(this.finals);
  }

  get policy(): BillingPolicy {
    return this.deps.policy;
  }

  /** The terms a new session of `tierId` launched by `tenantId` gets today. */
  termsFor(tierId: string, tenantId: string): BillingTerms {
    const tier = this.tierOf(tierId);
    if (!tier) throw new Error(`no tier ${tierId} to price`);
    return {
      tier: tier.id,
      activeMicroPerHour: tier.microNexCoinPerHour,
      storageMicroPerHour: tier.storageMicroNexCoinPerHour,
      discountBasisPoints: this.deps.registry.termsFor(tenantId).discountBasisPoints,
      periodMs: this.deps.policy.periodMs,
    };
  }

  /** Registers a session for metering with today's terms (kept if it was registered before). */
  register(session: MeteredSession): Promise<BillingSessionRow> {
    const { terms, prices, at } = this.registrationFor(session.tier, session.tenantId);
    return this.deps.store.register(session, terms, prices, at);
  }

  /** Today's terms and prices for a new session, and the time it is registered at (metering's clock). */
  registrationFor(tierId: string, tenantId: string): { terms: BillingTerms; prices: PeriodPrices; at: Date } {
    const terms = this.termsFor(tierId, tenantId);
    return { terms, prices: pricesOf(terms), at: this.clock() };
  }

  private async billingRow(session: Session): Promise<BillingSessionRow> {
    return (await this.deps.store.get(session.sessionId)) ?? this.register(session);
  }

  /**
   * Rows this replica registered at a launch's hold, as registered, until the session ends. Their terms and
   * prices never change (a tier change adds rates beside them, which withTiersOf reads when a timeline uses
   * them), so pricing a termination needs no read of the row: one statement less per session.
   */
  private readonly registered = new Map<string, BillingSessionRow>();

  /** The hold registered `session` with `registration` (GovernanceGate). */
  rememberRegistration(
    session: { sessionId: string; tenantId: string; userId: string },
    registration: { terms: BillingTerms; prices: PeriodPrices; at: Date },
  ): void {
    // A bound against events this replica never hears (a bus outage): the oldest entries go first.
    if (this.registered.size >= REGISTERED_MAX) {
      const oldest = this.registered.keys().next().value;
      if (oldest !== undefined) this.registered.delete(oldest);
    }
    this.registered.set(session.sessionId, {
      sessionId: session.sessionId,
      tenantId: session.tenantId,
      userId: session.userId,
      terms: registration.terms,
      prices: registration.prices,
      startMs: null,
      chargedThrough: 0,
      registeredAt: registration.at.toISOString(),
      closedAt: null,
      finalCost: null,
      tierTerms: {},
    });
  }

  /** The session ended (its final change event): its registration is not needed any more. */
  forgetRegistration(sessionId: string): void {
    this.registered.delete(sessionId);
  }

  /**
   * A session's prices at `tier` if this replica registered it at that tier (prices never change), else
   * undefined: the caller reads the row (another replica's launch, or a tier changed to).
   */
  registeredPrices(sessionId: string, tier: string): PeriodPrices | undefined {
    const row = this.registered.get(sessionId);
    return row && row.terms.tier === tier ? row.prices : undefined;
  }

  /** The row to price the session by: terms, prices and the rates of other tiers it knows. */
  private pricingRow(session: Session): BillingSessionRow | Promise<BillingSessionRow> {
    return this.registered.get(session.sessionId) ?? this.billingRow(session);
  }

  /**
   * Fixes the rates of `tierId` for a session changing to it (at the session's discount and period, the
   * tier's rates today); rates recorded before for that tier stay. Returns the session's billing row.
   */
  async addTier(session: MeteredSession, tierId: string): Promise<BillingSessionRow> {
    const billing = (await this.deps.store.get(session.sessionId)) ?? (await this.register(session));
    if (pricesAt(billing, tierId)) return billing;
    const today = this.termsFor(tierId, billing.tenantId);
    const terms = {
      ...today,
      discountBasisPoints: billing.terms.discountBasisPoints,
      periodMs: billing.terms.periodMs,
    };
    return (
      (await this.deps.store.addTier(billing.sessionId, tierId, {
        activeMicroPerHour: terms.activeMicroPerHour,
        storageMicroPerHour: terms.storageMicroPerHour,
        prices: pricesOf(terms),
      })) ?? billing
    );
  }

  /** The session's billing row with rates for every tier its timeline uses (recorded now if missing). */
  private async withTiersOf(billing: BillingSessionRow, timeline: Timeline): Promise<BillingSessionRow> {
    let row = billing;
    for (const tier of otherTiersIn(timeline, row.terms.tier)) {
      if (pricesAt(row, tier)) continue;
      // A change recorded without its rates (e.g. by a replica that died in between): today's rates.
      row = await this.addTier(
        { sessionId: row.sessionId, tenantId: row.tenantId, userId: row.userId, tier: row.terms.tier },
        tier,
      );
    }
    return row;
  }

  /** The prices of the other tiers a billing row knows; unknown ones at today's rates (for estimates). */
  private othersOf(billing: BillingSessionRow): OtherTierPrices {
    return (tier) => pricesAt(billing, tier) ?? this.safePrices(tier, billing);
  }

  private safePrices(tier: string, billing: BillingSessionRow) {
    try {
      return pricesOf({
        ...this.termsFor(tier, billing.tenantId),
        discountBasisPoints: billing.terms.discountBasisPoints,
        periodMs: billing.terms.periodMs,
      });
    } catch {
      return undefined;
    }
  }

  /**
   * The SuperCoreUsage cost: every started period of the records, at the session's terms (the registration
   * this replica kept, or the row, read while the records are still on their way).
   */
  async usageCost(
    row: SessionRow,
    records: readonly CanonRecord[] | Promise<readonly CanonRecord[]>,
    end: Date,
  ): Promise<number> {
    const [read, terms] = await Promise.all([records, this.pricingRow(row.session)]);
    const timeline = timelineOf(read);
    const billing = await this.withTiersOf(terms, timeline);
    return costOf(timeline, billing.terms, end.getTime(), (tier) => pricesAt(billing, tier));
  }

  /** Sessions that ended, waiting for their final metering together (meterWhenFinished). */
  private readonly finishing = new Map<string, Session>();
  private finishingTimer: NodeJS.Timeout | undefined;
  private readonly finals = new Set<Promise<void>>();

  /**
   * A session's records and billing row change only with its state (a change event on every replica:
   * forgetRecords) or, for a finished session, when metering closes it with its final cost. Listing sessions
   * therefore reuses both until such an event or a minute passes — a session list is then one query (the
   * sessions), not one more per list or per session. Concurrent misses share one read; a read that a change
   * overtook is returned to its caller but not kept.
   */
  private readonly recordCache = new Map<string, CachedTimeline>();
  private readonly recordReads = new Map<string, Promise<CachedTimeline>>();
  private readonly billingCache = new Map<string, { row: BillingSessionRow; at: number }>();
  private readonly billingReads = new Map<string, object>();

  /** A session's timeline, from memory when it is there (no promise to wait for: most lists hit it). */
  private cachedTimeline(sessionId: string, now: number): CachedTimeline | Promise<CachedTimeline> {
    const cached = this.recordCache.get(sessionId);
    if (cached && now - cached.at < CACHE_MS) return cached;
    const pending = this.recordReads.get(sessionId);
    if (pending) return pending;
    const read = this.deps.canon.listRecords(sessionId).then(
      (records): CachedTimeline => {
        // Read once per change rather than on every list: the timeline is all the cost needs of the records.
        const entry: CachedTimeline = { timeline: timelineOf(records), at: now };
        if (this.recordReads.get(sessionId) === read) {
          this.recordReads.delete(sessionId);
          this.recordCache.set(sessionId, entry);
        }
        return entry;
      },
      (error: unknown) => {
        if (this.recordReads.get(sessionId) === read) this.recordReads.delete(sessionId);
        throw error;
      },
    );
    this.recordReads.set(sessionId, read);
    return read;
  }

  /**
   * The billing rows of these sessions, cached as their records are. A finished session's row is read again
   * until it carries its final cost (metering closes it without a change event).
   */
  private async billingRowsOf(
    sessions: readonly Session[],
    now: number,
  ): Promise<Map<string, BillingSessionRow>> {
    const out = new Map<string, BillingSessionRow>();
    const missing: string[] = [];
    for (const s of sessions) {
      const cached = this.billingCache.get(s.sessionId);
      const settled = cached && (cached.row.finalCost !== null || !isFinished(s.state));
      if (cached && settled && now - cached.at < CACHE_MS) out.set(s.sessionId, cached.row);
      else missing.push(s.sessionId);
    }
    if (missing.length === 0) return out;
    const token = {};
    for (const id of missing) this.billingReads.set(id, token);
    try {
      const rows = await this.deps.store.getMany(missing);
      for (const [id, row] of rows) {
        out.set(id, row);
        if (this.billingReads.get(id) === token) this.billingCache.set(id, { row, at: now });
      }
    } finally {
      for (const id of missing) if (this.billingReads.get(id) === token) this.billingReads.delete(id);
    }
    return out;
  }

  forgetRecords(sessionId: string): void {
    this.recordCache.delete(sessionId);
    this.recordReads.delete(sessionId);
    this.billingCache.delete(sessionId);
    this.billingReads.delete(sessionId);
  }

  /** The sessions with `costSoFarMicroNexCoin` filled in (every started period up to now). */
  async withCosts(sessions: readonly Session[]): Promise<Session[]> {
    const now = this.clock().getTime();
    const rows = await this.billingRowsOf(sessions, now);
    return Promise.all(sessions.map((s) => this.withCost(s, rows.get(s.sessionId), now)));
  }

  private withCost(
    s: Session,
    billing: BillingSessionRow | undefined,
    now: number,
  ): Session | Promise<Session> {
    if (billing?.finalCost !== null && billing?.finalCost !== undefined) {
      return { ...s, costSoFarMicroNexCoin: billing.finalCost };
    }
    const terms = billing?.terms ?? this.safeTerms(s);
    if (!terms) return s;
    const cost = (entry: CachedTimeline): Session => {
      try {
        return { ...s, costSoFarMicroNexCoin: this.costSoFar(entry, terms, billing, now) };
      } catch {
        return s; // a tier the catalogue no longer has: no estimate rather than a wrong one
      }
    };
    const entry = this.cachedTimeline(s.sessionId, now);
    return entry instanceof Promise ? entry.then(cost) : cost(entry);
  }

  /**
   * The cost changes only when another period starts (or the timeline or billing row is replaced), so a
   * list asked for again and again prices a long-running session's periods once per period, not per call.
   */
  private costSoFar(
    entry: CachedTimeline,
    terms: BillingTerms,
    billing: BillingSessionRow | undefined,
    now: number,
  ): number {
    const periods = startedPeriods(entry.timeline, terms.periodMs, now);
    const last = entry.cost;
    if (billing && last && last.billing === billing && last.periods === periods) return last.value;
    const value = costOf(entry.timeline, terms, now, billing ? this.othersOf(billing) : undefined);
    if (billing) entry.cost = { billing, periods, value };
    return value;
  }

  private safeTerms(s: Session): BillingTerms | undefined {
    try {
      return this.termsFor(s.tier, s.tenantId);
    } catch {
      return undefined;
    }
  }

  /** One cycle; a cycle already running on this replica is joined rather than doubled. */
  runCycle(): Promise<CycleReport> {
    this.running ??= this.cycle().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private emptyReport(now: Date): CycleReport {
    return {
      at: now.toISOString(),
      sessions: 0,
      metered: 0,
      periodsRecorded: 0,
      charged: 0,
      declined: 0,
      failed: 0,
      closed: 0,
      paused: [],
      warned: [],
      durationMs: 0,
    };
  }

  private async cycle(): Promise<CycleReport> {
    const started = performance.now();
    const now = this.clock();
    const report = this.emptyReport(now);
    const live = await this.deps.canon.listUnfinished();
    const liveById = new Map(live.map((r) => [r.session.sessionId, r]));
    const open = await this.deps.store.listOpen();
    const seen = new Set(open.map((b) => b.sessionId));
    // Live sessions billing has not seen (launched before billing was on, or registered elsewhere).
    const unseen = live.filter((r) => !seen.has(r.session.sessionId) && this.safeTerms(r.session));
    const registered = [...open];
    for (let i = 0; i < unseen.length; i += WRITE_BATCH) {
      const added = await this.deps.store.registerMany(
        unseen.slice(i, i + WRITE_BATCH).map((r) => {
          const terms = this.termsFor(r.session.tier, r.session.tenantId);
          return { session: r.session, terms, prices: pricesOf(terms) };
        }),
        now,
      );
      registered.push(...added.values());
    }
    report.sessions = registered.length;
    // Every session's newly closed periods, written in a few transactions rather than one per session.
    let batches: PeriodBatch[] = [];
    for (const billing of registered) {
      const row = liveById.get(billing.sessionId) ?? (await this.deps.canon.getSession(billing.sessionId));
      const batch = await this.plan(billing, row?.session, now, report);
      if (batch) batches.push(batch);
      if (batches.length >= WRITE_BATCH) {
        report.periodsRecorded += await this.deps.store.recordMany(batches, now);
        batches = [];
      }
    }
    report.periodsRecorded += await this.deps.store.recordMany(batches, now);
    const { declined: declinedOwners } = await this.settle(await this.deps.store.listUnsettled(), report);
    await this.closeFinished(open, liveById, now, report);
    await this.checkBalances(live, new Map(registered.map((b) => [b.sessionId, b])), declinedOwners, report);
    report.durationMs = performance.now() - started;
    this.lastCycle = report;
    if (report.periodsRecorded + report.declined + report.failed + report.paused.length > 0) {
      this.deps.logger.info(
        { ...report, paused: report.paused.length, warned: report.warned.length },
        'metering cycle',
      );
    }
    return report;
  }

  /**
   * Meters and settles one session now (after it terminated, so its final periods are charged at once), and
   * closes its metering when every period is charged. `finished` is the session as its final change event
   * carried it (a finished session changes no more), saving a read.
   */
  async meterSession(sessionId: string, finished?: Session): Promise<void> {
    const session = finished ?? (await this.deps.canon.getSession(sessionId))?.session;
    if (session) await this.meterFinished([session]);
  }

  /**
   * Sessions that just ended, metered together in a moment (FINISHED_BATCH_MS): their final periods in one
   * write, their confirmations and closes in one commit, instead of three transactions each. The wallet is
   * still asked once per charge.
   */
  meterWhenFinished(session: Session): void {
    this.finishing.set(session.sessionId, session);
    if (this.finishing.size >= WRITE_BATCH) void this.flushFinished();
    else this.finishingTimer ??= setTimeout(() => void this.flushFinished(), FINISHED_BATCH_MS);
  }

  /** Meters what meterWhenFinished has gathered now (at once; also before closing); settles when it is done. */
  private flushFinished(): Promise<void> {
    clearTimeout(this.finishingTimer);
    this.finishingTimer = undefined;
    const sessions = [...this.finishing.values()];
    this.finishing.clear();
    const done: Promise<void> = this.meterFinished(sessions)
      .catch((err: unknown) => {
        // Not lost: every metering cycle meters open sessions, finished ones included, and closes them.
        this.deps.logger.warn({ sessions: sessions.map((s) => s.sessionId), err }, 'final metering deferred');
      })
      .finally(() => this.finals.delete(done));
    this.finals.add(done);
    return done;
  }

  private async meterFinished(sessions: readonly Session[]): Promise<void> {
    if (sessions.length === 0) return;
    const now = this.clock();
    const report = this.emptyReport(now);
    const ids = sessions.map((s) => s.sessionId);
    // A finished session's records are always read to plan its final periods: all of them in one read.
    const [known, records] = await Promise.all([
      this.deps.store.getMany(ids),
      this.deps.canon.listSessionRecords(ids),
    ]);
    const planned: Array<{
      session: Session;
      billing: BillingSessionRow;
      batch: PeriodBatch | undefined;
      read: { timeline?: Timeline };
    }> = [];
    for (const session of sessions) {
      const billing = known.get(session.sessionId) ?? (await this.register(session));
      const read: { timeline?: Timeline } = {};
      const batch = await this.plan(
        billing,
        session,
        now,
        report,
        read,
        records.get(session.sessionId) ?? [],
      );
      planned.push({ session, billing, batch, read });
    }
    const batches = planned.flatMap((p) => (p.batch ? [p.batch] : []));
    if (batches.length > 0) report.periodsRecorded += await this.deps.store.recordMany(batches, now);
    const unsettled: ChargeRow[] = [];
    const closable = new Map<string, { finalCost: number; unsettled: number }>();
    const chargesOf = await this.deps.store.chargesOfMany(planned.map((p) => p.session.sessionId));
    for (const { session, billing, batch, read } of planned) {
      const charges = chargesOf.get(session.sessionId) ?? [];
      const open = charges.filter((c) => c.status !== 'charged');
      unsettled.push(...open);
      // Everything closing checks was just read or written here: once the wallet confirms the last charges,
      // metering ends in the same commit that records them, rather than after reading it all again.
      const chargedThrough = Math.max(batch?.chargedThrough ?? 0, billing.chargedThrough);
      if (
        isFinished(session.state) &&
        read.timeline !== undefined &&
        chargedThrough >= chargeablePeriods(read.timeline, billing.terms.periodMs, Infinity)
      ) {
        closable.set(session.sessionId, {
          finalCost: charges.reduce((a, c) => a + c.amount, 0),
          unsettled: open.length,
        });
      }
    }
    const { closed } = await this.settle(unsettled, report, closable);
    report.closed += closed.size;
    const rest = planned.filter((p) => !closed.has(p.session.sessionId)).map((p) => p.billing);
    if (rest.length > 0) await this.closeFinished(rest, new Map(), now, report);
  }

  /** The charge rows of the periods that closed since the session's cursor (undefined: nothing to write). */
  private async plan(
    billing: BillingSessionRow,
    session: Session | undefined,
    now: Date,
    report: CycleReport,
    read: { timeline?: Timeline } = {},
    records?: readonly CanonRecord[],
  ): Promise<PeriodBatch | undefined> {
    if (!session) return undefined;
    const finished = isFinished(session.state);
    const { periodMs } = billing.terms;
    const settled = now.getTime() - this.deps.policy.settleDelayMs;
    // The common case: a live session with no period closed since the last cycle; nothing is read.
    if (
      !finished &&
      billing.startMs !== null &&
      Math.floor((settled - billing.startMs) / periodMs) <= billing.chargedThrough
    ) {
      return undefined;
    }
    report.metered++;
    const timeline = timelineOf(records ?? (await this.deps.canon.listRecords(billing.sessionId)));
    read.timeline = timeline;
    if (timeline.startMs === undefined) return undefined;
    const through = chargeablePeriods(timeline, periodMs, settled);
    if (through <= billing.chargedThrough && billing.startMs !== null) return undefined;
    const priced = await this.withTiersOf(billing, timeline);
    const periods = pricePeriods(timeline, priced.terms, billing.chargedThrough, through, (tier) =>
      pricesAt(priced, tier),
    );
    const charges: NewCharge[] = [];
    periods.forEach((p, i) => {
      if (!p || p.amount <= 0) return;
      const { kind, amount } = p;
      const period = billing.chargedThrough + i;
      charges.push({
        sessionId: billing.sessionId,
        period,
        idempotencyKey: chargeKey(billing.sessionId, period),
        tenantId: billing.tenantId,
        userId: billing.userId,
        tier: p.tier,
        kind,
        amount,
        periodStart: new Date((timeline.startMs as number) + period * periodMs).toISOString(),
        distribution: this.deps.registry.distribute(billing.tenantId, amount),
      });
    });
    return {
      sessionId: billing.sessionId,
      startMs: timeline.startMs,
      charges,
      chargedThrough: Math.max(through, billing.chargedThrough),
    };
  }

  /**
   * Asks the wallet for every unsettled charge; tells the owners whose charges were declined. Sessions in
   * `closable` (with their final cost and how many charges they had unsettled) end their metering with the last
   * batch of confirmations if every one of their charges was confirmed (`closed`).
   */
  private async settle(
    charges: readonly ChargeRow[],
    report: CycleReport,
    closable: ReadonlyMap<string, { finalCost: number; unsettled: number }> = new Map(),
  ): Promise<{ declined: Set<string>; closed: Set<string> }> {
    const declined = new Set<string>();
    const closed = new Set<string>();
    const confirmedOf = new Map<string, number>();
    // Confirmed charges are marked in batches: one lost to a crash is asked again and answered as a replay.
    let confirmed: Array<{ sessionId: string; period: number; walletTransactionId: string }> = [];
    const flush = async (last = false): Promise<void> => {
      const closing = last
        ? [...closable]
            .filter(([id, c]) => (confirmedOf.get(id) ?? 0) === c.unsettled)
            .map(([sessionId, c]) => ({ sessionId, finalCost: c.finalCost }))
        : [];
      // Taken before the write: other owners' charges go on being confirmed meanwhile.
      const batch = confirmed;
      confirmed = [];
      // A session's first charge also converts its Genesis hold (same transaction): from then on the balance
      // checks count it as running.
      await this.deps.store.markChargedMany(batch, this.clock(), closing);
      for (const c of closing) closed.add(c.sessionId);
    };
    const metrics = this.metrics;
    const requestOf = (c: ChargeRow): DeductRequest => ({
      owner: { tenantId: c.tenantId, userId: c.userId },
      amount: c.amount,
      idempotencyKey: c.idempotencyKey,
      description: `v-SuperCore ${c.tier} - ${Math.round((this.deps.policy.periodMs / 60_000) * 100) / 100} min ${c.kind} (session ${c.sessionId}, period ${c.period + 1})`,
      category: 'compute',
      module: 'v-supercore',
      distribution: c.distribution,
      metadata: {
        sessionId: c.sessionId,
        period: String(c.period),
        kind: c.kind,
        periodStart: c.periodStart,
      },
    });
    /** The wallet confirmed `c` (`seconds` after it was asked). */
    const settled = async (c: ChargeRow, result: WalletResult, seconds: number): Promise<void> => {
      metrics?.ledgerWrite(seconds);
      metrics?.charged({
        tier: c.tier,
        tenant: this.tenantLabel(c.tenantId),
        amount: c.amount,
        replayed: result.replayed,
      });
      confirmed.push({
        sessionId: c.sessionId,
        period: c.period,
        walletTransactionId: result.entry.transactionId,
      });
      confirmedOf.set(c.sessionId, (confirmedOf.get(c.sessionId) ?? 0) + 1);
      if (confirmed.length >= WRITE_BATCH) await flush();
      this.balances.set(ownerKey(c), { balance: result.balanceAfter, at: this.clock().getTime() });
      report.charged++;
    };
    /** The wallet refused `c`; 'stop' when it is down. */
    const refused = async (c: ChargeRow, error: unknown, seconds: number): Promise<'stop' | undefined> => {
      metrics?.ledgerWrite(seconds);
      metrics?.chargeFailed(
        error instanceof InsufficientFundsError
          ? 'declined'
          : error instanceof WalletUnavailableError
            ? 'wallet_unavailable'
            : error instanceof IdempotencyConflictError
              ? 'key_conflict'
              : 'error',
      );
      const reason = error instanceof Error ? error.message : String(error);
      if (error instanceof InsufficientFundsError) {
        await this.deps.store.markDeclined(c.sessionId, c.period, reason);
        this.balances.set(ownerKey(c), { balance: error.balance, at: this.clock().getTime() });
        declined.add(ownerKey(c));
        report.declined++;
        return undefined;
      }
      await this.deps.store.markAttemptFailed(c.sessionId, c.period, reason);
      report.failed++;
      if (error instanceof IdempotencyConflictError) {
        this.deps.logger.error(
          { sessionId: c.sessionId, period: c.period, err: error },
          'charge key conflict',
        );
        return undefined;
      }
      this.deps.logger.warn(
        { sessionId: c.sessionId, period: c.period, err: error },
        'charge not settled; retried next cycle',
      );
      // The wallet is down: stop hammering it; everything stays pending for the next cycle.
      return error instanceof WalletUnavailableError ? 'stop' : undefined;
    };
    // Each owner's charges in order (their balance decides them one after the other), owners side by side.
    const owners = new Map<string, ChargeRow[]>();
    for (const c of charges) {
      const key = ownerKey(c);
      const list = owners.get(key) ?? [];
      list.push(c);
      owners.set(key, list);
    }
    const asked: SettleHandlers = { requestOf, settled, refused };
    const { wallet } = this.deps;
    if (wallet.deductMany) await this.askTogether(wallet.deductMany.bind(wallet), owners, asked);
    else await this.askInLanes(owners, asked);
    await flush(true);
    return { declined, closed };
  }

  /**
   * A wallet that takes many deductions at once (the embedded ledger): every owner's next charge together,
   * round after round, so one owner's charges are decided in order. Stops at a wallet that is down.
   */
  private async askTogether(
    deductMany: NonNullable<Wallet['deductMany']>,
    owners: ReadonlyMap<string, ChargeRow[]>,
    on: SettleHandlers,
  ): Promise<void> {
    const queues = [...owners.values()];
    for (let round = 0; ; round++) {
      const due = queues.flatMap((q) => q.slice(round, round + 1));
      if (due.length === 0) return;
      for (let i = 0; i < due.length; i += DEDUCT_BATCH) {
        const batch = due.slice(i, i + DEDUCT_BATCH);
        const began = performance.now();
        const results = await deductMany(batch.map(on.requestOf));
        const seconds = (performance.now() - began) / 1000;
        let stop = false;
        for (const [j, c] of batch.entries()) {
          const r = results[j];
          if (r === undefined || r instanceof Error)
            stop = (await on.refused(c, r, seconds)) === 'stop' || stop;
          else await on.settled(c, r, seconds);
        }
        if (stop) return;
      }
    }
  }

  /**
   * A wallet asked one deduction at a time (the HTTP one): owners side by side in lanes, each owner's charges
   * in order, so one owner's slow call holds back nobody else's. Stops at a wallet that is down.
   */
  private async askInLanes(owners: ReadonlyMap<string, ChargeRow[]>, on: SettleHandlers): Promise<void> {
    const { wallet } = this.deps;
    const settleOne = async (c: ChargeRow): Promise<'stop' | undefined> => {
      const began = performance.now();
      try {
        await on.settled(c, await wallet.deduct(on.requestOf(c)), (performance.now() - began) / 1000);
        return undefined;
      } catch (error) {
        return on.refused(c, error, (performance.now() - began) / 1000);
      }
    };
    const queue = [...owners.values()];
    let stopped = false;
    const lane = async (): Promise<void> => {
      for (let next = queue.shift(); next && !stopped; next = queue.shift()) {
        for (const c of next) {
          if (stopped) return;
          if ((await settleOne(c)) === 'stop') stopped = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SETTLE_LANES, queue.length) }, lane));
  }

  /** Ends metering of finished sessions whose every period is charged. */
  private async closeFinished(
    open: readonly BillingSessionRow[],
    live: ReadonlyMap<string, SessionRow>,
    now: Date,
    report: CycleReport,
  ): Promise<void> {
    for (const billing of open) {
      if (live.has(billing.sessionId)) continue;
      const row = await this.deps.canon.getSession(billing.sessionId);
      if (!row) {
        if (now.getTime() - Date.parse(billing.registeredAt) > ORPHAN_AFTER_MS) {
          await this.deps.store.close(billing.sessionId, 0, now);
          report.closed++;
        }
        continue;
      }
      if (!isFinished(row.session.state)) continue;
      const charges = await this.deps.store.chargesOf(billing.sessionId);
      if (charges.some((c) => c.status !== 'charged')) continue;
      const current = await this.deps.store.get(billing.sessionId);
      const timeline = timelineOf(await this.deps.canon.listRecords(billing.sessionId));
      if (current && current.chargedThrough < chargeablePeriods(timeline, billing.terms.periodMs, Infinity))
        continue;
      await this.deps.store.close(
        billing.sessionId,
        charges.reduce((a, c) => a + c.amount, 0),
        now,
      );
      report.closed++;
    }
  }

  private async balanceOf(owner: WalletOwner): Promise<number> {
    const known = this.balances.get(ownerKey(owner));
    const now = this.clock().getTime();
    if (known && now - known.at < this.deps.policy.balanceTtlMs) return known.balance;
    const balance = await this.deps.wallet.balance(owner);
    this.balances.set(ownerKey(owner), { balance, at: now });
    return balance;
  }

  /** Warns, then pauses, users whose balance does not cover their Active sessions. */
  private async checkBalances(
    live: readonly SessionRow[],
    rows: ReadonlyMap<string, BillingSessionRow>,
    declinedOwners: ReadonlySet<string>,
    report: CycleReport,
  ): Promise<void> {
    const running = live.filter((r) => r.session.state === 'active' || r.session.state === 'resuming');
    if (running.length === 0) return;
    const byOwner = new Map<string, { owner: WalletOwner; sessions: string[]; need: number }>();
    for (const r of running) {
      const key = ownerKey(r.session);
      const billing = rows.get(r.session.sessionId);
      const price = (billing && pricesAt(billing, r.session.tier)?.active) ?? this.safePrice(r.session);
      const entry = byOwner.get(key) ?? {
        owner: { tenantId: r.session.tenantId, userId: r.session.userId },
        sessions: [],
        need: 0,
      };
      entry.sessions.push(r.session.sessionId);
      entry.need += price;
      byOwner.set(key, entry);
    }
    const { reservePeriods, warnPeriods } = this.deps.policy;
    const owed = await this.deps.store.outstandingByOwner();
    for (const [key, { owner, sessions, need }] of byOwner) {
      if (need <= 0) continue;
      let balance: number;
      try {
        balance = (await this.balanceOf(owner)) - (owed.get(key) ?? 0);
      } catch (error) {
        // A wallet outage is not a low balance: nobody is paused for it (charges stay pending).
        this.deps.logger.warn({ owner, err: error }, 'balance check skipped: wallet unavailable');
        continue;
      }
      if (declinedOwners.has(key) || balance < reservePeriods * need) {
        this.deps.logger.warn(
          { ...owner, balance, needPerPeriod: need, sessions },
          'NexCoin balance too low: pausing the user’s active sessions',
        );
        this.track(owner, 'supercore.billing.paused', { balance, needPerPeriod: need, sessions });
        for (const sessionId of sessions) {
          try {
            await this.pause?.(sessionId);
            report.paused.push(sessionId);
            this.metrics?.lowBalance('paused');
          } catch (error) {
            this.deps.logger.warn({ sessionId, err: error }, 'billing pause not applied');
          }
        }
        this.warned.delete(key);
      } else if (balance < warnPeriods * need) {
        if (!this.warned.has(key)) {
          this.warned.add(key);
          report.warned.push(key);
          this.metrics?.lowBalance('warned');
          this.deps.logger.warn(
            { ...owner, balance, needPerPeriod: need, periodsLeft: Math.floor(balance / need) },
            'billing.low-balance',
          );
          this.track(owner, 'supercore.billing.low-balance', {
            balance,
            needPerPeriod: need,
            periodsLeft: Math.floor(balance / need),
            periodSeconds: this.deps.policy.periodMs / 1000,
          });
        }
      } else {
        this.warned.delete(key);
      }
    }
  }

  /** A bounded metrics label: the tenant if the registry lists it, else `other`. */
  private tenantLabel(tenantId: string): string {
    return this.listedTenants.has(tenantId) ? tenantId : 'other';
  }

  private safePrice(s: Session): number {
    const terms = this.safeTerms(s);
    return terms ? pricesOf(terms).active : 0;
  }

  private track(owner: WalletOwner, event: string, properties: Record<string, unknown>): void {
    this.analytics?.track({
      event,
      userId: owner.userId,
      properties: { ...properties, tenantId: owner.tenantId },
      timestamp: this.clock().toISOString(),
    });
  }
}
