import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "./config.ts";
import { NodeStartError } from "./errors.ts";
import { createSilentLogger } from "./log.ts";
import { consumerAccountFromEnv, redactUrl, startXnode } from "./node.ts";

describe("startXnode", () => {
  it("refuses to start without a reachable chain, says what to do, and leaves nothing listening", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "dsmp-node-"));
    const config = resolveConfig({
      env: {},
      flags: {
        node: { dataDir, keystorePath: join(dataDir, "node-key.json") },
        chain: { rpcUrl: "http://127.0.0.1:9" }, // discard port: nothing answers
        p2p: { listen: ["/ip4/127.0.0.1/tcp/0"] },
        api: { port: 0 },
        gateway: { port: 0 },
      },
    });
    const attempt = startXnode({ config, logger: createSilentLogger() });
    await expect(attempt).rejects.toBeInstanceOf(NodeStartError);
    await expect(attempt).rejects.toMatchObject({
      shortMessage: "cannot reach the chain at http://127.0.0.1:9",
      details: expect.stringContaining("npm run devnet"),
    });
  });
});

describe("redactUrl", () => {
  it.each([
    ["http://127.0.0.1:8545", "http://127.0.0.1:8545"],
    ["https://mainnet.infura.io/v3/0123456789abcdef", "https://mainnet.infura.io/…"],
    ["https://eth.example/?key=secret", "https://eth.example/…"],
    ["https://user:pass@rpc.example", "https://rpc.example/…"],
    ["not a url", "(invalid URL)"],
  ])("%s → %s", (input, output) => {
    expect(redactUrl(input)).toBe(output);
  });
});

describe("consumerAccountFromEnv (gateway.consumerKeyEnv)", () => {
  const key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
  it("reads the key from the named variable", () => {
    expect(consumerAccountFromEnv("MY_KEY", { MY_KEY: key })?.address).toBe("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    expect(consumerAccountFromEnv(undefined, { MY_KEY: key })).toBeUndefined();
  });
  it.each([
    [{}, /MY_KEY, which is not set/],
    [{ MY_KEY: "0x12" }, /does not hold a private key/],
    [{ MY_KEY: `0x${"00".repeat(32)}` }, /does not hold a private key/],
  ])("refuses %j", (env, message) => {
    expect(() => consumerAccountFromEnv("MY_KEY", env)).toThrow(NodeStartError);
    expect(() => consumerAccountFromEnv("MY_KEY", env)).toThrow(message);
  });
});
