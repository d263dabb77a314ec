import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString } from 'pino';

type Method = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Fastify's per-request logger (the request id bound), made only when a request first logs. Fastify makes one
 * for every request, and pino runs the redaction paths over a child's bindings when it makes it: 2.6 % of the
 * event loop in the API latency profile, for loggers that almost no request uses (request lines are off;
 * errors and a few warnings log). A line written below the level makes no child either.
 */
export class LazyRequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;
  private levelOverride: LevelWithSilentOrString | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get level(): LevelWithSilentOrString {
    return this.made?.level ?? this.levelOverride ?? this.options.level ?? this.parent.level;
  }

  set level(level: LevelWithSilentOrString) {
    if (this.made) this.made.level = level;
    else this.levelOverride = level;
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger().child(bindings, options);
  }

  private logger(): FastifyBaseLogger {
    if (!this.made) {
      this.made = this.parent.child(this.bindings, this.options);
      if (this.levelOverride !== undefined) this.made.level = this.levelOverride;
    }
    return this.made;
  }

  private write(name: Method, args: unknown[]): void {
    if (!this.made && !this.enabled(name)) return;
    // The arguments go on exactly as given (pino's LogFn overloads cannot be spread into).
    (this.logger()[name] as (...a: unknown[]) => void)(...args);
  }

  /** Whether a line at `name` would be written, asked of the parent (which knows the level names' values). */
  private enabled(name: Method): boolean {
    const parent = this.parent as FastifyBaseLogger & {
      levels?: { values: Record<string, number> };
    };
    const values = parent.levels?.values;
    const threshold = values?.[this.level];
    if (!values || threshold === undefined) return true;
    return (values[name] ?? Infinity) >= threshold;
  }
}
