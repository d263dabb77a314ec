import type { Session, SessionState } from '../../protocol/session.ts';

const locales = (locale: string | undefined): string | undefined => (locale ? locale : undefined);

/**
 * Intl formatters are costly to construct (tables re-render every second while a session runs), so each is made
 * once per locale and options.
 */
const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();

function numberFormat(locale: string | undefined, options: Intl.NumberFormatOptions = {}): Intl.NumberFormat {
  const key = `n|${locale ?? ''}|${JSON.stringify(options)}`;
  let nf = formatters.get(key) as Intl.NumberFormat | undefined;
  if (!nf) {
    nf = new Intl.NumberFormat(locales(locale), options);
    formatters.set(key, nf);
  }
  return nf;
}

function dateTimeFormat(locale: string | undefined): Intl.DateTimeFormat {
  const key = `d|${locale ?? ''}`;
  let df = formatters.get(key) as Intl.DateTimeFormat | undefined;
  if (!df) {
    df = new Intl.DateTimeFormat(locales(locale), { dateStyle: 'medium', timeStyle: 'short' });
    formatters.set(key, df);
  }
  return df;
}

/**
 * Makes the formatters a pane's first render uses. The page's first Intl formatter loads ICU's locale data (about
 * 30 ms of main thread), so the module calls this while its pane's code is still downloading rather than leaving
 * that cost to the render the user is waiting for.
 */
export function prepareFormatters(locale?: string): void {
  dateTimeFormat(locale).format(0);
  numberFormat(locale).format(0);
}

/** `2000` millicores → "2", `500` → "0.5". */
export function formatCores(cpuMillicores: number, locale?: string): string {
  return numberFormat(locale, { maximumFractionDigits: 3 }).format(cpuMillicores / 1000);
}

/** MiB → "512 MiB" or "4 GiB" (binary units, as Kubernetes and the tiers use them). */
export function formatMemory(memoryMiB: number, locale?: string): string {
  const nf = numberFormat(locale, { maximumFractionDigits: 1 });
  return memoryMiB >= 1024 ? `${nf.format(memoryMiB / 1024)} GiB` : `${nf.format(memoryMiB)} MiB`;
}

/** GiB → "20 GiB" or "1 TiB". */
export function formatStorage(storageGiB: number, locale?: string): string {
  const nf = numberFormat(locale, { maximumFractionDigits: 1 });
  return storageGiB >= 1024 ? `${nf.format(storageGiB / 1024)} TiB` : `${nf.format(storageGiB)} GiB`;
}

/**
 * Micro-NexCoin (an integer) → NexCoin for display, e.g. `1_250_000` → "1.25". The integer is split into
 * whole and fractional parts so no floating-point rounding can show up in a price.
 */
export function formatNexCoin(microNexCoin: number, locale?: string): string {
  const sign = microNexCoin < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(microNexCoin));
  const whole = Math.trunc(abs / 1_000_000);
  const fraction = String(abs % 1_000_000)
    .padStart(6, '0')
    .replace(/0+$/, '');
  const nf = numberFormat(locale);
  const decimal = nf.formatToParts(1.5).find((p) => p.type === 'decimal')?.value ?? '.';
  const wholeText = nf.format(whole);
  return `${sign}${wholeText}${fraction ? decimal + (fraction.length < 2 ? fraction.padEnd(2, '0') : fraction) : ''}`;
}

/**
 * The last 8 characters of a session id, enough to tell sessions apart in a table: ids are time-ordered
 * (UUID version 7), so their first characters are the same for every session started in the same minute.
 */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(-8) : id;
}

/** ISO timestamp → local date and time ("26 Nov 2025, 07:06"). Unparseable input is returned unchanged. */
export function formatDateTime(iso: string, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return dateTimeFormat(locale).format(date);
}

export type Tone = 'success' | 'warning' | 'danger' | 'neutral';

const STATE_LABELS: Record<SessionState, [label: string, tone: Tone]> = {
  requested: ['Requested', 'warning'],
  provisioning: ['Provisioning', 'warning'],
  active: ['Active', 'success'],
  pausing: ['Pausing', 'warning'],
  paused: ['Paused', 'neutral'],
  // Kubernetes runtime, after a while paused: the disk is kept, the memory is not.
  hibernated: ['Hibernated (disk kept)', 'neutral'],
  resuming: ['Resuming', 'warning'],
  // The desktop stopped answering: it is being started again on its kept disk.
  restarting: ['Restarting (desktop stopped answering)', 'warning'],
  terminating: ['Terminating', 'warning'],
  terminated: ['Terminated', 'neutral'],
  failed: ['Failed', 'danger'],
};

/** Human label of a session state. */
export function stateLabel(state: SessionState): string {
  return STATE_LABELS[state]?.[0] ?? state;
}

/** Badge tone of a session state. */
export function stateTone(state: SessionState): Tone {
  return STATE_LABELS[state]?.[1] ?? 'neutral';
}

/** A duration for people: "45 s", "3 min 05 s", "1 h 05 min", "2 d 3 h". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${pad(m % 60)} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/**
 * Time a session has been billable, estimated from what the API returns: launch (`createdAt`) until now while it
 * runs, or until its last state change (`canonTimestamp`) once it is paused or has ended. A session that was
 * paused and resumed is over-estimated by its earlier pauses; the server's usage record is the exact figure.
 */
export function estimateActiveMs(session: Session, now: number): number {
  const created = Date.parse(session.createdAt);
  if (Number.isNaN(created)) return 0;
  switch (session.state) {
    case 'requested':
    case 'provisioning':
      return 0;
    case 'active':
    case 'pausing':
      return Math.max(0, now - created);
    default:
      return Math.max(0, Date.parse(session.canonTimestamp) - created || 0);
  }
}

/** Tier rate × time, in integer micro-NexCoin, rounded up as the server bills it (exact: BigInt, no floats). */
export function costMicroNexCoin(microNexCoinPerHour: number, activeMs: number): number {
  const cost =
    (BigInt(Math.max(0, Math.round(activeMs))) * BigInt(Math.max(0, Math.trunc(microNexCoinPerHour))) +
      3_599_999n) /
    3_600_000n;
  return Number(cost);
}
