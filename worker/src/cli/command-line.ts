/**
 * From argv to the command to run: find the longest command path among the leading words, parse its flags
 * strictly with node:util parseArgs (global flags may come anywhere), check arguments and required flags.
 * Every mistake is a CliUsageError carrying the usage text to print; `--help` anywhere returns help text.
 */
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { CliUsageError } from "../errors.ts";
import type { CliCommand, CommandInput, OptionSpec } from "./command-spec.ts";
import { GLOBAL_OPTIONS, resolveGlobalOptions } from "./global-options.ts";
import { commandHelp, commandListHelp, usageLine } from "./help.ts";

/** The version of `dsmp`: the worker package's. */
export const DSMP_VERSION: string = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export type ResolvedCommandLine = { kind: "help"; text: string } | { kind: "run"; command: CliCommand; input: CommandInput };

function parseConfig(options: readonly OptionSpec[]): ParseArgsOptionsConfig {
  const config: ParseArgsOptionsConfig = {};
  for (const option of options) config[option.name] = option.short === undefined ? { type: option.type } : { type: option.type, short: option.short };
  return config;
}

function usageHint(command: CliCommand): string {
  return `Usage: ${usageLine(command)}\nRun \`dsmp ${command.path.join(" ")} --help\` for details.\n`;
}

/** The error node:util parseArgs threw, in our words. */
function parseError(error: unknown, usage: string): CliUsageError {
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error as Error).message;
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return new CliUsageError(`unknown option ${option ?? message}`, { usage, cause: error });
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return new CliUsageError(message.includes("argument missing") ? `${option ?? "an option"} needs a value` : `${option ?? "an option"} takes no value`, {
      usage,
      cause: error,
    });
  }
  return new CliUsageError(message, { usage, cause: error });
}

/**
 * Resolve `argv` (without `node` and the script) against `commands`.
 * @throws {CliUsageError} unknown command or option, missing or extra argument, missing required option.
 */
export function resolveCommandLine(
  argv: readonly string[],
  commands: readonly CliCommand[],
  env: Readonly<Record<string, string | undefined>>,
): ResolvedCommandLine {
  const loose = parseArgs({ args: [...argv], options: parseConfig(GLOBAL_OPTIONS), strict: false, allowPositionals: true });
  const words = loose.positionals;
  // `dsmp help [command…]` is `dsmp [command…] --help`.
  if (words[0] === "help" && !commands.some((c) => c.path[0] === "help")) {
    const rest = [...argv];
    rest.splice(rest.indexOf("help"), 1);
    return resolveCommandLine([...rest, "--help"], commands, env);
  }
  // Wherever it stands: `dsmp node start --version` must not start a node.
  if (loose.values["version"] === true) return { kind: "help", text: `dsmp ${DSMP_VERSION}\n` };
  const wantsHelp = loose.values["help"] === true;
  const topHelp = commandListHelp([], commands);

  let command: CliCommand | undefined;
  for (const candidate of commands) {
    const matches = candidate.path.every((word, i) => words[i] === word);
    if (matches && (command === undefined || candidate.path.length > command.path.length)) command = candidate;
  }
  if (command === undefined) {
    if (words.length === 0) {
      if (wantsHelp) return { kind: "help", text: topHelp };
      throw new CliUsageError("no command given", { usage: topHelp });
    }
    const group = words[0]!;
    if (commands.some((c) => c.path[0] === group)) {
      const groupHelp = commandListHelp([group], commands);
      if (wantsHelp && words.length === 1) return { kind: "help", text: groupHelp };
      throw new CliUsageError(words.length === 1 ? `${group} needs a subcommand` : `unknown command: ${words.slice(0, 2).join(" ")}`, { usage: groupHelp });
    }
    throw new CliUsageError(`unknown command: ${group}`, { usage: topHelp });
  }
  if (wantsHelp) return { kind: "help", text: commandHelp(command, commands) };

  const usage = usageHint(command);
  const specs = [...GLOBAL_OPTIONS, ...(command.options ?? [])];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: parseConfig(specs), strict: true, allowPositionals: true });
  } catch (error) {
    throw parseError(error, usage);
  }
  const rest = parsed.positionals.slice(command.path.length);
  const positionalSpecs = command.positionals ?? [];
  if (rest.length > positionalSpecs.length) throw new CliUsageError(`unexpected argument: ${rest[positionalSpecs.length]}`, { usage });
  const missingArgument = positionalSpecs.find((spec, i) => spec.optional !== true && rest[i] === undefined);
  if (missingArgument !== undefined) throw new CliUsageError(`missing <${missingArgument.name}>`, { usage });
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const missingOption = (command.options ?? []).find((option) => option.required === true && values[option.name] === undefined);
  if (missingOption !== undefined) throw new CliUsageError(`missing --${missingOption.name}`, { usage });

  let global;
  try {
    global = resolveGlobalOptions(values, env);
  } catch (error) {
    if (error instanceof CliUsageError) throw new CliUsageError(error.shortMessage, { usage, cause: error });
    throw error;
  }
  const argumentAt = (name: string) => {
    const index = positionalSpecs.findIndex((spec) => spec.name === name);
    if (index < 0) throw new Error(`command ${command.path.join(" ")} declares no argument ${name}`);
    return rest[index];
  };
  const input: CommandInput = {
    global,
    env,
    string: (name) => (typeof values[name] === "string" ? (values[name] as string) : undefined),
    requiredString: (name) => {
      const value = values[name];
      if (typeof value !== "string") throw new CliUsageError(`missing --${name}`, { usage });
      return value;
    },
    flag: (name) => values[name] === true,
    argument: (name) => {
      const value = argumentAt(name);
      if (value === undefined) throw new CliUsageError(`missing <${name}>`, { usage });
      return value;
    },
    optionalArgument: (name) => argumentAt(name),
  };
  return { kind: "run", command, input };
}
