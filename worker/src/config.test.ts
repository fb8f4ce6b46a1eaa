import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONFIG_ENV_VARS,
  DEFAULT_API_PORT,
  DEFAULT_GATEWAY_PORT,
  DEFAULT_P2P_TCP_PORT,
  DEFAULT_P2P_WS_PORT,
  DEVNET_PORT_STRIDE,
  devnetPreset,
  loadConfig,
  resolveConfig,
  type DsmpConfig,
  type ResolveConfigParameters,
} from "./config.ts";
import { ConfigError } from "./errors.ts";

const HOME = { HOME: "/home/op" };

describe("resolveConfig: defaults", () => {
  it("fills every field, deriving keystore and deployments paths", () => {
    const config = resolveConfig({ env: HOME });
    expect(config).toEqual<DsmpConfig>({
      node: {
        dataDir: "/home/op/.dsmp",
        keystorePath: "/home/op/.dsmp/node-key.json",
        passphraseEnv: "DSMP_KEYSTORE_PASSPHRASE",
        logLevel: "info",
      },
      p2p: {
        listen: ["/ip4/0.0.0.0/tcp/4660", "/ip4/0.0.0.0/udp/4660/quic-v1", "/ip4/0.0.0.0/tcp/4661/ws"],
        announce: [],
        bootstrap: [],
        dhtMode: "wan",
        protocolPrefix: "/dsmp",
      },
      chain: { rpcUrl: "http://127.0.0.1:8545", chainId: 31337, deploymentsFile: "deployments/31337.json", confirmations: 1 },
      api: { host: "127.0.0.1", port: 4662, allowedHosts: [] },
      gateway: { host: "127.0.0.1", port: 4663 },
      redis: { url: "redis://127.0.0.1:6379" },
      metrics: { enabled: true },
      tasks: { keeperStaggerMs: 15_000 },
      usage: { autoClaim: true, claimMaxDelayMs: 600_000 },
      observability: { enabled: true, intervalMs: 5_000, probesPerInterval: 16, minReporters: 1 },
      resourceProof: { enabled: true, intervalMs: 60_000, matrixSize: 512, minWorkPerCoreSecond: 250_000_000, allowanceMs: 250 },
    });
  });

  it("uses a relative .dsmp without HOME", () => {
    expect(resolveConfig({}).node.dataDir).toBe(".dsmp");
  });
});

describe("resolveConfig: layer precedence", () => {
  const file = { path: "dsmp.json", values: { api: { port: 5000 }, node: { dataDir: "/srv/dsmp" } } };
  const cases: { name: string; parameters: ResolveConfigParameters; pick: (c: DsmpConfig) => unknown; expected: unknown }[] = [
    { name: "file over defaults", parameters: { env: HOME, file }, pick: (c) => c.api.port, expected: 5000 },
    { name: "env over file", parameters: { env: { ...HOME, DSMP_API_PORT: "6000" }, file }, pick: (c) => c.api.port, expected: 6000 },
    {
      name: "flags over env",
      parameters: { env: { ...HOME, DSMP_API_PORT: "6000" }, file, flags: { api: { port: 7000 } } },
      pick: (c) => c.api.port,
      expected: 7000,
    },
    { name: "preset under file", parameters: { env: HOME, file, preset: devnetPreset(1) }, pick: (c) => c.api.port, expected: 5000 },
    { name: "a layer keeps sibling fields", parameters: { env: HOME, file }, pick: (c) => c.api.host, expected: "127.0.0.1" },
    { name: "keystore follows the data dir", parameters: { env: HOME, file }, pick: (c) => c.node.keystorePath, expected: "/srv/dsmp/node-key.json" },
    {
      name: "explicit keystore path wins",
      parameters: { env: { ...HOME, DSMP_NODE_KEYSTORE_PATH: "/keys/k.json" }, file },
      pick: (c) => c.node.keystorePath,
      expected: "/keys/k.json",
    },
    { name: "deployments file follows the chain id", parameters: { env: { DSMP_CHAIN_ID: "11155111" } }, pick: (c) => c.chain.deploymentsFile, expected: "deployments/11155111.json" },
    { name: "undefined flag leaves the value", parameters: { env: HOME, flags: { api: { port: undefined } } }, pick: (c) => c.api.port, expected: DEFAULT_API_PORT },
    {
      name: "arrays replace rather than append",
      parameters: { env: HOME, flags: { p2p: { listen: ["/ip4/127.0.0.1/tcp/0"] } } },
      pick: (c) => c.p2p.listen,
      expected: ["/ip4/127.0.0.1/tcp/0"],
    },
  ];
  it.each(cases)("$name", ({ parameters, pick, expected }) => {
    expect(pick(resolveConfig(parameters))).toEqual(expected);
  });
});

