/** Structured logs to stderr (stdout is for what a user or script reads). */
import { pino, type Logger } from 'pino';

export function createLogger(name: string): Logger {
  return pino({ name, level: process.env['NV_LOG_LEVEL'] ?? 'info' }, pino.destination(2));
}

/** Adapts a pino logger to the `(line, err?)` callback the runtime takes. */
export function logLine(logger: Logger): (line: string, err?: unknown) => void {
  return (line, err) => (err === undefined ? logger.info(line) : logger.error({ err }, line));
}
