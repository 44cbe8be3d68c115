// JSON logs (pino) with secrets redacted wherever they may appear in a logged object.
import { type Logger, pino } from 'pino';

export type { Logger };

const REDACT = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  '*.password',
  'password',
  '*.refreshToken',
  'refreshToken',
  '*.accessToken',
  'accessToken',
  '*.secret',
  'secret',
  'variables.password',
  'variables.refreshToken',
  'variables.input.password',
  // mailbox credentials (connectMailbox) and their sealed form
  'credentials',
  '*.credentials',
  'variables.credentials',
  '*.clientSecret',
  'clientSecret',
  '*.credentialsEncrypted',
  'credentialsEncrypted',
];

export function createLogger(service: string, level: string): Logger {
  return pino({
    level,
    base: { service },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
