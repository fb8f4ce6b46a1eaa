/**
 * The chain view indexer against Hardhat's chain: follows events, repairs a reorg made with
 * evm_snapshot/evm_revert (the replacement blocks have other hashes and other events), respects the
 * confirmation depth, and resumes from its journal file after a restart.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { describe, expect, it } from "vitest";
import { getAddress, parseEther, type Address } from "viem";
import { abis } from "@dsmp/contracts";
import { ChainIndexer } from "./indexer.ts";
import type { Reducer } from "./event-journal.ts";

/** Balances from Transfer events. */
const balances: Reducer<Map<Address, bigint>> = {
  initial: () => new Map(),
  apply(s, e) {
    if (e.eventName !== "Transfer") return;
    const { from, to, value } = e.args as { from: Address; to: Address; value: bigint };
    s.set(from, (s.get(from) ?? 0n) - value);
    s.set(to, (s.get(to) ?? 0n) + value);
  },
};

async function setup() {
  const { viem, provider } = await network.create();
  const client = await viem.getPublicClient();
  const [deployer, alice, bob] = await viem.getWalletClients();
  const token = await viem.deployContract("OpenToken", [deployer!.account.address, parseEther("1000")]);
  const fromBlock = await client.getBlockNumber();
  const pay = async (to: Address, amount: string) => {
    const hash = await token.write.transfer([to, parseEther(amount)]);
    await client.waitForTransactionReceipt({ hash });
  };
  return { viem, provider, client, token, fromBlock, pay, alice: getAddress(alice!.account.address), bob: getAddress(bob!.account.address) };
}

describe("ChainIndexer", () => {
  it("follows events and repairs a reorg", async () => {
    const { provider, client, token, fromBlock, pay, alice, bob } = await setup();
    const indexer = new ChainIndexer({
      client,
      contracts: [{ name: "OpenToken", address: token.address, abi: abis.OpenToken, fromBlock }],
      reducer: balances,
    });
    const reorgs: { from: bigint; to: bigint }[] = [];
    indexer.on("reorg", (r) => reorgs.push(r));

    await pay(alice, "10");
    await indexer.sync();
    expect(indexer.state.get(alice)).toBe(parseEther("10"));

    const snapshot = (await provider.request({ method: "evm_snapshot" })) as string;
    await pay(alice, "5");
    await pay(alice, "5");
    await indexer.sync();
    expect(indexer.state.get(alice)).toBe(parseEther("20"));

    // Reorg: the two payments to alice vanish; three other blocks take their heights, one paying bob.
    await provider.request({ method: "evm_revert", params: [snapshot] });
    await pay(bob, "7");
    await provider.request({ method: "hardhat_mine", params: ["0x2"] });
    await indexer.sync();
    expect(reorgs).toHaveLength(1);
    expect(indexer.state.get(alice)).toBe(parseEther("10"));
    expect(indexer.state.get(bob)).toBe(parseEther("7"));
    expect(indexer.syncedBlock).toBe(await client.getBlockNumber());
  });

  it("waits for the confirmation depth before counting an event", async () => {
    const { provider, client, token, fromBlock, pay, alice } = await setup();
    const indexer = new ChainIndexer({
      client,
      contracts: [{ name: "OpenToken", address: token.address, abi: abis.OpenToken, fromBlock }],
      reducer: balances,
      confirmations: 3,
    });
    await pay(alice, "1");
    await indexer.sync();
    expect(indexer.state.get(alice)).toBeUndefined();
    await provider.request({ method: "hardhat_mine", params: ["0x3"] });
    await indexer.sync();
    expect(indexer.state.get(alice)).toBe(parseEther("1"));
  });

  it("resumes from its journal after a restart, including a reorg that happened while it was down", async () => {
    const { provider, client, token, fromBlock, pay, alice, bob } = await setup();
    const journalFile = join(mkdtempSync(join(tmpdir(), "dsmp-chainview-")), "journal.json");
    const make = () =>
      new ChainIndexer({
        client,
        contracts: [{ name: "OpenToken", address: token.address, abi: abis.OpenToken, fromBlock }],
        reducer: balances,
        journalFile,
        batchSize: 2, // several getLogs rounds
      });
    await pay(alice, "3");
    const snapshot = (await provider.request({ method: "evm_snapshot" })) as string;
    await pay(alice, "4");
    const first = make();
    await first.sync();
    expect(first.state.get(alice)).toBe(parseEther("7"));

    await provider.request({ method: "evm_revert", params: [snapshot] });
    await pay(bob, "2");
    await pay(bob, "2");

    const second = make();
    expect(second.state.get(alice)).toBe(parseEther("7")); // loaded from the journal
    await second.sync();
    expect(second.state.get(alice)).toBe(parseEther("3"));
    expect(second.state.get(bob)).toBe(parseEther("4"));
  });

  it("polls with start() and stops cleanly", async () => {
    const { client, token, fromBlock, pay, alice } = await setup();
    const indexer = new ChainIndexer({
      client,
      contracts: [{ name: "OpenToken", address: token.address, abi: abis.OpenToken, fromBlock }],
      reducer: balances,
      pollIntervalMs: 20,
    });
    indexer.start();
    await pay(alice, "9");
    await indexer.waitForBlock(await client.getBlockNumber(), AbortSignal.timeout(10_000));
    expect(indexer.state.get(alice)).toBe(parseEther("9"));
    await indexer.stop();
    await indexer.stop();
  });
});

describe("ChainIndexer journal file", () => {
  it("starts over from the chain when the journal file is damaged, and reports it", async () => {
    const { client, token, fromBlock, pay, alice } = await setup();
    const dir = mkdtempSync(join(tmpdir(), "dsmp-chainview-bad-"));
    const journalFile = join(dir, "journal.json");
    writeFileSync(journalFile, "{ not json");
    const errors: unknown[] = [];
    const indexer = new ChainIndexer({
      client,
      contracts: [{ name: "OpenToken", address: token.address, abi: abis.OpenToken, fromBlock }],
      reducer: balances,
      journalFile,
      onError: (err) => errors.push(err),
    });
    expect(errors).toHaveLength(1);
    await pay(alice, "2");
    await indexer.sync();
    expect(indexer.state.get(alice)).toBe(parseEther("2"));
    expect(JSON.parse(readFileSync(journalFile, "utf8")).journal.version).toBe(1); // rewritten
  });
});
