/**
 * TaskManager paid in ReentrantERC20 (also the staked token, so slashes call back too): on a token movement
 * the token calls back into TaskManager; every such call must fail with ReentrancyGuardReentrantCall while
 * the outer call completes.
 */
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { encodeErrorResult, encodeFunctionData, keccak256, maxUint256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { MIN_NODE_STAKE, namedWallets, ONE_OPEN, registerNode, type StakingFixture } from "./staking.fixture.ts";
import { TASK_FEE_BPS, TEST_TASK_PARAMETERS, bitmap, createTask, assignTask, signResult, signSlots, type TaskFixture } from "./tasks.fixture.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const RESULT = keccak256(toHex("out"));
const WRONG = keccak256(toHex("bad"));

async function reentrantFixture(connection: NetworkConnection) {
  const { viem } = connection;
  const publicClient = await viem.getPublicClient();
  const chainId = await publicClient.getChainId();
  const accounts = await namedWallets(connection);
  const { deployer, treasury, outsider, operators } = accounts;
  const token = await viem.deployContract("ReentrantERC20", []);
  const staking = await viem.deployContract("Staking", [token.address, deployer.account.address, treasury.account.address]);
  const registry = await viem.deployContract("XnodeRegistry", [staking.address, deployer.account.address, MIN_NODE_STAKE]);
  const tasks = await viem.deployContract("TaskManager", [
    token.address,
    staking.address,
    registry.address,
    deployer.account.address,
    treasury.account.address,
    TASK_FEE_BPS,
    TEST_TASK_PARAMETERS,
  ]);
  const roles = {
    admin: await staking.read.DEFAULT_ADMIN_ROLE(),
    locker: await staking.read.LOCKER_ROLE(),
    slasher: await staking.read.SLASHER_ROLE(),
    jailer: await registry.read.JAILER_ROLE(),
  };
  await staking.write.grantRole([roles.locker, registry.address]);
  await staking.write.grantRole([roles.locker, tasks.address]);
  await staking.write.grantRole([roles.slasher, tasks.address]);
  for (const w of [...operators, outsider]) {
    await token.write.mint([w.account.address, 1_000_000n * ONE_OPEN]);
    await token.write.approve([staking.address, maxUint256], { account: w.account });
    await token.write.approve([tasks.address, maxUint256], { account: w.account });
  }
  for (const op of operators) await staking.write.stake([20_000n * ONE_OPEN], { account: op.account });
  const fx = { viem, publicClient, chainId, token, staking, registry, roles, accounts, tasks, submitter: outsider, testClient: await viem.getTestClient() };
  const nodes = [];
  for (const op of operators) nodes.push(await registerNode(fx as unknown as StakingFixture, { operator: op, slots: 4 }));
  return { fx, nodes };
}

type Fx = Awaited<ReturnType<typeof reentrantFixture>>["fx"];
const asTaskFx = (fx: Fx) => fx as unknown as TaskFixture;

async function expectRefused(fx: Fx, payload: `0x${string}`, outer: () => Promise<`0x${string}`>) {
  const attempts = await fx.token.read.attempts();
  await fx.token.write.arm([fx.tasks.address, payload]);
  await outer();
  expect(await fx.token.read.attempts()).toBe(attempts + 1n);
  expect(await fx.token.read.lastCallOk()).toBe(false);
  expect(await fx.token.read.lastReturn()).toBe(encodeErrorResult({ abi: fx.tasks.abi, errorName: "ReentrancyGuardReentrantCall" }));
}

describe("TaskManager reentrancy", () => {
  it("refuses a callback into withdrawFees during createTask's transferFrom", async () => {
    const { fx } = await loadFixture(reentrantFixture);
    const payload = encodeFunctionData({ abi: fx.tasks.abi, functionName: "withdrawFees" });
    const spec = { moduleHash: RESULT, inputHash: RESULT, inputURI: "", resources: { cpuMillicores: 1, memoryMiB: 1, storageGiB: 0, gpus: 0 }, n: 1, q: 1, reward: ONE_OPEN, commitWindow: 60, revealWindow: 60, finalDeadline: 2 ** 39 };
    await expectRefused(fx, payload, () => fx.tasks.write.createTask([spec], { account: fx.submitter.account }));
    expect(await fx.tasks.read.taskCount()).toBe(1n);
  });

  it("refuses a callback into withdrawRewards during withdrawRewards, and into claim during a slash payout", async () => {
    const { fx, nodes } = await loadFixture(reentrantFixture);
    const tfx = asTaskFx(fx);
    const taskId = await createTask(tfx, { n: 3, q: 2 });
    const committee = await assignTask(tfx, taskId);
    const { participants, signatures } = await signSlots(tfx, nodes, committee, taskId, RESULT, [0, 1]);
    await fx.tasks.write.reportResult([taskId, RESULT, participants, signatures]);

    const operator = await fx.registry.read.operatorOf([committee[0]!]);
    const wallet = fx.accounts.operators.find((w) => w.account.address.toLowerCase() === operator.toLowerCase())!;
    const credited = await fx.tasks.read.rewardsOf([operator]);
    expect(credited).toBeGreaterThan(0n);
    const payload = encodeFunctionData({ abi: fx.tasks.abi, functionName: "withdrawRewards" });
    await expectRefused(fx, payload, () => fx.tasks.write.withdrawRewards({ account: wallet.account }));
    expect(await fx.tasks.read.rewardsOf([operator])).toBe(0n);

    // Slot 2 signed another result; proving it makes Staking pay the reporter in the reentrant token.
    const liar = nodes.find((x) => x.node.toLowerCase() === committee[2]!.toLowerCase())!;
    const liarSig = await signResult(tfx, liar.nodeKey, taskId, WRONG, bitmap([2]));
    const claimPayload = encodeFunctionData({ abi: fx.tasks.abi, functionName: "claim", args: [taskId] });
    await expectRefused(fx, claimPayload, () => fx.tasks.write.proveWrongResult([taskId, WRONG, bitmap([2]), liarSig]));
  });
});