describe("resolveConfig: environment variables", () => {
  const cases: { env: Record<string, string>; pick: (c: DsmpConfig) => unknown; expected: unknown }[] = [
    { env: { DSMP_P2P_BOOTSTRAP: "/ip4/1.2.3.4/tcp/1/p2p/16Uiu2HAmR9YCgHBvZrqsqsKmPCzUAPhpu8okHmHy5u7bQmoh3Ex8 , " }, pick: (c) => c.p2p.bootstrap, expected: ["/ip4/1.2.3.4/tcp/1/p2p/16Uiu2HAmR9YCgHBvZrqsqsKmPCzUAPhpu8okHmHy5u7bQmoh3Ex8"] },
    { env: { DSMP_P2P_LISTEN: "" }, pick: (c) => c.p2p.listen, expected: [] },
    { env: { DSMP_API_PORT: "" }, pick: (c) => c.api.port, expected: DEFAULT_API_PORT },
    { env: { DSMP_API_ALLOWED_HOSTS: "xnode.lan, 192.168.1.20,[fd00::1]" }, pick: (c) => c.api.allowedHosts, expected: ["xnode.lan", "192.168.1.20", "[fd00::1]"] },
    { env: { DSMP_METRICS_ENABLED: "0" }, pick: (c) => c.metrics.enabled, expected: false },
    { env: { DSMP_METRICS_ENABLED: "true" }, pick: (c) => c.metrics.enabled, expected: true },
    { env: { DSMP_TASKS_KEEPER_STAGGER_MS: "30000" }, pick: (c) => c.tasks.keeperStaggerMs, expected: 30_000 },
    { env: { DSMP_USAGE_AUTO_CLAIM: "false" }, pick: (c) => c.usage.autoClaim, expected: false },
    { env: { DSMP_USAGE_CLAIM_MAX_DELAY_MS: "5000" }, pick: (c) => c.usage.claimMaxDelayMs, expected: 5_000 },
    { env: { DSMP_OBSERVABILITY_ENABLED: "false" }, pick: (c) => c.observability.enabled, expected: false },
    { env: { DSMP_OBSERVABILITY_INTERVAL_MS: "3000" }, pick: (c) => c.observability.intervalMs, expected: 3_000 },
    { env: { DSMP_OBSERVABILITY_MIN_REPORTERS: "3" }, pick: (c) => c.observability.minReporters, expected: 3 },
    { env: { DSMP_RESOURCE_PROOF_ENABLED: "false" }, pick: (c) => c.resourceProof.enabled, expected: false },
    { env: { DSMP_RESOURCE_PROOF_INTERVAL_MS: "20000" }, pick: (c) => c.resourceProof.intervalMs, expected: 20_000 },
    { env: { DSMP_RESOURCE_PROOF_MATRIX_SIZE: "256" }, pick: (c) => c.resourceProof.matrixSize, expected: 256 },
    { env: { DSMP_RESOURCE_PROOF_MIN_WORK_PER_CORE_SECOND: "50000000" }, pick: (c) => c.resourceProof.minWorkPerCoreSecond, expected: 50_000_000 },
    { env: { DSMP_P2P_DHT_MODE: "lan" }, pick: (c) => c.p2p.dhtMode, expected: "lan" },
    { env: { DSMP_CHAIN_RPC_URL: "wss://rpc.example.org" }, pick: (c) => c.chain.rpcUrl, expected: "wss://rpc.example.org" },
    { env: { DSMP_REDIS_URL: "rediss://cache:6380/2" }, pick: (c) => c.redis.url, expected: "rediss://cache:6380/2" },
    { env: { DSMP_UNKNOWN_THING: "x", DSMP_KEYSTORE_PASSPHRASE: "secret" }, pick: (c) => c.api.port, expected: DEFAULT_API_PORT },
  ];
  it.each(cases)("$env", ({ env, pick, expected }) => {
    expect(pick(resolveConfig({ env }))).toEqual(expected);
  });

  it("names every variable DSMP_<SECTION>_…", () => {
    for (const variable of CONFIG_ENV_VARS) {
      // A camelCase section is SNAKE_CASE in its variables: resourceProof → DSMP_RESOURCE_PROOF_….
      const section = variable.section.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
      expect(variable.name.startsWith(`DSMP_${section}_`)).toBe(true);
    }
  });
});

