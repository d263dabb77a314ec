// Kubernetes resource quantities ("500m", "2", "4Gi", "1Ti", "1e3") for the FAKE API server.

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The quantity as a number of base units (cores, bytes), or undefined when it is not a quantity. */
export function parseQuantity(text: unknown): number | undefined {
  if (typeof text === 'number') return text;
  if (typeof text !== 'string') return undefined;
  const m = /^([+-]?[0-9.]+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/.exec(text);
  if (!m || !/^[+-]?(\d+\.?\d*|\.\d+)$/.test(m[1] ?? '')) return undefined;
  const n = Number(m[1]);
  if (m[2]) return n * 10 ** Number(m[2].slice(1));
  const suffix = m[3] ?? '';
  return n * (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
}

/** The API server's canonical form: cores as "2" or "500m", bytes with the largest exact binary suffix. */
export function formatQuantity(resource: string, value: number): string {
  if (resource.endsWith('cpu')) {
    const milli = Math.round(value * 1000);
    return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
  }
  if (resource.endsWith('memory') || resource.endsWith('storage')) {
    for (const suffix of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki']) {
      const unit = BINARY[suffix] ?? 1;
      if (value >= unit && value % unit === 0) return `${value / unit}${suffix}`;
    }
  }
  return String(value);
}
