/**
 * Where a command writes, and how it learns it should stop. Commands never touch `process` directly, so
 * tests run them in-process with {@link createMemoryIo} and read what they printed.
 */

export interface CliIo {
  /** Writes `text` as is (commands add the newlines). */
  stdout(text: string): void;
  stderr(text: string): void;
  /** stdout is a terminal: tables get aligned columns and a header; a pipe gets tab-separated rows. */
  isTTY: boolean;
  /** Aborted on the first SIGINT: commands stop before their next transaction. */
  signal: AbortSignal;
}

/** The process's own streams. */
export function processIo(signal: AbortSignal): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
    signal,
  };
}

/** An IO that records what was written; `isTTY` false unless asked (tests, embedding). */
export interface MemoryIo extends CliIo {
  out(): string;
  err(): string;
}

export function createMemoryIo(options: { isTTY?: boolean; signal?: AbortSignal } = {}): MemoryIo {
  let out = "";
  let err = "";
  return {
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    isTTY: options.isTTY ?? false,
    signal: options.signal ?? new AbortController().signal,
    out: () => out,
    err: () => err,
  };
}
