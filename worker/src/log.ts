/**
 * The logger the worker library writes to: a narrow interface (five levels and `child`) so modules never
 * depend on pino directly, and tests pass {@link createSilentLogger} or a logger on an in-memory stream.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from "pino";

/** Levels from the most verbose; `silent` turns logging off. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "silent"] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

/** Log a message, or structured fields and a message (`log.info({ peer }, "dialled")`). */
export interface LogFn {
  (msg: string): void;
  (fields: Record<string, unknown>, msg?: string): void;
}

/** Fields every line of a child logger carries; `module` names the subsystem (`p2p`, `keystore`, …). */
export interface LoggerBindings {
  module: string;
  [field: string]: unknown;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: LoggerBindings): Logger;
}

/**
 * `info`: start-up, peers joining and leaving, records published — a few lines a minute on a busy node.
 * `debug` adds one line per request and is meant for chasing a problem, not for running.
 */
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

export interface LoggerOptions {
  /** @default {@link DEFAULT_LOG_LEVEL} */
  level?: LogLevel;
  /** Added to every line as `name` (e.g. the node's PeerId in multi-node tests). */
  name?: string;
  /** Where JSON lines go; stdout when absent. */
  destination?: DestinationStream;
}

/** A pino-backed logger writing one JSON object per line. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const init = { level: options.level ?? DEFAULT_LOG_LEVEL, ...(options.name === undefined ? {} : { name: options.name }) };
  const instance = options.destination === undefined ? pino(init) : pino(init, options.destination);
  return fromPino(instance);
}

/** A logger that drops everything, for tests and library callers that bring no logger. */
export function createSilentLogger(): Logger {
  return fromPino(pino({ level: "silent" }));
}

function fromPino(instance: PinoLogger): Logger {
  return {
    trace: instance.trace.bind(instance) as LogFn,
    debug: instance.debug.bind(instance) as LogFn,
    info: instance.info.bind(instance) as LogFn,
    warn: instance.warn.bind(instance) as LogFn,
    error: instance.error.bind(instance) as LogFn,
    child: (bindings) => fromPino(instance.child(bindings)),
  };
}
