/**
 * `dsmp` end to end, in-process, against a real `hardhat node` with the real deployment: an operator stakes
 * and registers a node, an owner publishes a paid public and a private service, a consumer subscribes and
 * unsubscribes, the operator unbonds and tries to withdraw early. Failures print one readable line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Deployment } from "@dsmp/contracts";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deploy } from "../../../scripts/lib/deploy.ts";
import { devPrivateKey } from "../../../scripts/lib/dev-accounts.ts";
import { freePort, startHardhatNode, type HardhatNode } from "../../../scripts/lib/hardhat-node.ts";
import { createKeystore } from "../identity/keystore.ts";
import { createMemoryIo } from "./cli-io.ts";
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, runCli } from "./main.ts";

const TX = "\\(tx 0x[0-9a-f]{64}\\)";
const OPERATOR = devPrivateKey(1);
const OWNER = devPrivateKey(2);
const CONSUMER = devPrivateKey(3);
const OUTSIDER = devPrivateKey(4);
const SMALL_OPERATOR = devPrivateKey(5);
const addressOf = (key: Hex) => privateKeyToAccount(key).address;

describe("dsmp against a hardhat node", () => {
  let node: HardhatNode;
  let dir: string;
  let deploymentFile: string;

  /** Run `dsmp argv` signed by `key` (none when undefined); the chain and deployment come from the environment. */
  async function dsmp(argv: string[], key: Hex | undefined, options: { isTTY?: boolean; signal?: AbortSignal } = {}) {
    const io = createMemoryIo(options);
    const env: Record<string, string> = { DSMP_RPC_URL: node.rpcUrl, DSMP_DEPLOYMENT: deploymentFile };
    if (key !== undefined) env["DSMP_PRIVATE_KEY"] = key;
    const code = await runCli(argv, io, { env });
    return { code, out: io.out(), err: io.err() };
  }
  async function ok(argv: string[], key: Hex | undefined, options: { isTTY?: boolean } = {}) {
    const result = await dsmp(argv, key, options);
    expect(result.err).toBe("");
    expect(result.code).toBe(EXIT_OK);
    return result.out;
  }

  beforeAll(async () => {
    node = await startHardhatNode();
    dir = mkdtempSync(join(tmpdir(), "dsmp-cli-"));
    const deployment: Deployment = await deploy({ rpcUrl: node.rpcUrl, privateKey: devPrivateKey(0), outDir: dir });
    deploymentFile = join(dir, `${deployment.chainId}.json`);
  });
  afterAll(async () => {
    await node?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  let paidId = "";
  let privateId = "";
  let nodeAddress = "";

  it("stakes and registers a node", async () => {
    expect(await ok(["faucet"], OPERATOR)).toMatch(new RegExp(`^received 1000 OPEN from the faucet ${TX}\n$`));
    expect(await ok(["stake", "150"], OPERATOR)).toMatch(
      new RegExp(`^approved Staking to spend 150 OPEN ${TX}\nstaked 150 OPEN: bonded 150 OPEN ${TX}\n$`),
    );
    const status = JSON.parse(await ok(["stake", "status", "--json"], OPERATOR));
    expect(status).toMatchObject({ account: addressOf(OPERATOR), bonded: "150000000000000000000", free: "150000000000000000000" });

    const keystore = join(dir, "node-key.json");
    const identity = await createKeystore(keystore, { passphrase: "correct horse", scrypt: { n: 1024, r: 8, p: 1 } });
    const register = ["node", "register", "--keystore", keystore, "--passphrase-env", "NODE_PASS"];
    const resources = ["--cpu", "4000", "--memory", "8192", "--storage", "100", "--gpus", "0", "--slots", "4", "--metadata", "ipfs://op"];
    const io = createMemoryIo();
    const code = await runCli([...register, ...resources], io, {
      env: { DSMP_RPC_URL: node.rpcUrl, DSMP_DEPLOYMENT: deploymentFile, DSMP_PRIVATE_KEY: OPERATOR, NODE_PASS: "correct horse" },
    });
    expect(io.err()).toBe("");
    expect(code).toBe(EXIT_OK);
    expect(io.out()).toMatch(
      new RegExp(`^registered node ${identity.address} \\(peer ${identity.peerId.toString()}\\) for operator ${addressOf(OPERATOR)}: bond 100 OPEN locked ${TX}\n$`),
    );
    const info = JSON.parse(await ok(["node", "info", identity.address, "--json"], undefined));
    expect(info).toMatchObject({ status: "active", operator: addressOf(OPERATOR), slots: 4, peerId: identity.peerId.toString(), bond: "100000000000000000000" });
    expect(await ok(["node", "info", identity.address], undefined)).toMatch(/^node\s+0x[0-9a-fA-F]{40}\nstatus\s+active\n/);
    nodeAddress = identity.address;
  });

  it("updates what a node advertises: only the fields given, only by its operator", async () => {
    const out = await ok(["node", "update", nodeAddress, "--cpu", "6000", "--slots", "2"], OPERATOR);
    expect(out).toMatch(new RegExp(`^node ${nodeAddress} now advertises 6000 millicores, 8192 MiB memory, 100 GiB storage, 0 GPUs, 2 slots ${TX}\n`));
    expect(out).toContain("the raised CPU counts as unproven");
    const info = JSON.parse(await ok(["node", "info", nodeAddress, "--json"], undefined));
    expect(info).toMatchObject({ slots: 2, resources: { cpuMillicores: 6000, memoryMiB: 8192, storageGiB: 100, gpus: 0 } });
    expect(JSON.parse(await ok(["node", "update", nodeAddress, "--cpu", "4000", "--json"], OPERATOR))).toMatchObject({ node: nodeAddress, slots: 2, resources: { cpuMillicores: 4000 } });

    const stranger = await dsmp(["node", "update", nodeAddress, "--cpu", "1000"], OWNER);
    expect(stranger.code).toBe(EXIT_FAILURE);
    expect(stranger.err).toContain(`account ${addressOf(OWNER)} is not the operator of node ${nodeAddress}`);
    const nothing = await dsmp(["node", "update", nodeAddress], OPERATOR);
    expect(nothing.code).toBe(EXIT_USAGE);
    expect(nothing.err).toContain("nothing to update");
    const zero = await dsmp(["node", "update", nodeAddress, "--cpu", "0"], OPERATOR);
    expect(zero.code).toBe(EXIT_USAGE);
    const unknown = await dsmp(["node", "update", "0x000000000000000000000000000000000000dEaD", "--cpu", "1000"], OPERATOR);
    expect(unknown.err).toContain("is not registered");
    const unregistered = await dsmp(["node", "info", "0x000000000000000000000000000000000000dEaD"], undefined);
    expect(unregistered.code).toBe(EXIT_FAILURE);
    expect(unregistered.err).toContain("is not registered");
    const unregisteredJson = await dsmp(["node", "info", "0x000000000000000000000000000000000000dEaD", "--json"], undefined);
    expect(unregisteredJson.code).toBe(EXIT_FAILURE);
    expect(unregisteredJson.out).toBe("");
  });

  it("task submit to a node that is not running says which API it could not reach", async () => {
    const down = await dsmp(["task", "submit", "--module", "examples/fnv1a.wasm", "--input", "README.md", "--reward", "1", "--node-api", "http://127.0.0.1:1"], OWNER);
    expect(down.code).toBe(EXIT_FAILURE);
    expect(down.err).toContain("cannot reach the node's control API (--node-api) at http://127.0.0.1:1/v1/blobs");
  });

  it("says a task id that was never created does not exist, at once (status and watch)", async () => {
    for (const command of ["status", "watch"]) {
      const missing = await dsmp(["task", command, "999"], undefined, { signal: AbortSignal.timeout(20_000) });
      expect(missing.code).toBe(EXIT_FAILURE);
      expect(missing.err).toContain("no task 999");
    }
  });

  it("publishes a paid public and a private service", async () => {
    const paid = JSON.parse(await ok(["service", "publish", "--name", "weather", "--price-per-period", "5", "--period", "30d", "--max-replicas", "3", "--json"], OWNER));
    expect(paid.txHashes).toHaveLength(1);
    paidId = paid.serviceId;
    expect(await ok(["service", "publish", "--name", "secret", "--visibility", "private", "--price-per-period", "1", "--period", "1d"], OWNER)).toMatch(
      new RegExp(`^published service \\d+ "secret" \\(1 OPEN/1d\\) ${TX}\n$`),
    );
    privateId = String(Number(paidId) + 1);
    const info = JSON.parse(await ok(["service", "info", privateId, "--json"], undefined));
    expect(info).toMatchObject({ id: privateId, name: "secret", visibility: "private", status: "active", subscribers: "0", owner: addressOf(OWNER) });
  });

  it("subscribes, lists the subscriber, and refunds on unsubscribe", async () => {
    await ok(["faucet", "100"], CONSUMER);
    expect(await ok(["subscribe", paidId, "--periods", "2"], CONSUMER)).toMatch(
      new RegExp(
        `^approved Subscriptions to spend 10 OPEN ${TX}\nsubscribed to service ${paidId} for 2 periods \\(10 OPEN in escrow\\): access until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d(:\\d\\d)? UTC ${TX}\n$`,
      ),
    );
    const listed = JSON.parse(await ok(["service", "ls", "--json"], undefined)) as { id: string; subscribers: string; name: string }[];
    expect(listed.find((service) => service.id === paidId)).toMatchObject({ name: "weather", subscribers: "1" });

    const table = await ok(["service", "ls"], undefined, { isTTY: true });
    const [header, ...rows] = table.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+NAME\s+OWNER\s+KIND\s+VISIBILITY\s+PRICE\s+SUBSCRIBERS\s+STATUS$/);
    expect(rows.find((row) => row.includes("weather"))).toMatch(new RegExp(`^\\s*${paidId}\\s+weather\\s+${addressOf(OWNER)}\\s+http\\s+public\\s+5 OPEN/30d\\s+1\\s+active$`));
    const piped = await ok(["service", "ls"], undefined);
    expect(piped.split("\n")).toContain(`${paidId}\tweather\t${addressOf(OWNER)}\thttp\tpublic\t5 OPEN/30d\t1\tactive`);

    const access = JSON.parse(await ok(["subscription", paidId, "--json"], CONSUMER));
    expect(access).toMatchObject({ active: true, counted: true, balance: "10000000000000000000" });

    const unsubscribed = await ok(["unsubscribe", paidId], CONSUMER);
    const refund = /^unsubscribed from service \d+: refunded ([\d.]+) OPEN \(tx 0x[0-9a-f]{64}\)\n$/.exec(unsubscribed);
    expect(refund).not.toBeNull();
    expect(Number(refund![1])).toBeGreaterThan(9.99);
    expect(Number(refund![1])).toBeLessThanOrEqual(10);
    const after = JSON.parse(await ok(["service", "ls", "--json"], undefined)) as { id: string; subscribers: string }[];
    expect(after.find((service) => service.id === paidId)?.subscribers).toBe("0");
  });

  it("tells an outsider it is not on a private service's allow-list, until the owner grants it", async () => {
    await ok(["faucet", "10"], OUTSIDER);
    const denied = await dsmp(["subscribe", privateId], OUTSIDER);
    expect(denied.code).toBe(EXIT_FAILURE);
    expect(denied.err).toBe(`dsmp: account ${addressOf(OUTSIDER)} is not on the allow-list of service ${privateId}\n`);
    expect(denied.out).toBe("");

    expect(await ok(["service", "grant", privateId, addressOf(OUTSIDER)], OWNER)).toMatch(
      new RegExp(`^granted ${addressOf(OUTSIDER)} access to service ${privateId} ${TX}\n$`),
    );
    const subscribed = JSON.parse(await ok(["subscribe", privateId, "--json"], OUTSIDER));
    expect(subscribed).toMatchObject({ serviceId: privateId, periods: 1, deposit: "1000000000000000000" });
    expect(subscribed.txHashes).toHaveLength(2);
    expect(subscribed.approval).toMatchObject({ amount: "1000000000000000000" });
  });

  it("unbonds, then refuses an early withdraw with the release time", async () => {
    expect(await ok(["unbond", "50"], OPERATOR)).toMatch(
      new RegExp(`^unbonding 50 OPEN: 50 OPEN withdrawable from \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d(:\\d\\d)? UTC with \`dsmp withdraw\` ${TX}\n$`),
    );
    const early = await dsmp(["withdraw"], OPERATOR);
    expect(early.code).toBe(EXIT_FAILURE);
    expect(early.err).toMatch(/^dsmp: unbonding stake is locked until \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC \(6d 23h from now\)\n$/);
    const verbose = await dsmp(["withdraw", "--verbose"], OPERATOR);
    expect(verbose.err).toContain("contract error: StakingUnbondingNotReleased(");
  });

  it("says how much stake a registration lacks", async () => {
    await ok(["faucet", "10"], SMALL_OPERATOR);
    await ok(["stake", "10"], SMALL_OPERATOR);
    const keystore = join(dir, "small-node-key.json");
    await createKeystore(keystore);
    const result = await dsmp(["node", "register", "--keystore", keystore, "--cpu", "1000", "--memory", "1024", "--slots", "1"], SMALL_OPERATOR);
    expect(result.code).toBe(EXIT_FAILURE);
    expect(result.err).toBe("dsmp: insufficient stake: have 10 OPEN, need 100 OPEN — stake more with `dsmp stake 90`\n");
  });

  it("reports a chain that does not answer and a deployment of another chain", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await dsmp(["service", "ls", "--rpc-url", dead], undefined);
    expect(unreachable.code).toBe(EXIT_FAILURE);
    expect(unreachable.err).toBe(`dsmp: cannot reach ${dead}: is the chain running? start one with \`npm run devnet\`\n`);

    const otherChain = join(dir, "1.json");
    const deployment = JSON.parse(readFileSync(deploymentFile, "utf8")) as Deployment;
    writeFileSync(otherChain, JSON.stringify({ ...deployment, chainId: 1 }));
    const wrong = await dsmp(["service", "ls", "--deployment", otherChain], undefined);
    expect(wrong.code).toBe(EXIT_FAILURE);
    expect(wrong.err).toBe(`dsmp: deployment file ${otherChain} is for chain 1, but ${node.rpcUrl} serves chain 31337\n`);

    const missing = await dsmp(["service", "ls", "--deployment", join(dir, "none.json")], undefined);
    expect(missing.err).toBe(`dsmp: no deployment file at ${join(dir, "none.json")}: deploy the contracts with \`npm run deploy\` or pass --deployment\n`);
  });

  it("sends nothing once interrupted", async () => {
    const before = JSON.parse(await ok(["stake", "status", "--json"], OPERATOR));
    const controller = new AbortController();
    controller.abort();
    const result = await dsmp(["stake", "1"], OPERATOR, { signal: controller.signal });
    expect(result.code).toBe(EXIT_INTERRUPTED);
    expect(result.err).toBe("dsmp: interrupted while waiting for the chain\n");
    expect(JSON.parse(await ok(["stake", "status", "--json"], OPERATOR))).toEqual(before);
  });

  it("retires a service and refuses to change it afterwards", async () => {
    expect(await ok(["service", "retire", paidId], OWNER)).toMatch(new RegExp(`^retired service ${paidId} ${TX}\n$`));
    const update = await dsmp(["service", "update", paidId, "--price-per-period", "6"], OWNER);
    expect(update.err).toBe(`dsmp: service ${paidId} is retired and can no longer be changed\n`);
    const active = JSON.parse(await ok(["service", "ls", "--active", "--json"], undefined)) as { id: string }[];
    expect(active.map((service) => service.id)).not.toContain(paidId);
  });
});
