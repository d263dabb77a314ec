import { html, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import type { MetricsSample } from '../../protocol/live-events.ts';
import type { QuotaResponse } from '../../protocol/resources.ts';
import type { Session } from '../../protocol/session.ts';
import type { ApiClient } from '../api/api-client.ts';
import type { LiveEvents, LiveStatus } from '../api/live-events.ts';
import { formatCores, formatMemory, shortId, stateLabel, stateTone } from '../shared/format.ts';
import { VscElement } from '../shared/vsc-element.ts';
import {
  MONITORED,
  MetricsStore,
  WINDOWS,
  type MetricsState,
  type WindowSeconds,
} from '../state/metrics-store.ts';
import type { SessionsState, SessionsStore } from '../state/sessions-store.ts';
import { StoreController } from '../state/store-controller.ts';
import { renderChart, type ChartSeries } from './chart.ts';
import { bucketed, combine, niceMax, type Combine, type Point } from './series.ts';
import { styles } from './resource-monitor.styles.ts';

const WINDOW_LABELS: Record<WindowSeconds, [short: string, long: string]> = {
  60: ['1 min', 'the last minute'],
  300: ['5 min', 'the last 5 minutes'],
  900: ['15 min', 'the last 15 minutes'],
};

/** Bytes per second in decimal units, as network rates are quoted. */
export function formatRate(bytesPerSec: number): string {
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  let v = bytesPerSec;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

const percent = (v: number): string => `${Math.round(v)} %`;
const fps = (v: number): string => `${v >= 10 ? Math.round(v) : v.toFixed(1)} fps`;
const ms = (v: number): string => `${Math.round(v)} ms`;

interface MetricDef {
  id: string;
  title: string;
  series: { label: string; pick: (s: MetricsSample) => number | null }[];
  combine: Combine;
  format: (v: number) => string;
  /** Axis top from the sessions in scope and the largest value shown. */
  yMax: (sessions: readonly Session[], max: number) => number;
  emptyText: string;
}

const METRICS: readonly MetricDef[] = [
  {
    id: 'cpu',
    title: 'CPU',
    series: [{ label: 'CPU', pick: (s) => s.cpuPercent }],
    combine: 'sum',
    format: percent,
    yMax: (_s, max) => niceMax(max, 100),
    emptyText: 'No CPU samples yet.',
  },
  {
    id: 'memory',
    title: 'Memory',
    series: [{ label: 'Memory', pick: (s) => s.memoryMiB }],
    combine: 'sum',
    format: (v) => formatMemory(Math.round(v)),
    yMax: (sessions, max) =>
      Math.max(
        max,
        sessions.reduce((sum, s) => sum + s.resources.memoryMiB, 0),
      ) || 1,
    emptyText: 'No memory samples yet.',
  },
  {
    id: 'gpu',
    title: 'GPU',
    series: [{ label: 'GPU', pick: (s) => s.gpuPercent }],
    combine: 'sum',
    format: percent,
    yMax: (_s, max) => niceMax(max, 100),
    emptyText: 'No GPU: these desktops have none.',
  },
  {
    id: 'network',
    title: 'Network',
    series: [
      { label: 'Sent', pick: (s) => s.networkTxBytesPerSec },
      { label: 'Received', pick: (s) => s.networkRxBytesPerSec },
    ],
    combine: 'sum',
    format: formatRate,
    yMax: (_s, max) => niceMax(max, 1000),
    emptyText: 'No network samples yet.',
  },
  {
    id: 'fps',
    title: 'Stream frame rate',
    series: [{ label: 'Frame rate', pick: (s) => s.streamFps }],
    combine: 'mean',
    format: fps,
    yMax: (_s, max) => niceMax(max, 30),
    emptyText: 'No stream samples yet.',
  },
  {
    id: 'latency',
    title: 'Stream latency',
    series: [{ label: 'Latency', pick: (s) => s.streamLatencyMs }],
    combine: 'mean',
    format: ms,
    yMax: (_s, max) => niceMax(max, 50),
    emptyText: 'Not measured yet: latency is measured while someone watches the desktop.',
  },
];

/**
 * @tagname vsc-resource-monitor
 * @summary Live resource charts of the user's sessions, per session and in total — CPU, memory, GPU, network,
 * stream frame rate and latency — with a selectable history window (1, 5 or 15 minutes) and the quota usage
 * against its limits.
 *
 * The window is filled from the history endpoint, then extended by the server's `metrics.sample` pushes; the
 * quota is re-read when a session changes. Charts are SVG drawn by Lit; each is an image with a summary as its
 * accessible name and has a table of its values. While the live stream is down the history is re-read every
 * few seconds instead.
 *
 * @csspart charts - The grid of charts.
 * @csspart quota - The quota list.
 *
 * @cssproperty --vsc-color-accent - Chart lines.
 * @cssproperty --vsc-color-accent-soft - Chart areas.
 * @cssproperty --vsc-color-success - Second line of a chart (network received).
 */
export class VscResourceMonitor extends VscElement {
  static override styles = styles;

  @property({ attribute: false }) api?: ApiClient;
  @property({ attribute: false }) store?: SessionsStore;
  @property({ attribute: false }) live?: LiveEvents;

  /** History window in seconds: 60, 300 or 900. */
  @property({ type: Number, attribute: 'window-seconds' }) windowSeconds: WindowSeconds = 300;
  /** `total` or a session id. */
  @property() scope = 'total';

  @state() private now = Date.now();
  @state() private liveStatus: LiveStatus = 'idle';

  private metrics: MetricsStore | undefined;
  private metricsFor: { api: ApiClient; store: SessionsStore; live: LiveEvents } | undefined;
  private clock: ReturnType<typeof setInterval> | undefined;
  private statusSubscription: { unsubscribe(): void } | undefined;

  private readonly sessions = new StoreController<SessionsState>(this, () => this.store?.state$);
  private readonly data = new StoreController<MetricsState>(this, () => this.metrics?.state$);

  /** The metrics store in use (tests and diagnostics). */
  get metricsStore(): MetricsStore | undefined {
    return this.metrics;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.now = Date.now();
    this.clock = setInterval(() => (this.now = Date.now()), 2000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.clock);
    this.clock = undefined;
    this.statusSubscription?.unsubscribe();
    this.statusSubscription = undefined;
    this.metrics?.dispose();
    this.metrics = undefined;
    this.metricsFor = undefined;
  }

  protected override willUpdate(changed: PropertyValues): void {
    const { api, store, live } = this;
    const current = this.metricsFor;
    if (
      this.isConnected &&
      api &&
      store &&
      live &&
      (!current || current.api !== api || current.store !== store || current.live !== live)
    ) {
      this.metrics?.dispose();
      this.metrics = new MetricsStore({ api, live, sessions: store }, this.windowSeconds);
      this.metricsFor = { api, store, live };
      this.statusSubscription?.unsubscribe();
      this.statusSubscription = live.status$.subscribe((status) => (this.liveStatus = status));
    }
    if (changed.has('windowSeconds')) this.metrics?.setWindow(this.windowSeconds);
  }

  private monitored(): Session[] {
    return (this.sessions.value?.sessions ?? []).filter((s) => MONITORED.has(s.state));
  }

  override render(): TemplateResult {
    const sessions = this.monitored();
    const data = this.data.value;
    const scoped = this.scope === 'total' ? sessions : sessions.filter((s) => s.sessionId === this.scope);
    const scopeLabel =
      this.scope === 'total' || scoped.length === 0
        ? 'All sessions (total)'
        : `Session ${shortId(this.scope)} (${scoped[0]?.tier ?? ''})`;
    return html`
      <h2 id="heading">Resource Monitor</h2>
      ${this.renderLive()}
      <div class="controls">
        <label>
          Show
          <select
            data-control="scope"
            @change=${(e: Event) => (this.scope = (e.target as HTMLSelectElement).value)}
          >
            <option value="total" ?selected=${this.scope === 'total'}>All sessions (total)</option>
            ${sessions.map(
              (s) =>
                html`<option value=${s.sessionId} ?selected=${this.scope === s.sessionId}>
                  Session ${shortId(s.sessionId)} · ${s.tier} · ${stateLabel(s.state)}
                </option>`,
            )}
          </select>
        </label>
        <fieldset>
          <legend>History</legend>
          ${WINDOWS.map(
            (w) =>
              html`<label class="segment"
                ><input
                  type="radio"
                  name="window"
                  .value=${String(w)}
                  .checked=${this.windowSeconds === w}
                  @change=${() => (this.windowSeconds = w)}
                />${WINDOW_LABELS[w][0]}</label
              >`,
          )}
        </fieldset>
      </div>
      ${
        data?.error
          ? html`<div class="alert" role="alert" data-code=${data.error.code}>
              Could not load the resource history: ${data.error.message} <code>${data.error.code}</code>
            </div>`
          : nothing
      }
      ${this.renderQuota(data?.quota ?? null, data)}
      <h3 id="charts-heading">${scopeLabel}, ${WINDOW_LABELS[this.windowSeconds][1]}</h3>
      ${
        sessions.length === 0 && this.sessions.value?.updatedAt != null
          ? html`<p class="empty" role="status">
              No running sessions, so there is nothing to measure. Launch one from Quick Launch.
            </p>`
          : html`<div class="charts" part="charts" aria-labelledby="charts-heading">
              ${METRICS.map((m) => this.renderMetric(m, scoped, data))}
            </div>`
      }
      ${sessions.length > 0 ? this.renderSessions(sessions, data) : nothing}
    `;
  }

  private renderLive(): TemplateResult {
    const on = this.liveStatus === 'open';
    return html`<p class="live" data-live=${on ? 'on' : 'off'}>
      <span class="dot" aria-hidden="true"></span>
      ${
        on
          ? 'Live: charts update as samples arrive.'
          : this.liveStatus === 'down'
            ? 'Live updates interrupted: reconnecting, and re-reading the history every few seconds.'
            : 'Connecting to live updates…'
      }
    </p>`;
  }

  private series(
    def: MetricDef,
    sessions: readonly Session[],
    data: MetricsState | undefined,
  ): ChartSeries[] {
    // The clock (`now`) re-renders every 2 s; samples that arrive between ticks are drawn up to this instant.
    const to = Math.max(this.now, Date.now());
    const from = to - this.windowSeconds * 1000;
    return def.series.map((s, i) => {
      const perSession = sessions.map((session) =>
        bucketed(data?.samples.get(session.sessionId) ?? [], s.pick, from, to),
      );
      const points: Point[] =
        perSession.length === 1 ? (perSession[0] as Point[]) : combine(perSession, def.combine);
      return { label: s.label, points, tone: i === 0 ? 'accent' : 'success' };
    });
  }

  private renderMetric(
    def: MetricDef,
    sessions: readonly Session[],
    data: MetricsState | undefined,
  ): TemplateResult {
    const series = this.series(def, sessions, data);
    const max = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v ?? 0)));
    return renderChart({
      id: def.id,
      title: def.title,
      series,
      yMax: def.yMax(sessions, max),
      format: def.format,
      windowLabel: WINDOW_LABELS[this.windowSeconds][1],
      windowMs: this.windowSeconds * 1000,
      emptyText: def.emptyText,
    });
  }

  private renderQuota(quota: QuotaResponse | null, data: MetricsState | undefined): TemplateResult {
    if (!quota) {
      return html`<h3 id="quota-heading">Quota</h3>
        ${
          data?.quotaError
            ? html`<div class="alert" role="alert" data-code=${data.quotaError.code}>
                Could not load your quota: ${data.quotaError.message} <code>${data.quotaError.code}</code>
                <button type="button" data-action="retry-quota" @click=${() => this.metrics?.refreshQuota()}>
                  Retry
                </button>
              </div>`
            : html`<p class="muted">Loading your quota…</p>`
        }`;
    }
    const { limits, usage } = quota;
    const rows: [id: string, label: string, used: number, limit: number, text: string][] = [
      [
        'user-sessions',
        'Your running sessions',
        usage.liveSessionsOfUser,
        limits.maxLiveSessionsPerUser,
        `${usage.liveSessionsOfUser} of ${limits.maxLiveSessionsPerUser}`,
      ],
      [
        'user-cpu',
        'Your CPU',
        usage.cpuMillicoresOfUser,
        limits.maxCpuMillicoresPerUser,
        `${formatCores(usage.cpuMillicoresOfUser, this.locale)} of ${formatCores(limits.maxCpuMillicoresPerUser, this.locale)} cores`,
      ],
      [
        'user-memory',
        'Your memory',
        usage.memoryMiBOfUser,
        limits.maxMemoryMiBPerUser,
        `${formatMemory(usage.memoryMiBOfUser, this.locale)} of ${formatMemory(limits.maxMemoryMiBPerUser, this.locale)}`,
      ],
      [
        'tenant-sessions',
        "Your team's running sessions",
        usage.liveSessionsOfTenant,
        limits.maxLiveSessionsPerTenant,
        `${usage.liveSessionsOfTenant} of ${limits.maxLiveSessionsPerTenant}`,
      ],
      [
        'tenant-cpu',
        "Your team's CPU",
        usage.cpuMillicoresOfTenant,
        limits.maxCpuMillicoresPerTenant,
        `${formatCores(usage.cpuMillicoresOfTenant, this.locale)} of ${formatCores(limits.maxCpuMillicoresPerTenant, this.locale)} cores`,
      ],
      [
        'tenant-memory',
        "Your team's memory",
        usage.memoryMiBOfTenant,
        limits.maxMemoryMiBPerTenant,
        `${formatMemory(usage.memoryMiBOfTenant, this.locale)} of ${formatMemory(limits.maxMemoryMiBPerTenant, this.locale)}`,
      ],
    ];
    return html`<h3 id="quota-heading">Quota</h3>
      <dl class="quota" part="quota" aria-labelledby="quota-heading">
        ${rows.map(
          ([id, label, used, limit, text]) =>
            html`<div data-quota=${id}>
              <dt id="q-${id}">${label}</dt>
              <dd>
                <meter
                  min="0"
                  max=${Math.max(1, limit)}
                  low=${Math.max(1, limit) * 0.7}
                  high=${Math.max(1, limit) * 0.9}
                  optimum="0"
                  .value=${used}
                  aria-labelledby="q-${id}"
                  aria-describedby="q-${id}-text"
                ></meter>
                <span id="q-${id}-text">${text}${used >= limit ? ' — limit reached' : ''}</span>
              </dd>
            </div>`,
        )}
      </dl>`;
  }

  private renderSessions(sessions: readonly Session[], data: MetricsState | undefined): TemplateResult {
    const latest = (id: string): MetricsSample | undefined => data?.samples.get(id)?.at(-1);
    return html`<h3 id="now-heading">Each session now</h3>
      <div class="table-wrap">
        <table aria-labelledby="now-heading">
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">State</th>
              <th scope="col">CPU</th>
              <th scope="col">Memory</th>
              <th scope="col">GPU</th>
              <th scope="col">Network (sent / received)</th>
              <th scope="col">Frame rate</th>
              <th scope="col">Latency</th>
              <th scope="col"><span class="visually-hidden">Charts</span></th>
            </tr>
          </thead>
          <tbody>
            ${sessions.map((s) => {
              const m = latest(s.sessionId);
              const short = shortId(s.sessionId);
              return html`<tr data-session-id=${s.sessionId}>
                <th scope="row"><code title=${s.sessionId}>${short}</code> ${s.tier}</th>
                <td><span class="badge" data-tone=${stateTone(s.state)}>${stateLabel(s.state)}</span></td>
                <td>${m ? percent(m.cpuPercent) : '—'}</td>
                <td>
                  ${m ? `${formatMemory(m.memoryMiB, this.locale)} of ${formatMemory(s.resources.memoryMiB, this.locale)}` : '—'}
                </td>
                <td>${m?.gpuPercent != null ? percent(m.gpuPercent) : '—'}</td>
                <td>
                  ${m ? `${formatRate(m.networkTxBytesPerSec)} / ${formatRate(m.networkRxBytesPerSec)}` : '—'}
                </td>
                <td>${m ? fps(m.streamFps) : '—'}</td>
                <td>${m?.streamLatencyMs != null ? ms(m.streamLatencyMs) : '—'}</td>
                <td>
                  <button
                    type="button"
                    class="quiet"
                    data-action="show"
                    aria-label="Show the charts of session ${short}"
                    aria-pressed=${this.scope === s.sessionId ? 'true' : 'false'}
                    @click=${() => this.showSession(s.sessionId)}
                  >
                    Charts
                  </button>
                </td>
              </tr>`;
            })}
          </tbody>
        </table>
      </div>`;
  }

  private showSession(sessionId: string): void {
    this.scope = this.scope === sessionId ? 'total' : sessionId;
    void this.updateComplete.then(() =>
      this.renderRoot.querySelector<HTMLElement>('#charts-heading')?.scrollIntoView?.({ block: 'nearest' }),
    );
  }
}
