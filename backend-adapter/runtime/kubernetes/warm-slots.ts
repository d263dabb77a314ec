/**
 * Names of warm-pool desktops, chosen so that orchestrator replicas refilling a tier at the same time pick the
 * same ones: `vsc-warm-<tier>-<n>`, numbered on from the highest number any replica has used. The desktop's
 * Secret is created first under that name, so of two replicas creating the same desktop the API server lets
 * one through and answers the other 409 AlreadyExists — which counts the name as on its way (being created by
 * the other replica) instead of creating one more.
 */

const PREFIX = 'vsc-warm-';

export function warmBase(tier: string, n: number): string {
  return `${PREFIX}${tier}-${n}`;
}

/** The number in a warm desktop's name of `tier`, or undefined for any other name. */
export function warmNumber(tier: string, base: string): number | undefined {
  const rest = base.startsWith(`${PREFIX}${tier}-`) ? base.slice(PREFIX.length + tier.length + 1) : '';
  return /^(0|[1-9]\d{0,8})$/.test(rest) ? Number(rest) : undefined;
}

interface Pending {
  tier: string;
  until: number;
  /** `ours`: this replica is creating it; `taken`: its Secret already existed (another replica's). */
  whose: 'ours' | 'taken';
}

/**
 * Per tier: the highest number seen or tried (never goes down, so a replica that has seen a desktop deleted
 * picks the same next names as one that has not), and the desktops on their way that the informers do not
 * show yet, each for at most `graceMs`.
 */
export class WarmSlots {
  private readonly highest = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly graceMs: number) {}

  /** Takes note of warm desktop names that exist (from the informers). */
  observe(tier: string, bases: Iterable<string>): void {
    for (const base of bases) this.bump(tier, base);
  }

  private bump(tier: string, base: string): void {
    const n = warmNumber(tier, base);
    if (n !== undefined && n > (this.highest.get(tier) ?? -1)) this.highest.set(tier, n);
  }

  /** The `count` names to create next: after every number seen or tried. */
  next(tier: string, count: number): string[] {
    const from = (this.highest.get(tier) ?? -1) + 1;
    return Array.from({ length: Math.max(0, count) }, (_, i) => warmBase(tier, from + i));
  }

  /** A desktop on its way under `base`: being created here, or by another replica (its name was taken). */
  begin(tier: string, base: string, whose: Pending['whose'], now = Date.now()): void {
    this.bump(tier, base);
    this.pending.set(base, { tier, until: now + this.graceMs, whose });
  }

  /** It will not come (its creation failed and what it made was deleted). */
  abandon(base: string): void {
    this.pending.delete(base);
  }

  /**
   * How many of the tier's desktops are on their way and not in `visible` (names the informers show) yet.
   * Those visible are settled; those past the grace period are forgotten, and the taken ones among them
   * handed to `unfilled` (another replica took the name and never made the desktop).
   */
  onTheWay(
    tier: string,
    visible: ReadonlySet<string>,
    unfilled: (base: string) => void,
    now = Date.now(),
  ): number {
    let n = 0;
    for (const [base, p] of this.pending) {
      if (p.tier !== tier) continue;
      if (visible.has(base)) this.pending.delete(base);
      else if (now >= p.until) {
        this.pending.delete(base);
        if (p.whose === 'taken') unfilled(base);
      } else n++;
    }
    return n;
  }
}
