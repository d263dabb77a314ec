import type { SessionState } from '../../protocol/session.ts';

const locales = (locale: string | undefined): string | undefined => (locale ? locale : undefined);

/** `2000` millicores → "2", `500` → "0.5". */
export function formatCores(cpuMillicores: number, locale?: string): string {
  return new Intl.NumberFormat(locales(locale), { maximumFractionDigits: 3 }).format(cpuMillicores / 1000);
}

/** MiB → "512 MiB" or "4 GiB" (binary units, as Kubernetes and the tiers use them). */
export function formatMemory(memoryMiB: number, locale?: string): string {
  const nf = new Intl.NumberFormat(locales(locale), { maximumFractionDigits: 1 });
  return memoryMiB >= 1024 ? `${nf.format(memoryMiB / 1024)} GiB` : `${nf.format(memoryMiB)} MiB`;
}

/** GiB → "20 GiB" or "1 TiB". */
export function formatStorage(storageGiB: number, locale?: string): string {
  const nf = new Intl.NumberFormat(locales(locale), { maximumFractionDigits: 1 });
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
  const parts = new Intl.NumberFormat(locales(locale)).formatToParts(1.5);
  const decimal = parts.find((p) => p.type === 'decimal')?.value ?? '.';
  const wholeText = new Intl.NumberFormat(locales(locale)).format(whole);
  return `${sign}${wholeText}${fraction ? decimal + (fraction.length < 2 ? fraction.padEnd(2, '0') : fraction) : ''}`;
}

/** The first 8 characters of a session id, enough to tell sessions apart in a table. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/** ISO timestamp → local date and time ("26 Nov 2025, 07:06"). Unparseable input is returned unchanged. */
export function formatDateTime(iso: string, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locales(locale), { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

export type Tone = 'success' | 'warning' | 'danger' | 'neutral';

const STATE_LABELS: Record<SessionState, [label: string, tone: Tone]> = {
  requested: ['Requested', 'warning'],
  provisioning: ['Provisioning', 'warning'],
  active: ['Active', 'success'],
  pausing: ['Pausing', 'warning'],
  paused: ['Paused', 'neutral'],
  resuming: ['Resuming', 'warning'],
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
