/** The pino root logger: pretty on a terminal, JSON otherwise, secrets redacted. */
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.query.http_key',
  'headers.authorization',
  '*.password',
  '*.token',
  '*.refresh_token',
  '*.refreshToken',
  'password',
  'token',
  'refresh_token',
];

export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, isTty: boolean): Logger {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && isTty);
  return pino({
    level: config.logLevel,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  });
}
