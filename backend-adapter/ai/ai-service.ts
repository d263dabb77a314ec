import type { Logger } from 'pino';
import type {
  AnomalyReport,
  LaunchPrediction,
  PredictionsResponse,
  RecommendationsResponse,
  RemediationAction,
} from '../../protocol/ai.ts';
import type { MetricsSample } from '../../protocol/live-events.ts';
import type { Session } from '../../protocol/session.ts';
import type { Analytics } from '../analytics/analytics.ts';
import type { Principal } from '../auth/principal.ts';
import type { CanonStore } from '../canon/canon-store.ts';
import { isFinished } from '../canon/canon-shared.ts';
import { findTier } from '../tiers/tier-catalogue.ts';
import type { NexusAi, UsageSummary } from './nexus-ai.ts';
import { recordRemediation } from './report-remediation.ts';
import {
  DEFAULT_REMEDIATION_POLICY,
  Remediator,
  planRemediation,
  type RemediationEffects,
  type RemediationMode,
  type RemediationPolicy,
} from './remediation.ts';

/** The actor under which the AI's own actions are recorded in Canon Memory. */
export const AI_ACTOR = 'system:nexus-ai';
/** Seconds of samples the workload rules look at (the longest rule window). */
const WORKLOAD_WINDOW_SECONDS = 1800;
/** Seconds of samples scanned for anomalies. */
const ANOMALY_WINDOW_SECONDS = 900;
/** Past sessions given to `analyzeWorkload` as history. */
const HISTORY_SESSIONS = 20;

export interface AiServiceDeps {
  ai: NexusAi;
  canon: CanonStore;
  sampler: { recent(sessionId: string, windowSeconds: number): MetricsSample[] };
  lifecycle: {
    get(principal: Principal, sessionId: string): Promise<Session>;
    pause(principal: Principal, sessionId: string): Promise<Session>;
  };
  analytics?: Analytics;
  logger: Logger;
  mode: RemediationMode;
  /** Stream hooks, when the gateway offers them; without them those actions are recommendations. */
  streamEffects?: Pick<RemediationEffects, 'reconnectStream' | 'lowerQuality'> & {
    /** The longest a viewer's stream of the session owes a frame or an acknowledgement now, in ms. */
    stalledMs?(sessionId: string): number;
  };
  /** The remediation rules' thresholds (DEFAULT_REMEDIATION_POLICY by default). */
  policy?: RemediationPolicy;
  /** Counts every action acted on (applied, skipped, failed) by kind and status. */
  metrics?: { aiRemediations: { inc(labels: { kind: string; status: string }): void } };
  clock?: () => Date;
}

/**
 * The spec's N.E.X.U.S AI integration around the port: gathers the inputs (the sampler's metrics, Canon
 * Memory's history), answers the API, and runs the health monitor that detects anomalies and
 * auto-remediates live sessions of this replica.
 */
export class AiService {
  private readonly remediator: Remediator;
  private readonly clock: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Sessions the monitor has looked at, so their state is dropped once they end. */
  private readonly watched = new Set<string>();

  constructor(private readonly deps: AiServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.remediator = new Remediator(
      {
        pauseSession: async (sessionId) => {
          const row = await deps.canon.getSession(sessionId);
          if (!row) throw new Error('no such session');
          // A system principal with admin rights in the session's tenant only: the lifecycle checks apply.
          await deps.lifecycle.pause(
            { userId: AI_ACTOR, tenantId: row.session.tenantId, roles: ['admin'] },
            sessionId,
          );
        },
        // Bound: the hooks may be methods of a class instance (gateway/stream-remediation.ts).
        reconnectStream: deps.streamEffects?.reconnectStream?.bind(deps.streamEffects),
        lowerQuality: deps.streamEffects?.lowerQuality?.bind(deps.streamEffects),
      },
      deps.policy ?? DEFAULT_REMEDIATION_POLICY,
      () => this.clock().getTime(),
    );
  }

  private async history(
    owner: { userId: string; tenantId: string },
    except?: string,
  ): Promise<UsageSummary[]> {
    const finished = (await this.deps.canon.listSessions(owner))
      .filter((r) => r.session.sessionId !== except && isFinished(r.session.state))
      .slice(0, HISTORY_SESSIONS);
    const out: UsageSummary[] = [];
    for (const r of finished) {
      const usage = await this.deps.canon.getUsage(r.session.sessionId);
      if (!usage) continue;
      out.push({
        sessionId: r.session.sessionId,
        tier: r.session.tier,
        startTime: usage.startTime,
        endTime: usage.endTime,
        activeSeconds: usage.resourceConsumption.activeSeconds,
      });
    }
    return out;
  }

