/**
 * winston JSON logging with a component tag on every record and credentials redacted everywhere.
 */
import winston from 'winston';
import { redactCredentials } from './redact.js';

export type Logger = winston.Logger;

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** Component tag written on every record, e.g. `vt-manager`, `oxad-agent`. */
  component: string;
  /** winston level; default `info`, or `$KVMCRM_LOG_LEVEL` when set. */
  level?: string;
  /** `json` (default; one JSON object per line) or `pretty` (human-readable, for the demo). */
  format?: 'json' | 'pretty';
  /** Write to stderr instead of stdout (CLI tools keep stdout for their output). Default false. */
  stderr?: boolean;
  /** Log nothing (tests). Default false. */
  silent?: boolean;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = (info as Record<string, unknown>)[key];
    if (typeof v === 'string') (info as Record<string, unknown>)[key] = redactCredentials(v);
  }
  if (typeof info.message === 'string') info.message = redactCredentials(info.message);
  return info;
});

/** Creates the process logger. Every string field of every record passes {@link redactCredentials}. */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.format === 'pretty';
  return winston.createLogger({
    level: options.level ?? process.env.KVMCRM_LOG_LEVEL ?? 'info',
    silent: options.silent ?? false,
    defaultMeta: { component: options.component },
    format: winston.format.combine(
      redactFormat(),
      winston.format.timestamp(),
      pretty
        ? winston.format.printf((i) => {
            const { timestamp, level, message, component, ...rest } = i;
            const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
            return `${String(timestamp)} ${String(component)} ${level}: ${String(message)}${extra}`;
          })
        : winston.format.json(),
    ),
    transports: [
      new winston.transports.Console({
        stderrLevels: options.stderr ? Object.keys(winston.config.npm.levels) : ['error'],
      }),
    ],
  });
}
