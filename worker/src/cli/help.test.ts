/**
 * The command line without a chain: every command's --help exits 0 and names all its flags and arguments,
 * mistakes exit 2 with usage, and a command added to the table (as `node start` will be) is dispatched.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createMemoryIo } from "./cli-io.ts";
import type { CliCommand } from "./command-spec.ts";
import { COMMANDS } from "./command-table.ts";
import { GLOBAL_OPTIONS } from "./global-options.ts";
import { EXIT_OK, EXIT_USAGE, runCli } from "./main.ts";

async function dsmp(argv: string[], options: { commands?: readonly CliCommand[]; env?: Record<string, string> } = {}) {
  const io = createMemoryIo();
  const code = await runCli(argv, io, { env: options.env ?? {}, commands: options.commands });
  return { code, out: io.out(), err: io.err() };
}

describe("dsmp --help", () => {
  it.each(COMMANDS.map((command) => [command.path.join(" "), command] as const))("dsmp %s --help", async (_name, command) => {
    const { code, out, err } = await dsmp([...command.path, "--help"]);
    expect(code).toBe(EXIT_OK);
    expect(err).toBe("");
    expect(out).toContain(`Usage: dsmp ${command.path.join(" ")}`);
    for (const option of [...(command.options ?? []), ...GLOBAL_OPTIONS]) expect(out).toContain(`--${option.name}`);
    for (const positional of command.positionals ?? []) expect(out).toContain(`<${positional.name}>`);
  });

  it("lists every command at the top and per group", async () => {
    const top = await dsmp(["--help"]);
    expect(top.code).toBe(EXIT_OK);
    for (const command of COMMANDS) expect(top.out).toContain(command.path.join(" "));
    for (const group of new Set(COMMANDS.filter((c) => c.path.length > 1).map((c) => c.path[0]!))) {
      const help = await dsmp([group, "--help"]);
      expect(help.code).toBe(EXIT_OK);
      for (const command of COMMANDS.filter((c) => c.path[0] === group)) expect(help.out).toContain(command.path.join(" "));
    }
    expect((await dsmp(["-h"])).code).toBe(EXIT_OK);
  });

  it("shows subcommands in the help of a command that has some", async () => {
    expect((await dsmp(["stake", "--help"])).out).toMatch(/Subcommands:\n\s+stake status/);
  });
});

describe("dsmp help and --version", () => {
  it("`dsmp help <command…>` is `<command…> --help`", async () => {
    for (const words of [["call"], ["node"], ["task", "submit"], []]) {
      const viaHelp = await dsmp(["help", ...words]);
      expect(viaHelp.code, words.join(" ")).toBe(EXIT_OK);
      expect(viaHelp.out).toBe((await dsmp([...words, "--help"])).out);
    }
    expect((await dsmp(["help", "nope"])).code).toBe(EXIT_USAGE);
  });

  it("--version and -V print the package version", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    for (const argv of [["--version"], ["-V"], ["node", "start", "--version"]]) expect(await dsmp(argv)).toEqual({ code: EXIT_OK, out: `dsmp ${version}\n`, err: "" });
  });
});

describe("usage errors exit 2 and print usage", () => {
  it.each([
    [["bogus"], "dsmp: unknown command: bogus\n", "Usage: dsmp <command>"],
    [[], "dsmp: no command given\n", "Usage: dsmp <command>"],
    [["service"], "dsmp: service needs a subcommand\n", "Usage: dsmp service <command>"],
    [["service", "bogus"], "dsmp: unknown command: service bogus\n", "service publish"],
    [["stake"], "dsmp: missing <amount>\n", "Usage: dsmp stake <amount> [options]"],
    [["stake", "1", "2"], "dsmp: unexpected argument: 2\n", "Usage: dsmp stake"],
    [["stake", "1", "--bogus"], "dsmp: unknown option --bogus\n", "Usage: dsmp stake"],
    [["stake", "--rpc-url"], "dsmp: --rpc-url needs a value\n", "Usage: dsmp stake"],
    [["stake", "abc"], 'dsmp: <amount>: expected an amount like 100 or 2.5, got "abc"\n', ""],
    [["stake", "0"], "dsmp: <amount> must be greater than zero\n", ""],
    [["unbond", "0.000"], "dsmp: <amount> must be greater than zero\n", ""],
    [["unbond", "-5"], "dsmp: unknown option -5\n", "Usage: dsmp unbond"],
    [["node", "register", "--cpu", "1000"], "dsmp: missing --keystore\n", "Usage: dsmp node register --keystore <file>"],
    [["service", "publish", "--name", "x", "--price-per-period", "5"], "dsmp: --price-per-period needs --period (e.g. 30d)\n", ""],
    [["stake", "1", "--rpc-url", "notaurl"], 'dsmp: --rpc-url: expected an http(s) URL like http://127.0.0.1:8545, got "notaurl"\n', ""],
    [["stake", "1", "--rpc-url", "ws://127.0.0.1:8545"], 'dsmp: --rpc-url: expected an http(s) URL like http://127.0.0.1:8545, got "ws://127.0.0.1:8545"\n', ""],
    [["call", "1", "--gateway", "127.0.0.1:4663"], 'dsmp: --gateway: expected an http(s) URL like http://127.0.0.1:8545, got "127.0.0.1:4663"\n', ""],
    [["network", "status", "--api", "localhost:4662"], 'dsmp: --api: expected an http(s) URL like http://127.0.0.1:8545, got "localhost:4662"\n', ""],
    [["service", "publish", "--name", "x", "--period", "30d"], "dsmp: --period sets the length of a paid period: give --price-per-period too\n", ""],
    [["service", "publish", "--name", "x", "--one-time-duration", "7d"], "dsmp: --one-time-duration goes with --one-time-price: give it too\n", ""],
    [["service", "publish", "--name", "x", "--period", "30 days"], 'dsmp: --period: expected a duration like 30d, 12h or 90s, got "30 days"\n', ""],
    [["service", "publish", "--name", "x", "--kind", "grpc"], 'dsmp: --kind: expected one of http, task, got "grpc"\n', ""],
    [["subscribe", "1", "--once", "--periods", "2"], "dsmp: --once and --periods exclude each other\n", ""],
    [["service", "grant", "1", "0x123"], 'dsmp: <address>: expected a 0x address (20 bytes), got "0x123"\n', ""],
    [["stake", "status"], "dsmp: whose stake? pass --address <address>, or --key / DSMP_PRIVATE_KEY for your own\n", ""],
    [["stake", "1", "--key", "0x1234"], "dsmp: --key: expected a private key of 32 bytes of hex (64 digits)\n", "Usage: dsmp stake"],
  ])("dsmp %s", async (argv, firstLine, usage) => {
    const { code, out, err } = await dsmp(argv);
    expect(code).toBe(EXIT_USAGE);
    expect(out).toBe("");
    expect(err.startsWith(firstLine)).toBe(true);
    expect(err).toContain(usage);
  });

  it("asks for a key before connecting when a command signs", async () => {
    const { code, err } = await dsmp(["stake", "1", "--rpc-url", "http://127.0.0.1:1"]);
    expect(code).toBe(EXIT_USAGE);
    expect(err).toBe("dsmp: this command signs a transaction: pass --key <hex> or set DSMP_PRIVATE_KEY\n");
  });
});

describe("the command table", () => {
  it("runs a command plugged in beside the built-in ones, with global flags anywhere", async () => {
    const seen: unknown[] = [];
    const nodeStart: CliCommand = {
      path: ["node", "probe"], // a path no built-in command uses
      summary: "probe the node",
      options: [{ name: "config", type: "string", value: "<file>", description: "config file" }],
      run: async (input, io) => {
        seen.push({ config: input.string("config"), json: input.global.json, rpcUrl: input.global.rpcUrl });
        io.stdout("started\n");
      },
    };
    const { code, out } = await dsmp(["--json", "node", "probe", "--config", "c.json"], {
      commands: [...COMMANDS, nodeStart],
      env: { DSMP_RPC_URL: "http://rpc.example:8545" },
    });
    expect(code).toBe(EXIT_OK);
    expect(out).toBe("started\n");
    expect(seen).toEqual([{ config: "c.json", json: true, rpcUrl: "http://rpc.example:8545" }]);
  });

  it("has one spec per command path and no option twice", () => {
    const paths = COMMANDS.map((command) => command.path.join(" "));
    expect(new Set(paths).size).toBe(paths.length);
    for (const command of COMMANDS) {
      const names = [...(command.options ?? []), ...GLOBAL_OPTIONS].map((option) => option.name);
      expect(new Set(names).size).toBe(names.length);
    }
  });
});
