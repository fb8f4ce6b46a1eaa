/**
 * The `dsmp` command line: `node worker/src/cli/main.ts <command> [arguments] [options]`.
 *
 * {@link runCli} is the whole program as a function (argv + IO in, exit code out), so tests run commands
 * in-process. Exit codes: 0 done, 1 failed (chain, file or network error), 2 usage error, 130 interrupted.
 * Run as a script, the first SIGINT aborts the running command gracefully (it stops before its next
 * transaction); a second one exits at once.
 */
import { BaseError } from "viem";
import { CliUsageError, DsmpError, InterruptedError } from "../errors.ts";
import { processIo, type CliIo } from "./cli-io.ts";
import { resolveCommandLine } from "./command-line.ts";
import type { CliCommand } from "./command-spec.ts";
import { COMMANDS } from "./command-table.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export interface RunCliOptions {
  /** @default {@link COMMANDS} */
  commands?: readonly CliCommand[] | undefined;
  /** @default process.env */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Run one command line; never throws.
 * @example
 * const code = await runCli(["stake", "100", "--json"], createMemoryIo(), { env: { DSMP_PRIVATE_KEY: key } });
 */
export async function runCli(argv: readonly string[], io: CliIo, options: RunCliOptions = {}): Promise<number> {
  const verbose = argv.includes("--verbose");
  try {
    const resolved = resolveCommandLine(argv, options.commands ?? COMMANDS, options.env ?? process.env);
    if (resolved.kind === "help") {
      io.stdout(resolved.text);
      return EXIT_OK;
    }
    await resolved.command.run(resolved.input, io);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io, verbose);
  }
}

/** Print `dsmp: <message>` (and usage or details) to stderr; the exit code for the error. */
function reportError(error: unknown, io: CliIo, verbose: boolean): number {
  if (error instanceof CliUsageError) {
    io.stderr(`dsmp: ${error.shortMessage}\n`);
    if (error.usage !== undefined) io.stderr(`\n${error.usage}`);
    return EXIT_USAGE;
  }
  if (io.signal.aborted && !(error instanceof InterruptedError)) {
    io.stderr("dsmp: interrupted\n");
    return EXIT_INTERRUPTED;
  }
  const message = error instanceof DsmpError || error instanceof BaseError ? error.shortMessage : error instanceof Error ? error.message : String(error);
  io.stderr(`dsmp: ${message}\n`);
  if (verbose) {
    if (error instanceof DsmpError && error.details !== undefined) io.stderr(`\n${error.details}\n`);
    for (let cause = (error as { cause?: unknown }).cause, depth = 0; cause !== undefined && depth < 8; depth++) {
      io.stderr(`\ncaused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}\n`);
      cause = (cause as { cause?: unknown }).cause;
    }
    if (!(error instanceof DsmpError) && error instanceof Error && error.stack !== undefined) io.stderr(`\n${error.stack}\n`);
  } else if (!(error instanceof DsmpError)) {
    io.stderr("(run again with --verbose for details)\n");
  }
  return error instanceof InterruptedError ? EXIT_INTERRUPTED : EXIT_FAILURE;
}

export interface InterruptTrap {
  /** Remove the SIGINT listener. */
  dispose(): void;
}

/**
 * First SIGINT: abort `controller` (every RPC request and the next transaction of the command stop, and it
 * exits 130 with what may still happen). Second SIGINT: `exit(130)` at once.
 */
export function trapInterrupts(
  controller: AbortController,
  hooks: { exit: (code: number) => void; stderr: (text: string) => void } = {
    exit: (code) => process.exit(code),
    stderr: (text) => void process.stderr.write(text),
  },
): InterruptTrap {
  const onSigint = () => {
    if (!controller.signal.aborted) {
      hooks.stderr("\ndsmp: stopping (press Ctrl-C again to force)\n");
      controller.abort(new InterruptedError("interrupted"));
      return;
    }
    hooks.exit(EXIT_INTERRUPTED);
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  return {
    dispose: () => {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigint);
    },
  };
}

if (import.meta.main) {
  const controller = new AbortController();
  trapInterrupts(controller);
  const code = await runCli(process.argv.slice(2), processIo(controller.signal));
  // Keep-alive HTTP sockets of the RPC client would hold the process open for a few seconds more.
  process.exit(code);
}
