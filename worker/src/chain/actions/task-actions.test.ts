/**
 * The task actions against a real `hardhat node` with the real deployment: a submitter creates tasks, anyone
 * runs the draw, node keys sign results with the worker's own typed-data helpers, a report finalizes, an
 * equivocation is proven, an unserved task is refunded — and the chain view folds the same story.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { abis, type Deployment } from "@dsmp/contracts";
import { createTestClient, createWalletClient, http, keccak256, maxUint256, parseEther, toHex, type Abi, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeIdentity, signNodeRegistration } from "../../../../contracts/test/staking.fixture.ts";
import { deploy } from "../../../../scripts/lib/deploy.ts";
import { devAccount, devPrivateKey } from "../../../../scripts/lib/dev-accounts.ts";
import { startHardhatNode, type HardhatNode } from "../../../../scripts/lib/hardhat-node.ts";
import { ChainRevertError, DeploymentInvalidError } from "../../errors.ts";
import { createDsmpChainClient, type DsmpChainClient } from "../chain-client.ts";
import { DSMP_STATE_CONTRACTS, dsmpStateReducer, tasksAssignedTo } from "../dsmp-state.ts";
import { ChainIndexer } from "../indexer.ts";
import { participantsBitmap, signTaskCommit, signTaskResult, taskDomainOf, taskSeal } from "../task-typed-data.ts";
import { anchorCommit } from "./anchor-commit.ts";
import { assignTask } from "./assign-task.ts";
import { reallocateTask } from "./reallocate-task.ts";
import { claimTask } from "./claim-task.ts";
import { createTask, type TaskSpec } from "./create-task.ts";
import { getTask } from "./get-task.ts";
import { reportResult } from "./report-result.ts";
import { submitEquivocation } from "./submit-equivocation.ts";

const RESULT = keccak256(toHex("output bytes"));

describe("task actions on a hardhat node", () => {
  let node: HardhatNode;
  let dir: string;
  let deployment: Deployment;
  const nodeKeys = new Map<string, Hex>();
  const clientFor = (index: number): Promise<DsmpChainClient> =>
    createDsmpChainClient({ rpcUrl: node.rpcUrl, deployment, account: privateKeyToAccount(devPrivateKey(index)) });
  const keyOf = (address: Address) => privateKeyToAccount(nodeKeys.get(address.toLowerCase())!);

  async function spec(client: DsmpChainClient, over: Partial<TaskSpec> = {}): Promise<TaskSpec> {
    const now = Number((await client.public.getBlock()).timestamp);
    return {
      moduleHash: keccak256(toHex("module")),
      inputHash: keccak256(toHex("input")),
      inputURI: "",
      resources: { cpuMillicores: 1_000, memoryMiB: 1_024, storageGiB: 1, gpus: 0 },
      n: 3,
      q: 2,
      reward: parseEther("10"),
      commitWindow: 60,
      revealWindow: 60,
      finalDeadline: now + 3_600,
      ...over,
    };
  }

  beforeAll(async () => {
    node = await startHardhatNode();
    dir = mkdtempSync(join(tmpdir(), "dsmp-task-actions-"));
    deployment = await deploy({ rpcUrl: node.rpcUrl, privateKey: devPrivateKey(0), outDir: dir });
    // Operators 1 and 2 stake and register two nodes each; submitter 3 gets OPEN from the treasury (account 0).
    const chain = { ...hardhat, rpcUrls: { default: { http: [node.rpcUrl] } } };
    const transport = http(node.rpcUrl);
    const admin = await clientFor(0);
    const send = async (index: number, address: Address, abi: Abi, functionName: string, args: unknown[]) => {
      const wallet = createWalletClient({ chain, transport, account: devAccount(index) });
      const hash = await wallet.writeContract({ address, abi, functionName, args } as never);
      await admin.public.waitForTransactionReceipt({ hash });
    };
    const c = deployment.contracts;
    for (const index of [1, 2, 3]) await send(0, c.OpenToken!.address, abis.OpenToken, "transfer", [devAccount(index).address, parseEther("100000")]);
    for (const index of [1, 2]) {
      await send(index, c.OpenToken!.address, abis.OpenToken, "approve", [c.Staking!.address, maxUint256]);
      await send(index, c.Staking!.address, abis.Staking, "stake", [parseEther("10000")]);
      for (let k = 0; k < 2; k++) {
        const id = nodeIdentity(keccak256(toHex(`task actions node ${index}-${k}`)));
        const deadline = (await admin.public.getBlock()).timestamp + 3_600n;
        const signature = await signNodeRegistration({
          nodeKey: id.nodeKey, operator: devAccount(index).address, nonce: 0n, deadline, chainId: admin.chainId, registry: c.XnodeRegistry!.address,
        });
        const resources = { cpuMillicores: 4_000, memoryMiB: 8_192, storageGiB: 100, gpus: 0 };
        await send(index, c.XnodeRegistry!.address, abis.XnodeRegistry, "register", [id.publicKey, resources, 4, "", deadline, signature]);
        nodeKeys.set(id.node.toLowerCase(), id.nodeKey);
      }
    }
  });
  afterAll(async () => {
    await node?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("create, draw, report, prove an equivocation, reallocate a stalled round and redraw, refund; the chain view agrees", async () => {
    const testClient = createTestClient({ chain: { ...hardhat, rpcUrls: { default: { http: [node.rpcUrl] } } }, transport: http(node.rpcUrl), mode: "hardhat" });
    const submitter = await clientFor(3);
    const keeper = await clientFor(4);
    const created = await createTask(submitter, { spec: await spec(submitter) });
    expect(created.taskId).toBe(1n);
    expect(created.approval?.amount).toBe(parseEther("10") + created.fee);
    expect(created.fee).toBe(parseEther("0.25")); // 250 bps

    // The draw needs its seed block mined first: the revert comes out typed.
    const early = await assignTask(keeper, { taskId: created.taskId }).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(ChainRevertError);
    expect((early as ChainRevertError).errorName).toBe("TaskManagerDrawNotReady");
    await testClient.mine({ blocks: 1 });
    const drawn = await assignTask(keeper, { taskId: created.taskId });
    expect(drawn.seated.map((s) => s.slot)).toEqual([0, 1, 2]);
    expect(drawn.reportDeadline).toBe(drawn.commitDeadline! + 60n);

    let task = await getTask(keeper, { taskId: created.taskId });
    expect(task.status).toBe("active");
    expect(task.committee.map((a) => a.toLowerCase())).toEqual(drawn.seated.map((s) => s.node.toLowerCase()));
    const domain = taskDomainOf(keeper);

    // Slot 2 anchors its commit; slot 1 equivocates on its commit and is proven.
    const worker2 = keyOf(task.committee[2]!);
    const seal2 = taskSeal(created.taskId, worker2.address, RESULT, keccak256(toHex("salt")));
    await anchorCommit(keeper, { taskId: created.taskId, slot: 2, seal: seal2, signature: await signTaskCommit(worker2, domain, created.taskId, seal2) });
    const worker1 = keyOf(task.committee[1]!);
    const sealA = taskSeal(created.taskId, worker1.address, RESULT, keccak256(toHex("a")));
    const sealB = taskSeal(created.taskId, worker1.address, keccak256(toHex("other")), keccak256(toHex("b")));
    const proven = await submitEquivocation(keeper, {
      taskId: created.taskId,
      proof: {
        kind: "commit",
        worker: worker1.address,
        sealA,
        signatureA: await signTaskCommit(worker1, domain, created.taskId, sealA),
        sealB,
        signatureB: await signTaskCommit(worker1, domain, created.taskId, sealB),
      },
    });
    expect(proven.reason).toBe(1);
    expect(proven.slashed).toBe(parseEther("20")); // 2 × collateral (= reward)

    const participants = participantsBitmap([0, 2]);
    const signatures = await Promise.all(
      [0, 2].map((slot) => signTaskResult(keyOf(task.committee[slot]!), domain, created.taskId, RESULT, participants)),
    );
    const reported = await reportResult(keeper, { taskId: created.taskId, resultHash: RESULT, participants, signatures });
    expect(reported.sharePerSigner * 2n + reported.dust).toBe(parseEther("10") + parseEther("0.125"));
    task = await getTask(keeper, { taskId: created.taskId });
    expect(task.status).toBe("finalized");
    expect(task.resultHash).toBe(RESULT);
    expect(task.participants).toBe(0b101);

    // A replayed report is refused, typed.
    const replay = await reportResult(keeper, { taskId: created.taskId, resultHash: RESULT, participants, signatures }).catch((e: unknown) => e);
    expect(replay).toBeInstanceOf(ChainRevertError);
    expect((replay as ChainRevertError).errorName).toBe("TaskManagerInvalidStatus");

    // A round with silent members: too early to reallocate inside the report window (typed), afterwards the
    // silent slots are vacated, the anchored one keeps its seat, and the next draw fills the vacated slots.
    const third = await createTask(submitter, { spec: await spec(submitter) });
    await testClient.mine({ blocks: 1 });
    await assignTask(keeper, { taskId: third.taskId });
    let stalled = await getTask(keeper, { taskId: third.taskId });
    const anchorer = keyOf(stalled.committee[0]!);
    const seal0 = taskSeal(third.taskId, anchorer.address, RESULT, keccak256(toHex("salt-0")));
    await anchorCommit(keeper, { taskId: third.taskId, slot: 0, seal: seal0, signature: await signTaskCommit(anchorer, domain, third.taskId, seal0) });
    const tooEarly = await reallocateTask(keeper, { taskId: third.taskId }).catch((e: unknown) => e);
    expect(tooEarly).toBeInstanceOf(ChainRevertError);
    expect((tooEarly as ChainRevertError).errorName).toBe("TaskManagerTooEarly");
    await testClient.increaseTime({ seconds: Number(stalled.reportDeadline - (await keeper.public.getBlock()).timestamp) + 1 });
    await testClient.mine({ blocks: 1 });
    const reallocated = await reallocateTask(keeper, { taskId: third.taskId });
    expect(reallocated.vacated.map((v) => v.slot)).toEqual([1, 2]);
    expect(reallocated.vacated.map((v) => v.node)).toEqual([stalled.committee[1], stalled.committee[2]]);
    expect(reallocated.round).toBe(1);
    stalled = await getTask(keeper, { taskId: third.taskId });
    expect(stalled.status).toBe("pending");
    expect(stalled.seated).toBe(0b001);
    expect(stalled.drawBlock).toBe(reallocated.drawBlock);
    await testClient.mine({ blocks: 1 });
    const redrawn = await assignTask(keeper, { taskId: third.taskId });
    expect(redrawn.seated.map((s) => s.slot)).toEqual([1, 2]);
    expect((await getTask(keeper, { taskId: third.taskId })).status).toBe("active");

    // A task nobody serves in time: refunded after its final deadline.
    const second = await createTask(submitter, { spec: await spec(submitter, { n: 1, q: 1, finalDeadline: Number((await submitter.public.getBlock()).timestamp) + 200 }) });
    await testClient.mine({ blocks: 1 });
    await assignTask(keeper, { taskId: second.taskId });
    await testClient.increaseTime({ seconds: 300 });
    await testClient.mine({ blocks: 1 });
    const refunded = await claimTask(submitter, { taskId: second.taskId });
    expect(refunded.refunded).toBe(parseEther("10") + second.fee);

    // The chain view folds the same story.
    const indexer = new ChainIndexer({
      client: keeper.public,
      confirmations: 0,
      contracts: DSMP_STATE_CONTRACTS.filter((name) => deployment.contracts[name] !== undefined).map((name) => ({
        name,
        address: deployment.contracts[name]!.address,
        abi: abis[name as keyof typeof abis] as Abi,
      })),
      reducer: dsmpStateReducer,
    });
    await indexer.sync();
    const view = indexer.state.tasks.get(created.taskId)!;
    expect(view.status).toBe("finalized");
    expect(view.moduleHash).toBe(keccak256(toHex("module")));
    expect(view.committee).toEqual(task.committee.map((a) => a.toLowerCase()));
    expect(view.resultHash).toBe(RESULT);
    expect(view.participants).toBe(0b101n);
    expect([...view.anchored]).toEqual([2]);
    expect(view.slashes).toEqual([{ node: worker1.address.toLowerCase(), reason: 1, amount: parseEther("20") }]);
    const refundedView = indexer.state.tasks.get(second.taskId)!;
    expect(refundedView.status).toBe("refunded");
    // Finalized and refunded tasks are nobody's work any more; the reallocated one is, in round 1.
    const redrawnView = indexer.state.tasks.get(third.taskId)!;
    expect(redrawnView.status).toBe("active");
    const thirdCommittee = (await getTask(keeper, { taskId: third.taskId })).committee.map((a) => a.toLowerCase());
    expect(redrawnView.committee).toEqual(thirdCommittee);
    for (const member of new Set([...task.committee, ...thirdCommittee])) {
      expect(tasksAssignedTo(indexer.state, member as Address).map((a) => a.task.id)).toEqual(thirdCommittee.includes(member.toLowerCase()) ? [third.taskId] : []);
    }
  });

  it("a deployment without TaskManager gives a typed error", async () => {
    const { TaskManager: _omitted, ...older } = deployment.contracts;
    const client = await createDsmpChainClient({ rpcUrl: node.rpcUrl, deployment: { ...deployment, contracts: older } });
    await expect(getTask(client, { taskId: 1n })).rejects.toBeInstanceOf(DeploymentInvalidError);
  });
});
