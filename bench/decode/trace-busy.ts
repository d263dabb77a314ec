/**
 * Reads a Chromium trace (Playwright's browser.startTracing with the DevTools timeline category) and
 * sums how long threads of the page's renderer were busy between two performance.mark()s: the sum of
 * their top-level tasks (`RunTask`, what DevTools' Performance panel draws as "Task"), clipped to the
 * window. Everything the thread did counts — JavaScript, GC, structured clone of messages, canvas
 * work, image decode callbacks, style and paint — not only the page's own handlers.
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

export const TRACE_CATEGORIES = ['disabled-by-default-devtools.timeline', 'blink.user_timing', '__metadata'];

export interface ThreadBusy {
  /** Busy milliseconds of the renderer's main thread (CrRendererMain) inside the window. */
  mainMs: number;
  /** Busy milliseconds of its dedicated worker threads inside the window. */
  workerMs: number;
  /** The window's length in milliseconds. */
  windowMs: number;
}

export class TraceBusy {
  private readonly events: TraceEvent[];

  constructor(trace: Buffer) {
    const parsed = JSON.parse(trace.toString('utf8')) as { traceEvents?: TraceEvent[] } | TraceEvent[];
    this.events = Array.isArray(parsed) ? parsed : (parsed.traceEvents ?? []);
  }

  /** Busy time between the marks `${label}:start` and `${label}:end` (null when a mark is missing). */
  window(label: string): ThreadBusy | null {
    const start = this.events.find((e) => e.cat === 'blink.user_timing' && e.name === `${label}:start`);
    const end = this.events.find((e) => e.cat === 'blink.user_timing' && e.name === `${label}:end`);
    if (!start || !end) return null;
    // performance.mark runs on the page's main thread, so the marks name the renderer and thread.
    const { pid, tid } = start;
    const workers = new Set(
      this.events
        .filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === pid)
        .filter((e) => /DedicatedWorker/i.test(e.args?.name ?? ''))
        .map((e) => e.tid),
    );
    const busy = (match: (e: TraceEvent) => boolean): number => {
      const intervals: Array<[number, number]> = [];
      for (const e of this.events) {
        if (e.ph !== 'X' || e.name !== 'RunTask' || e.pid !== pid || !match(e)) continue;
        const from = Math.max(e.ts, start.ts);
        const to = Math.min(e.ts + (e.dur ?? 0), end.ts);
        if (to > from) intervals.push([from, to]);
      }
      // Nested tasks (a nested run loop) must not count twice: merge overlaps.
      intervals.sort((a, b) => a[0] - b[0]);
      let total = 0;
      let curFrom = -Infinity;
      let curTo = -Infinity;
      for (const [from, to] of intervals) {
        if (from > curTo) {
          if (curTo > curFrom) total += curTo - curFrom;
          curFrom = from;
          curTo = to;
        } else if (to > curTo) {
          curTo = to;
        }
      }
      if (curTo > curFrom) total += curTo - curFrom;
      return total / 1000;
    };
    return {
      mainMs: busy((e) => e.tid === tid),
      workerMs: busy((e) => workers.has(e.tid)),
      windowMs: (end.ts - start.ts) / 1000,
    };
  }
}
