import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { postgresCpuMs } from './process-cpu.ts';

const run = promisify(execFile);

/** pgbench's own write transaction, the simplest it has: BEGIN, an UPDATE, a SELECT, an INSERT, END. */
const SCRIPT = 'simple-update';
const CLIENTS = 10;

export interface PostgresControl {
  transactionsPerSecond: number;
  statementsPerSecond: number;
  /** PostgreSQL's CPU time (every process of the server) per statement, in µs. */
  cpuPerStatementUs: number;
}

/**
 * The database's control, as control-server.ts is the HTTP one: pgbench's simplest write transaction on the
 * same server, prepared, with as many clients as the adapter's pools hold, for `seconds`. Its PostgreSQL CPU
 * per statement is what a statement costs this server on this machine at the least; the adapter's lines
 * give theirs, so the two show whether the adapter's statements are dear or the machine is slow. pgbench
 * itself runs on the same cores, as the load generator does beside the adapter. Undefined (with the reason
 * printed) where pgbench is not installed.
 */
export async function measurePostgresControl(
  adminUrl: string,
  seconds: number,
): Promise<PostgresControl | undefined> {
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
  const statements = script.split('\n').filter((l) => /^[A-Z]/.test(l)).length;
  const database = `vsc_pgbench_${process.pid}_${Date.now()}`;
  const url = adminUrl.replace(/\/[^/]*$/, `/${database}`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
    await run('pgbench', ['-i', '-q', '-s', '1', url]);
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
      url,
    ]);
    const after = postgresCpuMs();
    const done = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
    if (!(done > 0) || before === undefined || after === undefined) {
      throw new Error(`pgbench's report was not understood:\n${stdout}`);
    }
    return {
      transactionsPerSecond: done / seconds,
      statementsPerSecond: (done * statements) / seconds,
      cpuPerStatementUs: ((after - before) * 1000) / (done * statements),
    };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}
