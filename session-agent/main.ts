// The session agent: `node session-agent/main.ts` (bundled to main.mjs in the session image).
// Configuration comes from the environment (see agentConfigFromEnv); prints one JSON line on standard output
// when the desktop is ready (or failed), logs JSON lines on standard error.
import { HANDSHAKE } from '../protocol/handshake.ts';
import { SessionAgent, agentConfigFromEnv, type AgentLog } from './agent.ts';
import type { AgentReadyLine } from './protocol.ts';

const log: AgentLog = (level, message, extra = {}) => {
  console.error(
    JSON.stringify({
      timestamp: new Date().toISOString(),
      level,
      module: 'v-supercore',
      service: 'session-agent',
      handshake: HANDSHAKE,
      message,
      ...extra,
    }),
  );
};

function announce(line: AgentReadyLine): void {
  // The reader may close its end once it has the line; a later write must not crash the agent.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

async function main(): Promise<void> {
  let agent: SessionAgent;
  try {
    agent = new SessionAgent(agentConfigFromEnv(process.env), log);
    const { controlPort } = await agent.start();
    announce({
      event: 'ready',
      controlPort,
      rfbPort: Number(process.env.RFB_PORT || 5900),
      display: agent.display,
      xvncPid: agent.xvncPid,
      desktopPgid: agent.desktopPgid,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    log('error', 'the desktop could not be started', { reason });
    announce({ event: 'failed', reason });
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log('info', `${signal}: stopping the desktop`);
    void agent.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // The desktop ended (stopped through the endpoint, or on its own): the agent's work is done.
  agent.onExit((code) => {
    if (stopping) return;
    process.exitCode = code === 0 ? 0 : 1;
    setTimeout(() => process.exit(), 20);
  });
}

void main();
