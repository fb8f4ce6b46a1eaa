import { describe, expect, it } from "vitest";
import { CliUsageError } from "../errors.ts";
import { resolveCommandLine } from "./command-line.ts";
import { COMMANDS } from "./command-table.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { resolveConfig } from "../config.ts";
import { addressInUseError, DEFAULT_WEB_DIR, nodeConfigFlags, parseServe, webDirOf } from "./node-daemon.ts";

function inputOf(argv: string[]) {
  const resolved = resolveCommandLine(argv, COMMANDS, {});
  if (resolved.kind !== "run") throw new Error(`not a command: ${resolved.kind}`);
  return resolved.input;
}

describe("dsmp node start flags", () => {
  it("become the highest configuration layer, and only the flags given", () => {
    const flags = nodeConfigFlags(
      inputOf(["node", "start", "--api-port", "5000", "--gateway-port", "5001", "--dht-mode", "lan", "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/x, /ip4/127.0.0.1/tcp/2/p2p/y", "--rpc-url", "http://chain:8545"]),
    );
    expect(flags.api?.port).toBe(5000);
    expect(flags.gateway?.port).toBe(5001);
    expect(flags.p2p?.dhtMode).toBe("lan");
    expect(flags.p2p?.bootstrap).toEqual(["/ip4/127.0.0.1/tcp/1/p2p/x", "/ip4/127.0.0.1/tcp/2/p2p/y"]);
    expect(flags.chain?.rpcUrl).toBe("http://chain:8545");
    const none = nodeConfigFlags(inputOf(["node", "start"]));
    expect(none.chain).toBeUndefined();
    expect(none.api?.port).toBeUndefined();
  });

  it("--web serves web/dist, --web-dir another directory, and both need a built index.html", () => {
    const dir = mkdtempSync(join(tmpdir(), "dsmp-webdir-"));
    try {
      expect(webDirOf(inputOf(["node", "start"]))).toBeUndefined();
      expect(() => webDirOf(inputOf(["node", "start", "--web-dir", dir]))).toThrow(`--web: ${dir}/index.html not found`);
      writeFileSync(join(dir, "index.html"), "<!doctype html>");
      expect(webDirOf(inputOf(["node", "start", "--web-dir", dir]))).toBe(dir);
      expect(DEFAULT_WEB_DIR).toBe("web/dist");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [["node", "start", "--api-port", "70000"], "--api-port must be a TCP port"],
    [["node", "start", "--dht-mode", "mars"], "--dht-mode is lan or wan"],
  ])("rejects %j", (argv, message) => {
    expect(() => nodeConfigFlags(inputOf(argv))).toThrow(CliUsageError);
    expect(() => nodeConfigFlags(inputOf(argv))).toThrow(message);
  });

  it.each([
    ["1=http://127.0.0.1:8080", 1n, "http://127.0.0.1:8080/"],
    ["42=https://backend.example/api", 42n, "https://backend.example/api"],
  ])("parses --serve %s", (text, id, url) => {
    const s = parseServe(text);
    expect(s.serviceId).toBe(id);
    expect(s.backend.toString()).toBe(url);
  });

  it.each(["1", "=http://x", "0=http://x", "x=http://y", "1=ftp://x", "1=not a url"])("rejects --serve %s", (text) => {
    expect(() => parseServe(text)).toThrow(CliUsageError);
  });
});

describe("dsmp node start: a port in use", () => {
  it("is one line naming the addresses and the flags that move them, the listener errors kept as the cause", async () => {
    // A real EADDRINUSE from a second listener on one port.
    const first = createServer();
    await new Promise<void>((resolve) => first.listen(0, "127.0.0.1", resolve));
    const port = (first.address() as { port: number }).port;
    const listenError = await new Promise<Error>((resolve) => {
      const second = createServer();
      second.once("error", resolve);
      second.listen(port, "127.0.0.1");
    });
    first.close();
    const config = resolveConfig({ env: {} });
    const wrapped = addressInUseError(new Error("failed to start", { cause: listenError }), config);
    expect(wrapped?.shortMessage).toMatch(/in use .* --listen .* --api-port .* --gateway-port/);
    expect(wrapped?.shortMessage).not.toContain("\n");
    expect(wrapped?.shortMessage).toContain(`control API ${config.api.host}:${config.api.port}`);
    expect(wrapped?.cause).toBeInstanceOf(Error);
    // libp2p's wording, whose message carries every listener's error and stack: in use, or another failure.
    const libp2p = (reason: string) =>
      new Error(`Some configured addresses failed to be listened on, you may need to remove one or more listen addresses\nError: ${reason}\n    at Server.setupListenHandle (node:net:1)`);
    expect(addressInUseError(libp2p("listen EADDRINUSE: address already in use 0.0.0.0:4660"), config)?.shortMessage).toMatch(/in use .*--listen/);
    const denied = addressInUseError(libp2p("listen EACCES: permission denied 0.0.0.0:80"), config)?.shortMessage;
    expect(denied).toMatch(/^libp2p could not listen on .*--verbose shows each listener's error$/);
    expect(denied).not.toContain("in use");
    expect(addressInUseError(new Error("connect ECONNREFUSED 127.0.0.1:8545"), config)).toBeUndefined();
  });
});
