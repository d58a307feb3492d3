/**
 * pino: JSON lines for machines, pretty lines when a person watches a terminal.
 * GATEWAY_LOG_FORMAT=json|pretty overrides the guess.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(level = 'info', format = process.env.GATEWAY_LOG_FORMAT): Logger {
  const usePretty = format ? format === 'pretty' : process.stdout.isTTY;
  if (!usePretty) return pino({ level, base: undefined });
  return pino(
    { level, base: undefined },
    pretty({ colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true, sync: true }),
  );
}

/** A logger that drops everything: for tests and one-shot CLI commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