describe("resolveConfig: validation", () => {
  const cases: { name: string; parameters: ResolveConfigParameters; path: string; origin?: string }[] = [
    { name: "port out of range", parameters: { flags: { api: { port: 70000 } } }, path: "api.port", origin: "flags" },
    { name: "port not a number (env)", parameters: { env: { DSMP_API_PORT: "80a" } }, path: "api.port", origin: "env DSMP_API_PORT" },
    { name: "boolean not a boolean", parameters: { env: { DSMP_METRICS_ENABLED: "yes please" } }, path: "metrics.enabled", origin: "env DSMP_METRICS_ENABLED" },
    { name: "keeper stagger below a second", parameters: { env: { DSMP_TASKS_KEEPER_STAGGER_MS: "500" } }, path: "tasks.keeperStaggerMs", origin: "env DSMP_TASKS_KEEPER_STAGGER_MS" },
    { name: "claim delay below a second", parameters: { env: { DSMP_USAGE_CLAIM_MAX_DELAY_MS: "10" } }, path: "usage.claimMaxDelayMs", origin: "env DSMP_USAGE_CLAIM_MAX_DELAY_MS" },
    { name: "resource-proof matrix above the protocol's bound", parameters: { env: { DSMP_RESOURCE_PROOF_MATRIX_SIZE: "2048" } }, path: "resourceProof.matrixSize", origin: "env DSMP_RESOURCE_PROOF_MATRIX_SIZE" },
    { name: "report interval below the probe timeout", parameters: { env: { DSMP_OBSERVABILITY_INTERVAL_MS: "1000" } }, path: "observability.intervalMs", origin: "env DSMP_OBSERVABILITY_INTERVAL_MS" },
    { name: "bad multiaddr", parameters: { flags: { p2p: { listen: ["/ip4/127.0.0.1/tcp/1", "/nope/1"] } } }, path: "p2p.listen[1]", origin: "flags" },
    { name: "bootstrap without /p2p/", parameters: { flags: { p2p: { bootstrap: ["/ip4/1.2.3.4/tcp/1"] } } }, path: "p2p.bootstrap[0]" },
    { name: "unknown dht mode", parameters: { env: { DSMP_P2P_DHT_MODE: "mars" } }, path: "p2p.dhtMode" },
    { name: "rpc URL scheme", parameters: { env: { DSMP_CHAIN_RPC_URL: "ftp://x" } }, path: "chain.rpcUrl" },
    { name: "rpc URL not a URL", parameters: { env: { DSMP_CHAIN_RPC_URL: "localhost:8545" } }, path: "chain.rpcUrl" },
    { name: "rpc URL garbage", parameters: { env: { DSMP_CHAIN_RPC_URL: "::" } }, path: "chain.rpcUrl" },
    { name: "redis URL not a URL", parameters: { env: { DSMP_REDIS_URL: "redis" } }, path: "redis.url" },
    { name: "redis URL scheme", parameters: { env: { DSMP_REDIS_URL: "http://x" } }, path: "redis.url" },
    { name: "chain id zero", parameters: { env: { DSMP_CHAIN_ID: "0" } }, path: "chain.chainId" },
    { name: "zero confirmations", parameters: { env: { DSMP_CHAIN_CONFIRMATIONS: "0" } }, path: "chain.confirmations" },
    { name: "allowed host with a port", parameters: { env: { DSMP_API_ALLOWED_HOSTS: "xnode.lan:4662" } }, path: "api.allowedHosts[0]", origin: "env DSMP_API_ALLOWED_HOSTS" },
    { name: "protocol prefix", parameters: { flags: { p2p: { protocolPrefix: "dsmp" } } }, path: "p2p.protocolPrefix" },
    { name: "unknown key in a file", parameters: { file: { path: "x.json", values: { api: { prot: 1 } } } }, path: "api", origin: "x.json" },
    { name: "unknown section in a file", parameters: { file: { path: "x.json", values: { apis: {} } } }, path: "" },
    { name: "section of the wrong type", parameters: { file: { path: "x.json", values: { api: 5 } } }, path: "api", origin: "x.json" },
    { name: "file not an object", parameters: { file: { path: "x.json", values: [1] } }, path: "", origin: "x.json" },
  ];
  it.each(cases)("$name", ({ parameters, path, origin }) => {
    let caught: unknown;
    try {
      resolveConfig(parameters);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe("CONFIG_INVALID");
    const issue = error.issues.find((i) => i.path === path);
    expect(issue, `issues: ${JSON.stringify(error.issues)}`).toBeDefined();
    if (origin !== undefined) expect(issue?.origin).toBe(origin);
    expect(error.message).toContain(path === "" ? "(root)" : path);
  });

  it("reports every issue at once, readably", () => {
    const error = (() => {
      try {
        resolveConfig({ env: { DSMP_API_PORT: "x", DSMP_GATEWAY_PORT: "-1" } });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("expected a ConfigError");
    })();
    expect(error.issues.map((i) => i.path).sort()).toEqual(["api.port", "gateway.port"]);
    expect(error.shortMessage).toBe("invalid configuration (2 issues)");
    expect(error.message).toContain("  - api.port: Expected number, received string (from env DSMP_API_PORT)");
  });
});

describe("devnetPreset", () => {
  it.each([0, 1, 7, 99])("node %i shifts each default port by index × stride", (index) => {
    const config = resolveConfig({ env: HOME, preset: devnetPreset(index) });
    const shift = index * DEVNET_PORT_STRIDE;
    expect(config.p2p.listen).toEqual([
      `/ip4/127.0.0.1/tcp/${DEFAULT_P2P_TCP_PORT + shift}`,
      `/ip4/127.0.0.1/udp/${DEFAULT_P2P_TCP_PORT + shift}/quic-v1`,
      `/ip4/127.0.0.1/tcp/${DEFAULT_P2P_WS_PORT + shift}/ws`,
    ]);
    expect(config.api.port).toBe(DEFAULT_API_PORT + shift);
    expect(config.gateway.port).toBe(DEFAULT_GATEWAY_PORT + shift);
    expect(config.p2p.dhtMode).toBe("lan");
    expect(config.node.dataDir).toBe(`.devnet/node-${index}`);
    expect(config.node.keystorePath).toBe(`.devnet/node-${index}/node-key.json`);
  });

  it("gives distinct ports to every node (per protocol: QUIC's UDP port may share TCP's number)", () => {
    const ports = Array.from({ length: 100 }, (_, i) => {
      const c = resolveConfig({ preset: devnetPreset(i) });
      const p2p = c.p2p.listen.map((a) => `${a.split("/")[3]}/${a.split("/")[4]}`);
      return [...p2p, `tcp/${c.api.port}`, `tcp/${c.gateway.port}`];
    }).flat();
    expect(ports.filter((p) => p.startsWith("udp/"))).toHaveLength(100);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it.each([-1, 100, 1.5])("rejects index %s", (index) => {
    expect(() => devnetPreset(index)).toThrow(ConfigError);
  });
});

describe("loadConfig", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dsmp-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a JSON file", async () => {
    const file = join(dir, "ok.json");
    await writeFile(file, JSON.stringify({ gateway: { port: 9999 } }));
    expect((await loadConfig({ file, env: HOME })).gateway.port).toBe(9999);
  });

  it("names an invalid file's values by the file path", async () => {
    const file = join(dir, "bad-port.json");
    await writeFile(file, JSON.stringify({ gateway: { port: "x" } }));
    await expect(loadConfig({ file })).rejects.toMatchObject({ issues: [{ path: "gateway.port", origin: file }] });
  });

  it("rejects a file that is not JSON", async () => {
    const file = join(dir, "bad.json");
    await writeFile(file, "{ port: 1 ");
    await expect(loadConfig({ file })).rejects.toBeInstanceOf(ConfigError);
  });

  it("rejects a missing file", async () => {
    await expect(loadConfig({ file: join(dir, "missing.json") })).rejects.toThrow(/ENOENT/);
  });
});
