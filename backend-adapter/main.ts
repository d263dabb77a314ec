import { loadConfig } from './config.ts';
import { startAdapter } from './start-adapter.ts';

/** The backend adapter on its own (the orchestrator role), configured by environment variables. */
const adapter = await startAdapter(loadConfig(process.env));
process.stdout.write(`v-SuperCore backend adapter listening on ${adapter.url}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void adapter.close().then(() => process.exit(0)));
}
