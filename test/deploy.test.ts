/**
 * End to end: scripts/deploy.ts against a real `hardhat node` over JSON-RPC — deploys everything, wires roles,
 * writes deployments/<chainId>.json, and a second run changes nothing on-chain (idempotent).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPublicClient, http, keccak256, toHex } from "viem";
import { abis, type Deployment } from "../contracts/index.ts";
import { startHardhatNode, type HardhatNode } from "../scripts/lib/hardhat-node.ts";

const run = promisify(execFile);
const ROOT = new URL("..", import.meta.url).pathname;
const EXPECTED = ["OpenToken", "Staking", "XnodeRegistry", "ServiceRegistry", "Subscriptions", "LeaseEscrow", "TaskManager", "UsageEscrow"];

describe("deploy script against a hardhat node", () => {
  let node: HardhatNode;
  const outDir = mkdtempSync(join(tmpdir(), "dsmp-deploy-"));

  beforeAll(async () => {
    node = await startHardhatNode();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it("deploys every contract, wires roles, writes <chainId>.json, and re-running sends no transaction", async () => {
    const deploy = () =>
      run(process.execPath, [join(ROOT, "scripts/deploy.ts"), "--rpc-url", node.rpcUrl, "--out", outDir, "--json"], {
        cwd: ROOT,
      });
    const first = JSON.parse((await deploy()).stdout) as Deployment;
    expect(first.chainId).toBe(31337);
    expect(Object.keys(first.contracts).sort()).toEqual([...EXPECTED].sort());

    const fromFile = JSON.parse(readFileSync(join(outDir, "31337.json"), "utf8")) as Deployment;
    expect(fromFile.contracts).toEqual(first.contracts);

    const client = createPublicClient({ transport: http(node.rpcUrl) });
    for (const name of EXPECTED) {
      const code = await client.getCode({ address: first.contracts[name]!.address });
      expect(code && code.length > 2, `${name} has code`).toBe(true);
      expect(first.contracts[name]!.blockNumber).toBeGreaterThan(0);
    }
    const locker = await client.readContract({
      address: first.contracts.Staking!.address,
      abi: abis.Staking,
      functionName: "hasRole",
      args: [keccak256(toHex("LOCKER_ROLE")), first.contracts.XnodeRegistry!.address],
    });
    expect(locker).toBe(true);
    for (const roleName of ["LOCKER_ROLE", "SLASHER_ROLE"]) {
      const granted = await client.readContract({
        address: first.contracts.Staking!.address,
        abi: abis.Staking,
        functionName: "hasRole",
        args: [keccak256(toHex(roleName)), first.contracts.TaskManager!.address],
      });
      expect(granted, `TaskManager has ${roleName}`).toBe(true);
    }

    // UsageEscrow: the devnet's 1-hour withdrawal delay, the 7-day claim window, deployed after everything else.
    const usage = { address: first.contracts.UsageEscrow!.address, abi: abis.UsageEscrow } as const;
    expect(await client.readContract({ ...usage, functionName: "withdrawalDelay" })).toBe(3_600n);
    expect(await client.readContract({ ...usage, functionName: "claimWindow" })).toBe(7n * 86_400n);
    expect((await client.readContract({ ...usage, functionName: "services" })).toLowerCase()).toBe(first.contracts.ServiceRegistry!.address.toLowerCase());
    expect((await client.readContract({ ...usage, functionName: "staking" })).toLowerCase()).toBe(first.contracts.Staking!.address.toLowerCase());
    const others = EXPECTED.filter((name) => name !== "UsageEscrow").map((name) => first.contracts[name]!.blockNumber);
    expect(first.contracts.UsageEscrow!.blockNumber).toBeGreaterThan(Math.max(...others));

    const blockBefore = await client.getBlockNumber();
    const second = JSON.parse((await deploy()).stdout) as Deployment;
    expect(await client.getBlockNumber()).toBe(blockBefore);
    expect(second.contracts).toEqual(first.contracts);
  });

  it("refuses a non-local chain without a key and a malformed key, with usage", async () => {
    const bad = run(process.execPath, [join(ROOT, "scripts/deploy.ts"), "--rpc-url", node.rpcUrl, "--private-key", "0x12"], {
      cwd: ROOT,
    });
    await expect(bad).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("32 bytes of hex") });
    const badDelay = run(process.execPath, [join(ROOT, "scripts/deploy.ts"), "--rpc-url", node.rpcUrl, "--withdrawal-delay", "1h"], {
      cwd: ROOT,
    });
    await expect(badDelay).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--withdrawal-delay must be a whole number of seconds") });
  });
});
