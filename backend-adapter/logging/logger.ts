import { pino, type DestinationStream, type Logger } from 'pino';
import { HANDSHAKE, MODULE_NAME } from '../../protocol/handshake.ts';

/**
 * Field names that carry secrets somewhere in the adapter: bearer tokens, the session agent's per-session secret
 * (`agentToken`, and `AGENT_TOKEN` in an agent's or pod's environment), VNC passwords, TURN credentials, keys.
 * Not `secret`: the Kubernetes runtime logs a Secret's name under it, which is what an operator needs.
 */
const SECRET_FIELDS = [
  'password',
  'token',
  'authorization',
  'cookie',
  'credential',
  'privateKey',
  'agentToken',
  'vncPassword',
  'AGENT_TOKEN',
  'VNC_PASSWORD',
] as const;

/**
 * Each secret field at the top of metadata and two levels down (a runtime handle in a session row). pino redacts
 * the logged object before it is nested under `metadata`, so the paths must not start with `metadata.`: paths
 * that did matched nothing, and secrets were written out.
 */
const REDACT_PATHS = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);

/**
 * JSON logs in the spec's shape: timestamp, level, module, service, handshake, message, metadata.
 * Secrets are redacted wherever they appear in metadata, up to two objects deep.
 */
export function createLogger(options: {
  service: string;
  level: string;
  destination?: DestinationStream;
}): Logger {
  return pino(
    {
      level: options.level,
      base: { module: MODULE_NAME, service: options.service, handshake: HANDSHAKE },
      messageKey: 'message',
      nestedKey: 'metadata',
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: REDACT_PATHS,
        censor: '[redacted]',
      },
    },
    options.destination,
  );
}
