/**
 * Reads a Chromium trace (Playwright's browser.startTracing with the DevTools timeline category) and tells where
 * the renderer's main thread spent an interaction: from its input event to the next paint (Event Timing's
 * duration), split into script, style recalculation, layout, and paint (pre-paint, paint, layerize, commit).
 * The page's performance.mark()s place performance.now() on the trace's clock.
 */

interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  args?: { name?: string };
}

export const INTERACTION_TRACE_CATEGORIES = [
  'devtools.timeline',
  'disabled-by-default-devtools.timeline',
  'blink.user_timing',
  '__metadata',
];

/** Milliseconds of the main thread inside the window, by kind of work. */
export interface Breakdown {
  script: number;
  style: number;
  layout: number;
  paint: number;
  /** Busy time of the main thread's top-level tasks, clipped to the window. */
  busy: number;
}

/** Top-level kinds; a nested one (a forced layout inside a handler) counts under both script and layout. */
const KINDS: Record<string, keyof Omit<Breakdown, 'busy'>> = {
  FunctionCall: 'script',
  EvaluateScript: 'script',
  TimerFire: 'script',
  FireAnimationFrame: 'script',
  EventDispatch: 'script',
  RunMicrotasks: 'script',
  UpdateLayoutTree: 'style',
  Layout: 'layout',
  PrePaint: 'paint',
  Paint: 'paint',
  Layerize: 'paint',
  Commit: 'paint',
};

export class InteractionBreakdown {
  private readonly events: TraceEvent[];
  private readonly pid: number;
  private readonly tid: number;
  /** Trace microseconds at performance.now() = 0. */
  private readonly origin: number;

  /** `anchor`: a mark's name and its startTime on the page, to align the two clocks. */
  constructor(trace: Buffer, anchor: { name: string; startTime: number }) {
    const parsed = JSON.parse(trace.toString('utf8')) as { traceEvents?: TraceEvent[] } | TraceEvent[];
    this.events = Array.isArray(parsed) ? parsed : (parsed.traceEvents ?? []);
    const mark = this.events.find((e) => e.cat.includes('blink.user_timing') && e.name === anchor.name);
    if (!mark) throw new Error(`the trace holds no mark ${anchor.name}`);
    this.pid = mark.pid;
    this.tid = mark.tid;
    this.origin = mark.ts - anchor.startTime * 1000;
  }

  /** The main thread's work between two performance.now() times. */
  window(from: number, to: number): Breakdown {
    const start = this.origin + from * 1000;
    const end = this.origin + to * 1000;
    const result: Breakdown = { script: 0, style: 0, layout: 0, paint: 0, busy: 0 };
    // Only the outermost event of each kind counts (FunctionCall inside EventDispatch is one span of script).
    const open: Partial<Record<keyof Breakdown, number>> = {};
    const inside = this.events
      .filter((e) => e.pid === this.pid && e.tid === this.tid && e.ph === 'X')
      .filter((e) => e.ts < end && e.ts + (e.dur ?? 0) > start)
      .sort((a, b) => a.ts - b.ts);
    for (const e of inside) {
      const clipped = (Math.min(e.ts + (e.dur ?? 0), end) - Math.max(e.ts, start)) / 1000;
      if (e.name === 'RunTask') {
        result.busy += clipped;
        continue;
      }
      const kind = KINDS[e.name];
      if (!kind) continue;
      if ((open[kind] ?? -Infinity) > e.ts) continue;
      open[kind] = e.ts + (e.dur ?? 0);
      result[kind] += clipped;
    }
    return result;
  }
}
