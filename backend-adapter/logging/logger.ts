import { pino, type DestinationStream, type Logger } from 'pino';
import { HANDSHAKE, MODULE_NAME } from '../../protocol/handshake.ts';

/**
 * JSON logs in the spec's shape: timestamp, level, module, service, handshake, message, metadata.
 * Secrets are redacted wherever they appear in metadata.
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
        paths: [
          'metadata.password',
          'metadata.token',
          'metadata.authorization',
          'metadata.*.password',
          'metadata.*.token',
        ],
        censor: '[redacted]',
      },
    },
    options.destination,
  );
}
