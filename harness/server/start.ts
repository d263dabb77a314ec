/**
 * `npm start`: the standalone dev harness on embedded defaults. Environment: PORT (page + API, default 8080),
 * REMOTE_PORT (the remote's static server, default 8081), HOST (default 127.0.0.1), DATA_DIR (default .data);
 * everything else (LOG_LEVEL, XVNC_BIN …) goes to the backend adapter's config as is.
 */
import { startHarness } from './start-harness.ts';

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new Error(`${name} must be a port number (0-65535), got "${raw}"`);
  }
  return value;
}

try {
  const harness = await startHarness({
    port: port('PORT', 8080),
    remotePort: port('REMOTE_PORT', 8081),
    host: process.env.HOST || '127.0.0.1',
    dataDir: process.env.DATA_DIR || '.data',
    env: process.env,
  });
  console.log(`v-SuperCore dev harness: ${harness.url}/`);
  console.log(`v-SuperCore remote (Module Federation): ${harness.remoteUrl}/mf-manifest.json`);

  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    // A second Ctrl-C while closing means "now".
    if (closing) process.exit(130);
    closing = true;
    console.log(`${signal}: closing the dev harness…`);
    harness.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('The dev harness did not close cleanly:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
} catch (error) {
  console.error('The dev harness could not start:', error instanceof Error ? error.message : error);
  process.exit(1);
}
