import type { Hex } from "viem";
import { describe, expect, it } from "vitest";
import type { DsmpChainClient } from "../chain/chain-client.ts";
import { taskQueuePrefix } from "./task-runner.ts";

const TM = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const NODE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/** A chain whose block `n` has the given hash (only what taskQueuePrefix reads). */
const chainWith = (hashes: Record<string, Hex>) =>
  ({ chainId: 31337, public: { getBlock: async ({ blockNumber }: { blockNumber: bigint }) => ({ hash: hashes[blockNumber.toString()]! }) } }) as unknown as Pick<DsmpChainClient, "chainId" | "public">;

describe("taskQueuePrefix", () => {
  it("names chain, TaskManager, the deployment block's hash and the node (lower case)", async () => {
    const prefix = await taskQueuePrefix(chainWith({ "7": `0xabcdef01${"0".repeat(56)}` }), TM, 7n, NODE);
    expect(prefix).toBe(`dsmp:31337:${TM.toLowerCase()}:abcdef01:${NODE.toLowerCase()}`);
  });

  it("a development chain started again (same addresses, same deployment block number, new hash) gets a new queue", async () => {
    const before = await taskQueuePrefix(chainWith({ "7": `0x11111111${"0".repeat(56)}` }), TM, 7n, NODE);
    const after = await taskQueuePrefix(chainWith({ "7": `0x22222222${"0".repeat(56)}` }), TM, 7n, NODE);
    expect(after).not.toBe(before);
    // The same chain gives the same prefix: jobs survive a node restart.
    expect(await taskQueuePrefix(chainWith({ "7": `0x11111111${"0".repeat(56)}` }), TM, 7n, NODE)).toBe(before);
  });
});
