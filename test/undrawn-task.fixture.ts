/**
 * A task nobody draws, for refund tests: the submitter approves reward + fee and sends `createTask`, and no one
 * ever sends `assign`, so the task stays pending until its final deadline whatever the nodes' runners do.
 */
import { createPublicClient, createWalletClient, http, keccak256, toHex, type Hex, type LocalAccount } from "viem";
import { hardhat } from "viem/chains";
import { abis, type Deployment } from "../contracts/index.ts";

export interface UndrawnTaskParameters {
  rpcUrl: string;
  deployment: Deployment;
  submitter: LocalAccount;
  n: number;
  q: number;
  reward: bigint;
  /** Seconds from the newest block to the final deadline. */
  finalDeadlineIn: number;
  /** Makes module and input hashes unique per call. */
  label: string;
}

/** @returns the task id and the protocol fee escrowed with the reward. */
export async function createUndrawnTask(p: UndrawnTaskParameters): Promise<{ taskId: bigint; fee: bigint }> {
  const pub = createPublicClient({ chain: hardhat, transport: http(p.rpcUrl) });
  const wallet = createWalletClient({ chain: hardhat, transport: http(p.rpcUrl), account: p.submitter });
  const tm = p.deployment.contracts.TaskManager!.address;
  const mined = async (what: string, hash: Promise<Hex>) => {
    const receipt = await pub.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`${what} reverted (${receipt.transactionHash})`);
    return receipt;
  };
  const feeBps = BigInt(await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "protocolFeeBps" }));
  const fee = (p.reward * feeBps + 9_999n) / 10_000n; // TaskMath.fee rounds up
  await mined("approve", wallet.writeContract({ address: p.deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "approve", args: [tm, p.reward + fee] }));
  const now = (await pub.getBlock()).timestamp;
  const created = await mined(
    "createTask",
    wallet.writeContract({
      address: tm,
      abi: abis.TaskManager,
      functionName: "createTask",
      args: [
        {
          moduleHash: keccak256(toHex(`module ${p.label}`)),
          inputHash: keccak256(toHex(`input ${p.label}`)),
          inputURI: "",
          resources: { cpuMillicores: 100, memoryMiB: 64, storageGiB: 0, gpus: 0 },
          n: p.n,
          q: p.q,
          reward: p.reward,
          // Short windows: one round fits well before any final deadline a test picks (≥ 30 s).
          commitWindow: 5,
          revealWindow: 10,
          finalDeadline: Number(now) + p.finalDeadlineIn,
        },
      ],
    }),
  );
  const log = created.logs.find((l) => l.address.toLowerCase() === tm.toLowerCase());
  if (log?.topics[1] === undefined) throw new Error(`createTask ${created.transactionHash} emitted no TaskCreated`);
  return { taskId: BigInt(log.topics[1]), fee };
}
