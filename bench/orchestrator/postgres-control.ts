import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { postgresCpuMs } from './process-cpu.ts';
import { createScratchDatabase } from './scratch-database.ts';

const run = promisify(execFile);

/** pgbench's own write transaction, the simplest it has: BEGIN, an UPDATE, a SELECT, an INSERT, END. */
const SCRIPT = 'simple-update';
/** As many as Canon Memory's pool holds. */
const CLIENTS = 10;

export interface PostgresControl {
  /** The transaction's SQL commands, e.g. "BEGIN, UPDATE, SELECT, INSERT, END". */
  commands: string;
  transactionsPerSecond: number;
  statementsPerSecond: number;
  /** PostgreSQL's CPU time (every process of the server) per statement, in µs. */
  cpuPerStatementUs: number;
}

/**
 * The database's control, as control-server.ts is the HTTP one: pgbench's simplest write transaction on the
 * same server, prepared, with as many clients as Canon Memory's pool holds, for `seconds`. Its PostgreSQL CPU
 * per statement is what a statement costs this server on this machine at the least; the adapter's lines
 * give theirs, so the two show whether the adapter's statements are dear or the machine is slow. pgbench
 * itself runs on the same cores, as the load generator does beside the adapter. Undefined (with the reason
 * printed) where pgbench is not installed.
 */
export async function measurePostgresControl(seconds: number): Promise<PostgresControl | undefined> {
  let script: string;
  try {
    script = (await run('pgbench', [`--show-script=${SCRIPT}`])).stderr;
  } catch {
    console.log(
      'postgres control: pgbench is not installed here (Debian: postgresql-client); no database control line',
    );
    return undefined;
  }
  // The SQL commands of the script (its other lines are comments and \set meta-commands).
  const commands = script.split('\n').flatMap((l) => /^([A-Z]+)/.exec(l)?.[1] ?? []);
  if (commands.length === 0) throw new Error(`pgbench's ${SCRIPT} script was not understood:\n${script}`);
  const database = await createScratchDatabase('vsc_pgbench');
  try {
    await run('pgbench', ['-i', '-q', '-s', '1', database.url]);
    const before = postgresCpuMs();
    const { stdout } = await run('pgbench', [
      '-n',
      '-b',
      SCRIPT,
      '-M',
      'prepared',
      '-c',
      String(CLIENTS),
      '-j',
      '1',
      '-T',
      String(seconds),
      database.url,
    ]);
    const after = postgresCpuMs();
    const done = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
    if (!(done > 0) || before === undefined || after === undefined) {
      throw new Error(`pgbench's report was not understood:\n${stdout}`);
    }
    const statements = done * commands.length;
    return {
      commands: commands.join(', '),
      transactionsPerSecond: done / seconds,
      statementsPerSecond: statements / seconds,
      cpuPerStatementUs: ((after - before) * 1000) / statements,
    };
  } finally {
    await database.drop();
  }
}
