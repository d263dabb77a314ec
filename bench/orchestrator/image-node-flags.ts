import { readFileSync } from 'node:fs';

/**
 * The node flags the adapter's image starts it with (its Dockerfile's CMD, between `node` and the script),
 * so a benchmark measures the process as it runs in production.
 */
export function imageNodeFlags(): string[] {
  const dockerfile = readFileSync(new URL('../../backend-adapter/Dockerfile', import.meta.url), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
  if (!cmd) throw new Error('the adapter Dockerfile has no CMD in exec form');
  const argv = JSON.parse(cmd) as string[];
  if (argv[0] !== 'node') throw new Error(`the adapter image does not start with node: ${cmd}`);
  return argv.slice(1, -1);
}
