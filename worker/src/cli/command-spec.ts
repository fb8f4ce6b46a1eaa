/**
 * What a command declares about itself: its words, arguments, flags, help text and the function that runs
 * it. The parser, the help printer and the tests all read these specs, so a flag exists in one place.
 */
import type { Hex } from "viem";
import type { CliIo } from "./cli-io.ts";

export interface OptionSpec {
  /** Long name without dashes: `rpc-url`. */
  name: string;
  type: "string" | "boolean";
  /** Placeholder shown in help for a string option: `<url>`. */
  value?: string;
  short?: string;
  description: string;
  /** Missing → usage error. */
  required?: boolean;
}

export interface PositionalSpec {
  name: string;
  description: string;
  optional?: boolean;
}

/** Options every command accepts, resolved from flags, environment and defaults. */
export interface GlobalOptions {
  /** JSON-RPC endpoint. */
  rpcUrl: string;
  /** Deployment file; `undefined` means `deployments/<chainId>.json` of this repository. */
  deployment: string | undefined;
  /** Key of the account that signs; `undefined` for read-only use. */
  privateKey: Hex | undefined;
  /** Print JSON instead of text. */
  json: boolean;
  /** Print error details and causes. */
  verbose: boolean;
}

/** A command's parsed command line, handed to its `run`. */
export interface CommandInput {
  global: GlobalOptions;
  env: Readonly<Record<string, string | undefined>>;
  /** A string option's value, `undefined` when not given. */
  string(name: string): string | undefined;
  /** A string option declared `required` (the parser has checked it is there). */
  requiredString(name: string): string;
  /** A boolean option. */
  flag(name: string): boolean;
  /** A required positional argument by its spec name (the parser has checked it is there). */
  argument(name: string): string;
  /** An optional positional argument, `undefined` when left out. */
  optionalArgument(name: string): string | undefined;
}

export interface CliCommand {
  /** The words after `dsmp`: `["service", "publish"]`. */
  path: readonly string[];
  /** One line for the command list. */
  summary: string;
  /** Paragraph(s) for `--help`. */
  description?: string;
  positionals?: readonly PositionalSpec[];
  options?: readonly OptionSpec[];
  examples?: readonly string[];
  run(input: CommandInput, io: CliIo): Promise<void>;
}