  private async analyse(session: Session): Promise<Omit<RecommendationsResponse, 'generatedAt'>> {
    const tier = findTier(session.tier);
    if (!tier) throw new Error(`unknown tier ${session.tier}`);
    this.watched.add(session.sessionId);
    const samples = this.deps.sampler.recent(session.sessionId, WORKLOAD_WINDOW_SECONDS);
    const newest = Date.parse(samples.at(-1)?.at ?? '') || this.clock().getTime();
    const recent = samples.filter((s) => newest - Date.parse(s.at) <= ANOMALY_WINDOW_SECONDS * 1000);
    const [workload, anomalies] = await Promise.all([
      this.deps.ai.analyzeWorkload({
        sessionId: session.sessionId,
        tier: session.tier,
        currentMetrics: samples,
        historicalData: await this.history(session, session.sessionId),
      }),
      this.deps.ai.detectAnomalies({ sessionId: session.sessionId, metrics: recent }),
    ]);
    const source = workload.source === anomalies.source ? workload.source : 'embedded-fallback';
    return {
      sessionId: session.sessionId,
      source,
      workload: workload.value,
      anomalies: anomalies.value,
      remediation: planRemediation(
        {
          sessionId: session.sessionId,
          tier,
          samples,
          workload: workload.value,
          anomalies: anomalies.value,
          stalledMs: this.stalledMs(session.sessionId),
        },
        this.deps.policy,
      ),
    };
  }

  private stalledMs(sessionId: string): number {
    return this.deps.streamEffects?.stalledMs?.(sessionId) ?? 0;
  }

  /** `GET /sessions/:id/recommendations`: analyses and the plan; nothing is applied by reading. */
  async recommendations(principal: Principal, sessionId: string): Promise<RecommendationsResponse> {
    const session = await this.deps.lifecycle.get(principal, sessionId);
    return { generatedAt: this.clock().toISOString(), ...(await this.analyse(session)) };
  }

  /** `GET /predictions`: the caller's launch forecast from the next hour on. */
  async predictions(principal: Principal, hours: number): Promise<PredictionsResponse> {
    const now = this.clock();
    const next = new Date(Math.ceil(now.getTime() / 3_600_000) * 3_600_000);
    const history = (await this.deps.canon.listSessions(principal)).map((r) => ({
      createdAt: r.session.createdAt,
      tier: r.session.tier,
    }));
    const answer = await this.deps.ai.predictResourceNeeds({
      userId: principal.userId,
      tenantId: principal.tenantId,
      from: next.toISOString(),
      hours,
      history,
    });
    return { generatedAt: now.toISOString(), source: answer.source, ...answer.value };
  }

  /** The spec's `predictResourceNeeds({userId, timeOfDay, dayOfWeek})`: the next such hour of the coming week. */
  async predictResourceNeeds(input: {
    userId: string;
    tenantId: string;
    timeOfDay: number;
    dayOfWeek: number;
  }): Promise<LaunchPrediction | undefined> {
    const forecast = await this.predictions({ userId: input.userId, tenantId: input.tenantId }, 168);
    return forecast.hours.find((h) => h.hourOfDay === input.timeOfDay && h.dayOfWeek === input.dayOfWeek);
  }

  /** The spec's `autoRemediate(sessionId, anomalies)`: plans from fresh analyses and applies per the mode. */
  async autoRemediate(sessionId: string, anomalies?: AnomalyReport): Promise<RemediationAction[]> {
    const row = await this.deps.canon.getSession(sessionId);
    if (!row || this.deps.mode === 'off') return [];
    const analysed = await this.analyse(row.session);
    const tier = findTier(row.session.tier);
    const plan =
      anomalies && tier
        ? planRemediation(
            {
              sessionId,
              tier,
              samples: this.deps.sampler.recent(sessionId, WORKLOAD_WINDOW_SECONDS),
              workload: analysed.workload,
              anomalies,
              stalledMs: this.stalledMs(sessionId),
            },
            this.deps.policy,
          )
        : analysed.remediation;
    const actions = await this.remediator.applyIn(this.deps.mode, sessionId, plan);
    recordRemediation(this.deps, row.session, actions, this.clock());
    return actions;
  }

  /** One round of the health monitor over the live sessions this replica samples. */
  async monitorOnce(): Promise<Array<{ sessionId: string; actions: RemediationAction[] }>> {
    if (this.running || this.deps.mode === 'off') return [];
    this.running = true;
    try {
      const results: Array<{ sessionId: string; actions: RemediationAction[] }> = [];
      const unfinished = await this.deps.canon.listUnfinished();
      const live = new Set(unfinished.map((r) => r.session.sessionId));
      for (const id of this.watched) {
        if (live.has(id)) continue;
        this.watched.delete(id);
        this.deps.ai.forget?.(id);
        this.remediator.forget(id);
      }
      for (const row of unfinished) {
        if (row.session.state !== 'active') continue;
        this.watched.add(row.session.sessionId);
        const sampled = this.deps.sampler.recent(row.session.sessionId, WORKLOAD_WINDOW_SECONDS).length >= 2;
        if (!sampled && this.stalledMs(row.session.sessionId) === 0) continue;
        try {
          const actions = await this.autoRemediate(row.session.sessionId);
          if (actions.length) results.push({ sessionId: row.session.sessionId, actions });
        } catch (err) {
          this.deps.logger.warn({ sessionId: row.session.sessionId, err }, 'N.E.X.U.S AI monitoring failed');
        }
      }
      return results;
    } finally {
      this.running = false;
    }
  }

  start(intervalMs: number): void {
    if (this.deps.mode === 'off') return;
    this.timer ??= setInterval(() => void this.monitorOnce(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
