import { css, html, nothing, svg, type TemplateResult } from 'lit';
import { summarize, type Point } from './series.ts';

export interface ChartSeries {
  label: string;
  points: readonly Point[];
  /** Colour token: accent (first series) or success (second). */
  tone: 'accent' | 'success';
}

export interface ChartOptions {
  /** Stable id (used for the metric's data attribute). */
  id: string;
  title: string;
  series: readonly ChartSeries[];
  /** Top of the value axis. */
  yMax: number;
  format: (value: number) => string;
  /** e.g. "the last 5 minutes". */
  windowLabel: string;
  /** Length of the window in ms (axis labels). */
  windowMs: number;
  /** Shown instead of the plot when every series is empty (e.g. "This session has no GPU."). */
  emptyText?: string;
}

const W = 300;
const H = 100;
/** Rows of the data table: one every few buckets, so the table stays readable. */
const TABLE_ROWS = 12;

function y(value: number, yMax: number): number {
  return H - (Math.min(value, yMax) / yMax) * H;
}

/** An SVG path through the points, broken where there is no data. */
function linePath(points: readonly Point[], yMax: number): string {
  const step = W / Math.max(1, points.length - 1);
  let d = '';
  let pen = false;
  points.forEach((p, i) => {
    if (p.v === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${(i * step).toFixed(1)} ${y(p.v, yMax).toFixed(1)}`;
    pen = true;
  });
  return d;
}

/** The area under the line of each unbroken run of points. */
function areaPath(points: readonly Point[], yMax: number): string {
  const step = W / Math.max(1, points.length - 1);
  let d = '';
  let run: string[] = [];
  let start = 0;
  const close = (end: number): void => {
    if (run.length > 1)
      d += `M${(start * step).toFixed(1)} ${H}L${run.join('L')}L${(end * step).toFixed(1)} ${H}Z`;
    run = [];
  };
  points.forEach((p, i) => {
    if (p.v === null) {
      close(i - 1);
      return;
    }
    if (run.length === 0) start = i;
    run.push(`${(i * step).toFixed(1)} ${y(p.v, yMax).toFixed(1)}`);
  });
  close(points.length - 1);
  return d;
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s <= 0) return 'now';
  return s < 60 ? `−${s} s` : `−${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** A sentence that says what the chart shows, for screen readers (the SVG's accessible name). */
export function describeChart(options: ChartOptions): string {
  const parts = options.series.map((s) => {
    const sum = summarize(s.points);
    if (sum.now === null || sum.min === null || sum.max === null) return `${s.label}: no data`;
    const f = options.format;
    return `${s.label}: now ${f(sum.now)}, lowest ${f(sum.min)}, highest ${f(sum.max)}`;
  });
  return `${options.title} over ${options.windowLabel}. ${parts.join('; ')}.`;
}

/**
 * A small line chart (Lit + SVG, no chart library) with its text alternatives: the SVG is an image whose name
 * summarises the series (now, lowest, highest), and a disclosure holds the values as a table.
 */
export function renderChart(options: ChartOptions): TemplateResult {
  const { series, yMax, format } = options;
  const empty = series.every((s) => s.points.every((p) => p.v === null));
  const latest = series.map((s) => summarize(s.points).now);
  const headline =
    empty || latest.every((v) => v === null)
      ? '—'
      : series
          .map(
            (s, i) =>
              `${series.length > 1 ? `${s.label} ` : ''}${latest[i] === null ? '—' : format(latest[i] as number)}`,
          )
          .join(' · ');
  return html`<figure class="chart" data-metric=${options.id}>
    <figcaption>
      <span class="chart-title">${options.title}</span>
      <span class="chart-now" data-now>${headline}</span>
    </figcaption>
    ${
      empty && options.emptyText
        ? html`<p class="chart-empty">${options.emptyText}</p>`
        : html`<div class="plot">
            <span class="y-max" aria-hidden="true">${format(yMax)}</span>
            <svg
              viewBox="0 0 ${W} ${H}"
              preserveAspectRatio="none"
              role="img"
              aria-label=${describeChart(options)}
              focusable="false"
            >
              ${svg`<line class="grid" x1="0" x2="${W}" y1="${H / 2}" y2="${H / 2}"></line>`}
              ${
                series.length === 1 && series[0]
                  ? svg`<path class="area" d=${areaPath(series[0].points, yMax)}></path>`
                  : nothing
              }
              ${series.map(
                (s) => svg`<path class="line" data-tone=${s.tone} d=${linePath(s.points, yMax)}></path>`,
              )}
            </svg>
            <span class="x-start" aria-hidden="true">${ago(options.windowMs)}</span>
            <span class="x-end" aria-hidden="true">now</span>
          </div>`
    }
    ${
      series.length > 1
        ? html`<ul class="legend" aria-hidden="true">
            ${series.map((s) => html`<li><span class="swatch" data-tone=${s.tone}></span>${s.label}</li>`)}
          </ul>`
        : nothing
    }
    ${empty ? nothing : renderTable(options)}
  </figure>`;
}

function renderTable(options: ChartOptions): TemplateResult {
  const first = options.series[0]?.points ?? [];
  const every = Math.max(1, Math.floor(first.length / TABLE_ROWS));
  const end = first.at(-1)?.t ?? 0;
  const rows: number[] = [];
  for (let i = first.length - 1; i >= 0; i -= every) rows.unshift(i);
  return html`<details class="chart-table">
    <summary>${options.title}: table of values</summary>
    <table>
      <caption class="visually-hidden">
        ${options.title} over ${options.windowLabel}
      </caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          ${options.series.map((s) => html`<th scope="col">${s.label}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows.map((i) => {
          const t = first[i]?.t ?? end;
          return html`<tr>
            <th scope="row">${ago(end - t)}</th>
            ${options.series.map((s) => {
              const v = s.points[i]?.v ?? null;
              return html`<td>${v === null ? '—' : options.format(v)}</td>`;
            })}
          </tr>`;
        })}
      </tbody>
    </table>
  </details>`;
}

export const chartStyles = css`
  .chart {
    margin: 0;
    padding: 0.75rem 0.85rem;
    border: 1px solid var(--_color-border);
    border-radius: var(--_radius);
    background: var(--_color-surface-raised);
    min-width: 0;
  }
  figcaption {
    display: flex;
    flex-wrap: wrap;
    justify-content: space-between;
    align-items: baseline;
    gap: 0.5rem;
    margin-bottom: 0.35rem;
  }
  .chart-title {
    font-weight: 600;
  }
  .chart-now {
    font-variant-numeric: tabular-nums;
    font-size: 0.9rem;
    margin-left: auto;
  }
  .plot {
    position: relative;
    padding: 1rem 0 1rem;
  }
  .plot svg {
    display: block;
    width: 100%;
    height: 6rem;
    overflow: visible;
    border-bottom: 1px solid var(--_color-border);
  }
  .grid {
    stroke: var(--_color-border);
    stroke-dasharray: 3 3;
    vector-effect: non-scaling-stroke;
  }
  .line {
    fill: none;
    stroke: var(--_color-accent);
    stroke-width: 2;
    vector-effect: non-scaling-stroke;
    stroke-linejoin: round;
  }
  .line[data-tone='success'] {
    stroke: var(--_color-success);
  }
  .area {
    fill: var(--_color-accent-soft);
    stroke: none;
  }
  .y-max,
  .x-start,
  .x-end {
    position: absolute;
    font-size: 0.7rem;
    color: var(--_color-text-muted);
  }
  .y-max {
    top: 0;
    left: 0;
  }
  .x-start {
    bottom: 0;
    left: 0;
  }
  .x-end {
    bottom: 0;
    right: 0;
  }
  .legend {
    list-style: none;
    display: flex;
    gap: 1rem;
    margin: 0.25rem 0 0;
    padding: 0;
    font-size: 0.8rem;
  }
  .swatch {
    display: inline-block;
    width: 0.8rem;
    height: 0.2rem;
    margin-right: 0.3rem;
    vertical-align: middle;
    background: var(--_color-accent);
  }
  .swatch[data-tone='success'] {
    background: var(--_color-success);
  }
  .chart-empty {
    color: var(--_color-text-muted);
    font-size: 0.875rem;
    margin: 1.5rem 0;
  }
  .chart-table {
    margin-top: 0.35rem;
    font-size: 0.8rem;
  }
  .chart-table summary {
    cursor: pointer;
    color: var(--_color-text-muted);
  }
  .chart-table table {
    border-collapse: collapse;
    margin-top: 0.35rem;
    width: 100%;
  }
  .chart-table th,
  .chart-table td {
    text-align: right;
    padding: 0.15rem 0.4rem;
    border-bottom: 1px solid var(--_color-border);
    font-variant-numeric: tabular-nums;
  }
  .chart-table th[scope='row'],
  .chart-table thead th:first-child {
    text-align: left;
  }
`;
