import { loadConfig } from './config.ts';
import { startAdapter } from './start-adapter.ts';
import { startStreamGateway } from './start-stream-gateway.ts';

/** The backend adapter in the role ADAPTER_ROLE names (config.ts), configured by environment variables. */
const config = loadConfig(process.env);
const running =
  config.role === 'stream-gateway' ? await startStreamGateway(config) : await startAdapter(config);
process.stdout.write(`v-SuperCore backend adapter (${config.role}) listening on ${running.url}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void running.close().then(() => process.exit(0)));
}
