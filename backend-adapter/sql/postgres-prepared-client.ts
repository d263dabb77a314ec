import pg from 'pg';
import type { PoolTraffic } from './pool-traffic.ts';
import type { ServerContact } from './server-contact.ts';

/**
 * A pool's options as its clients get them: `contact` hears every answer and every lost connection;
 * `traffic` counts what the pool's connections send.
 */
export interface PreparingClientConfig extends pg.ClientConfig {
  contact?: ServerContact;
  traffic?: PoolTraffic;
}

/** One name per distinct statement text, shared by every connection of the process. */
const names = new Map<string, string>();
/**
 * Texts built at run time (an `IN ($1, …, $n)` of each length) are few but not fixed: past this many, new
 * texts go unprepared, so no connection keeps an unbounded number of statements.
 */
const MAX_PREPARED = 2000;

function nameOf(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_PREPARED) {
    name = `vsc_${names.size}`;
    names.set(text, name);
  }
  return name;
}

/** A query config with parameters and no name (not a Query object, which carries its own state). */
function isUnnamed(config: unknown): config is pg.QueryConfig {
  if (typeof config !== 'object' || config === null || 'submit' in config) return false;
  const c = config as Partial<pg.QueryConfig>;
  return typeof c.text === 'string' && c.name === undefined && Array.isArray(c.values) && c.values.length > 0;
}

/**
 * A node-postgres client that prepares every parameterised statement once per connection and then only binds
 * and executes it: PostgreSQL parses and plans the hot statements (a transition, a charge) once instead of
 * on every request (a sixth of PostgreSQL's CPU per create → terminate here). Statements without parameters
 * (BEGIN, COMMIT, multi-statement migrations) still go as simple queries, and a config that already has a
 * name keeps it. Pools take it as their `Client`.
 *
 * A prepared `SELECT *` is tied to the table's columns when prepared; the stores migrate before their first
 * statement and never alter tables while serving.
 */
export class PreparingClient extends pg.Client {
  private corked = false;
  private readonly traffic: PoolTraffic | undefined;

  constructor(config?: string | PreparingClientConfig) {
    super(config);
    const contact = typeof config === 'object' ? config.contact : undefined;
    this.traffic = typeof config === 'object' ? config.traffic : undefined;
    if (contact) {
      // ReadyForQuery closes every exchange, a refused statement's too: the server is there.
      this.connection.on('readyForQuery', () => contact.answered());
      this.connection.on('end', () => contact.lost());
    }
    // A connection lost while a transaction or a scan holds this client (a server restart, a terminated
    // backend) rejects the queries in flight, which is how the holder learns of it, and then emits 'error'.
    // The pool listens only while the client is idle; with nobody listening, that event would crash the
    // process. The holder's ROLLBACK fails too, so the client is released as broken and never reused.
    this.on('error', () => undefined);
  }

  // node-postgres's query() has many overloads; this one forwards them all unchanged but the named case.
  override query(...args: unknown[]): never {
    if (this.traffic) this.traffic.statements++;
    this.coalesceWrites();
    const [config, values] = args;
    if (typeof config === 'string') {
      const name = Array.isArray(values) && values.length > 0 ? nameOf(config) : undefined;
      if (name !== undefined) args[0] = { name, text: config };
    } else if (isUnnamed(config)) {
      const name = nameOf(config.text);
      if (name !== undefined) args[0] = { ...config, name };
    }
    return (super.query as (...a: unknown[]) => never)(...args);
  }

  /**
   * In pipeline mode node-postgres writes each query to the socket as it is asked for: one system call per
   * query, and a quarter of the adapter's CPU on a create → terminate went to those writes. Queries asked for
   * in the same tick (a transaction's BEGIN and its first statement) now leave in one write.
   */
  private coalesceWrites(): void {
    if (this.corked) return;
    // Without pipelining each query leaves on its own (when the one before it has been answered).
    if (this.traffic) this.traffic.writes++;
    if (!this.pipeline) return;
    const stream = this.connection.stream;
    stream.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      stream.uncork();
    });
  }
}
