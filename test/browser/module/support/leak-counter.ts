/**
 * Counts what a mounted module could leave behind on the page: event listeners on window and document (added
 * directly or through an AbortSignal), pending timeouts, running intervals and workers. Install it before the
 * module's code runs (a test file's top level), then compare `snapshot()`s.
 */
export interface Leaks {
  listeners: number;
  timeouts: number;
  intervals: number;
  workers: number;
  elements: number;
}

interface Entry {
  target: EventTarget;
  type: string;
  listener: EventListenerOrEventListenerObject;
  capture: boolean;
}

const listeners = new Set<Entry>();
const timeouts = new Map<number, string>();
const intervals = new Set<number>();
const workers = new Set<Worker>();
let installed = false;
const HARNESS = /@open-wc\/testing-helpers|__web-test-runner__|mocha/;

function watched(target: EventTarget): boolean {
  return target === window || target === document;
}

function captureOf(options: boolean | AddEventListenerOptions | EventListenerOptions | undefined): boolean {
  return typeof options === 'boolean' ? options : options?.capture === true;
}

export function installLeakCounter(): void {
  if (installed) return;
  installed = true;
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (
    this: EventTarget,
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    add.call(this, type, listener, options);
    if (!listener || !watched(this)) return;
    const capture = captureOf(options);
    for (const e of listeners)
      if (e.target === this && e.type === type && e.listener === listener && e.capture === capture) return;
    const entry: Entry = { target: this, type, listener, capture };
    const signal = typeof options === 'object' ? options.signal : undefined;
    if (signal?.aborted) return;
    listeners.add(entry);
    if (signal) add.call(signal, 'abort', () => listeners.delete(entry), { once: true });
    if (typeof options === 'object' && options.once) {
      // A once-listener goes away when it fires.
      add.call(this, type, () => listeners.delete(entry), { once: true, capture });
    }
  };
  EventTarget.prototype.removeEventListener = function (
    this: EventTarget,
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    remove.call(this, type, listener, options);
    const capture = captureOf(options);
    for (const e of listeners) {
      if (e.target === this && e.type === type && e.listener === listener && e.capture === capture)
        listeners.delete(e);
    }
  };

  const realSetTimeout = window.setTimeout.bind(window);
  const realClearTimeout = window.clearTimeout.bind(window);
  const realSetInterval = window.setInterval.bind(window);
  const realClearInterval = window.clearInterval.bind(window);
  window.setTimeout = ((handler: TimerHandler, ms?: number, ...args: unknown[]) => {
    const id: number = realSetTimeout(
      (...a: unknown[]) => {
        timeouts.delete(id);
        if (typeof handler === 'function') (handler as (...x: unknown[]) => void)(...a);
      },
      ms,
      ...args,
    );
    const stack = new Error().stack ?? '';
    // The test tools' own guards (waitUntil's time limit, mocha's) are not the module's.
    if (!HARNESS.test(stack)) timeouts.set(id, `${ms ?? 0} ms ${stack.split('\n').slice(2, 5).join(' < ')}`);
    return id;
  }) as typeof window.setTimeout;
  window.clearTimeout = ((id?: number) => {
    if (id !== undefined) timeouts.delete(id);
    realClearTimeout(id);
  }) as typeof window.clearTimeout;
  window.setInterval = ((handler: TimerHandler, ms?: number, ...args: unknown[]) => {
    const id = realSetInterval(handler, ms, ...args);
    intervals.add(id);
    return id;
  }) as typeof window.setInterval;
  window.clearInterval = ((id?: number) => {
    if (id !== undefined) intervals.delete(id);
    realClearInterval(id);
  }) as typeof window.clearInterval;

  const RealWorker = window.Worker;
  class CountedWorker extends RealWorker {
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      workers.add(this);
    }
    override terminate(): void {
      workers.delete(this);
      super.terminate();
    }
  }
  window.Worker = CountedWorker;
}

export function snapshot(): Leaks {
  return {
    listeners: listeners.size,
    timeouts: timeouts.size,
    intervals: intervals.size,
    workers: workers.size,
    elements: document.body.querySelectorAll('*').length,
  };
}

/** The listeners still registered and the pending timeouts with where they were set (for a readable failure). */
export function describeLeftovers(): string {
  const l = [...listeners].map((e) => `${e.target === window ? 'window' : 'document'}:${e.type}`);
  return `listeners [${l.join(', ')}]; timeouts [${[...timeouts.values()].join(' | ')}]`;
}
