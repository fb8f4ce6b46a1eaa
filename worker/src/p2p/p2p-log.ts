/**
 * The slice of the worker's logger that the p2p layer writes to.
 *
 * Structural, so the worker's pino-backed logger (`child({ module: "p2p" })`) fits as is, and a
 * test can pass {@link silentP2pLog}. libp2p's own debug logs stay on its `DEBUG=libp2p:*` switch.
 */
export interface P2pLog {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** A logger that drops everything. */
export const silentP2pLog: P2pLog = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
