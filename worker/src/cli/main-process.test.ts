/**
 * `node worker/src/cli/main.ts` as a process: exit codes reach the shell, and SIGINT behaves — the first one
 * aborts the command (here stuck on an RPC endpoint that never answers), a second one exits at once.
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devPrivateKey } from "../../../scripts/lib/dev-accounts.ts";
import { EXIT_INTERRUPTED, trapInterrupts } from "./main.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const DEPLOYMENT = new URL("../../../deployments/31337.json", import.meta.url).pathname;

function run(argv: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN, ...argv], { env: { PATH: process.env["PATH"] ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += String(d)));
  child.stderr.on("data", (d) => (err += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, out: () => out, err: () => err };
}

describe("dsmp as a process", () => {
  let hanging: Server;
  let requests = 0;
  let rpcUrl: string;
  beforeAll(async () => {
    hanging = createServer(() => void requests++); // never answers
    await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
    rpcUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    hanging.closeAllConnections();
    return new Promise<void>((resolve) => hanging.close(() => resolve()));
  });

  it("exits 0 on --help and 2 on an unknown command", async () => {
    const help = run(["--help"]);
    expect(await help.exited).toBe(0);
    expect(help.out()).toContain("Usage: dsmp <command>");
    const unknown = run(["bogus"]);
    expect(await unknown.exited).toBe(2);
    expect(unknown.err()).toMatch(/^dsmp: unknown command: bogus\n/);
  });

  it("stops a command waiting on the chain at the first SIGINT, exit 130", async () => {
    const proc = run(["stake", "1", "--rpc-url", rpcUrl, "--deployment", DEPLOYMENT], { DSMP_PRIVATE_KEY: devPrivateKey(1) });
    const deadline = Date.now() + 20_000;
    while (requests === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(requests).toBeGreaterThan(0);
    proc.child.kill("SIGINT");
    expect(await proc.exited).toBe(EXIT_INTERRUPTED);
    expect(proc.err()).toBe("\ndsmp: stopping (press Ctrl-C again to force)\ndsmp: interrupted\n");
  });
});

describe("trapInterrupts", () => {
  it("aborts on the first SIGINT and exits on the second", () => {
    const controller = new AbortController();
    const exits: number[] = [];
    let err = "";
    const trap = trapInterrupts(controller, { exit: (code) => void exits.push(code), stderr: (text) => void (err += text) });
    try {
      process.emit("SIGINT");
      expect(controller.signal.aborted).toBe(true);
      expect(exits).toEqual([]);
      expect(err).toContain("press Ctrl-C again to force");
      process.emit("SIGINT");
      expect(exits).toEqual([EXIT_INTERRUPTED]);
    } finally {
      trap.dispose();
    }
  });
});
