/**
 * The common entry-point logic of the two daemons: `--config <file>` (or an environment variable), start,
 * stop cleanly on SIGTERM/SIGINT, exit 1 with a one-line reason when start-up fails.
 */
import { describeError } from './errors.js';
import { createLogger, type Logger } from './logger.js';

/** Options of {@link runDaemon}. */
export interface DaemonSpec<O extends { logFormat: 'json' | 'pretty' }> {
  /** Program name, also the log component (`vt-manager`, `oxad-agent`). */
  name: string;
  /** Environment variable naming the config file when `--config` is not given. */
  configEnv: string;
  /** Loads and validates the config file. @throws InputError with a clear message. */
  load(file: string): O;
  /** Starts the daemon; resolves to something that can be stopped. */
  start(options: O, logger: Logger): Promise<{ stop(): Promise<void> }>;
}

/** Runs a daemon for the life of the process. Never resolves before the process exits on a signal. */
export function runDaemon<O extends { logFormat: 'json' | 'pretty' }>(spec: DaemonSpec<O>): void {
  const main = async () => {
    const i = process.argv.indexOf('--config');
    const file = i >= 0 ? process.argv[i + 1] : process.env[spec.configEnv];
    if (!file) {
      process.stderr.write(`usage: ${spec.name} --config <file.json> (or set ${spec.configEnv})\n`);
      process.exit(2);
    }
    const options = spec.load(file);
    const logger = createLogger({ component: spec.name, format: options.logFormat });
    const daemon = await spec.start(options, logger);
    const stop = async (signal: string) => {
      logger.info('stopping', { signal });
      await daemon.stop();
      process.exit(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  };
  main().catch((err: unknown) => {
    process.stderr.write(`${spec.name}: ${describeError(err)}\n`);
    process.exit(1);
  });
}
