/**
 * Help text, generated from the command specs: `dsmp --help`, `dsmp <group> --help`, `dsmp <command> --help`.
 */
import type { CliCommand, OptionSpec } from "./command-spec.ts";
import { GLOBAL_OPTIONS } from "./global-options.ts";

const startsWith = (path: readonly string[], prefix: readonly string[]) => prefix.every((word, i) => path[i] === word);

function optionLabel(option: OptionSpec): string {
  const long = `--${option.name}${option.type === "string" ? ` ${option.value ?? "<value>"}` : ""}`;
  return option.short === undefined ? long : `-${option.short}, ${long}`;
}

function block(title: string, rows: readonly (readonly [string, string])[]): string {
  if (rows.length === 0) return "";
  const width = Math.min(Math.max(...rows.map(([label]) => label.length)), 32);
  const lines = rows.map(([label, text]) => (label.length > width ? `  ${label}\n  ${" ".repeat(width)}  ${text}` : `  ${label.padEnd(width)}  ${text}`));
  return `\n${title}:\n${lines.join("\n")}\n`;
}

/** `dsmp service publish --name <name> [options]`: the command, its required flags and its arguments. */
export function usageLine(command: CliCommand): string {
  const required = (command.options ?? []).filter((option) => option.required === true).map(optionLabel);
  const args = (command.positionals ?? []).map((p) => (p.optional === true ? `[<${p.name}>]` : `<${p.name}>`));
  return ["dsmp", ...command.path, ...args, ...required, "[options]"].join(" ");
}

/** Full help of one command. */
export function commandHelp(command: CliCommand, commands: readonly CliCommand[]): string {
  const subcommands = commands.filter((other) => other.path.length > command.path.length && startsWith(other.path, command.path));
  const about = command.description ?? `${command.summary.charAt(0).toUpperCase()}${command.summary.slice(1)}.`;
  let text = `Usage: ${usageLine(command)}\n\n${about}\n`;
  text += block(
    "Arguments",
    (command.positionals ?? []).map((p) => [`<${p.name}>`, p.optional === true ? `${p.description} (optional)` : p.description]),
  );
  text += block(
    "Options",
    (command.options ?? []).map((o) => [optionLabel(o), o.required === true ? `${o.description} (required)` : o.description]),
  );
  text += block("Global options", GLOBAL_OPTIONS.map((o) => [optionLabel(o), o.description]));
  text += block("Subcommands", subcommands.map((c) => [c.path.join(" "), c.summary]));
  if (command.examples !== undefined && command.examples.length > 0) {
    text += `\nExamples:\n${command.examples.map((example) => `  ${example}`).join("\n")}\n`;
  }
  return text;
}

/** The commands under `prefix` (`dsmp service --help`), or all of them for an empty prefix. */
export function commandListHelp(prefix: readonly string[], commands: readonly CliCommand[]): string {
  const listed = commands.filter((command) => startsWith(command.path, prefix));
  const head =
    prefix.length === 0
      ? "Usage: dsmp <command> [arguments] [options]\n\nDSMP command line: stake, register Xnodes, publish services and subscribe to them on-chain.\n"
      : `Usage: dsmp ${prefix.join(" ")} <command> [arguments] [options]\n`;
  return (
    head +
    block("Commands", listed.map((c) => [[...c.path, ...(c.positionals ?? []).map((p) => (p.optional === true ? `[<${p.name}>]` : `<${p.name}>`))].join(" "), c.summary])) +
    block("Global options", GLOBAL_OPTIONS.map((o) => [optionLabel(o), o.description])) +
    `\nRun \`dsmp <command> --help\` for the options of a command.\n`
  );
}
