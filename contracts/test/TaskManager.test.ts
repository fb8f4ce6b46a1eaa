/**
 * TaskManager on a real Hardhat chain: lifecycle (n = 1, n = 4 with a liar), quorum-report rejections, fault
 * proofs, silent workers and reallocation, refunds, access control, draw timing.
 */
import { network } from "hardhat";
import { getAddress, keccak256, toHex, zeroAddress, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { SlashReason } from "./staking.fixture.ts";
import {
  REVEAL_WINDOW,
  REWARD,
  TASK_FEE_BPS,
  TaskStatus,
  TEST_TASK_PARAMETERS,
  assignTask,
  bitmap,
  createTask,
  keyOf,
  registerNodes,
  seal,
  signCommit,
  signResult,
  signSlots,
  taskFixture,
  taskSpec,
  type TaskFixture,
} from "./tasks.fixture.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture, time, mine } = networkHelpers;

const RESULT = keccak256(toHex("the right output"));
const WRONG = keccak256(toHex("a lazy guess"));
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
const feeOf = (reward: bigint) => ceilDiv(reward * BigInt(TASK_FEE_BPS), 10_000n);

async function withNodes(count: number, slots = 4) {
  const fx = await loadFixture(taskFixture);
  const nodes = await registerNodes(fx, Array.from({ length: count }, () => ({ slots })));
  return { fx, nodes };
}

async function operatorOf(fx: TaskFixture, node: Hex) {
  return (await fx.registry.read.operatorOf([node])) as Hex;
}

describe("TaskManager", () => {
  describe("lifecycle", () => {
    it("n = 1: escrow, draw, collateral, report, equal split, withdrawals", async () => {
      const { fx, nodes } = await withNodes(2);
      const reward = REWARD;
      const fee = feeOf(reward);
      const before = await fx.token.read.balanceOf([fx.submitter.account.address]);
      const spec = await taskSpec(fx, { n: 1, q: 1, reward, inputURI: "ipfs://input" });
      const createHash = fx.tasks.write.createTask([spec], { account: fx.submitter.account });
      await viem.assertions.emit(createHash, fx.tasks, "TaskCreated");
      const taskId = 1n;
      expect(await fx.token.read.balanceOf([fx.submitter.account.address])).toBe(before - reward - fee);
      expect(await fx.token.read.balanceOf([fx.tasks.address])).toBe(reward + fee);
      let info = await fx.tasks.read.getTask([taskId]);
      expect(info.status).toBe(TaskStatus.Pending);
      expect(info.fee).toBe(fee);
      expect(info.collateral).toBe(reward); // collateralBps = 100 %

      // Draw: not before the seed block is mined.
      await viem.assertions.revertWithCustomErrorWithArgs(fx.tasks.write.assign([taskId]), fx.tasks, "TaskManagerDrawNotReady", [
        taskId,
        info.drawBlock,
      ]);
      await mine(1);
      const assignTx = fx.tasks.write.assign([taskId]);
      await viem.assertions.emit(assignTx, fx.tasks, "RoundStarted");
      const [member] = await fx.tasks.read.committeeOf([taskId]);
      expect(nodes.map((x) => x.node.toLowerCase())).toContain(member!.toLowerCase());
      const operator = await operatorOf(fx, member!);
      expect(await fx.staking.read.lockedBy([fx.tasks.address, operator])).toBe(reward);
      expect(await fx.tasks.read.activeTasksOf([member!])).toBe(1n);
      info = await fx.tasks.read.getTask([taskId]);
      expect(info.status).toBe(TaskStatus.Active);
      expect(info.reportDeadline).toBe(info.commitDeadline + BigInt(REVEAL_WINDOW));

      const sig = await signResult(fx, keyOf(nodes, member!), taskId, RESULT, 1n);
      const pot = reward + fee / 2n;
      await viem.assertions.emitWithArgs(
        fx.tasks.write.reportResult([taskId, RESULT, 1n, [sig]], { account: fx.accounts.deployer.account }),
        fx.tasks,
        "TaskFinalized",
        [taskId, RESULT, 1n, getAddress(fx.accounts.deployer.account.address), pot, 0n],
      );
      info = await fx.tasks.read.getTask([taskId]);
      expect(info.status).toBe(TaskStatus.Finalized);
      expect(info.resultHash).toBe(RESULT);
      expect(await fx.staking.read.lockedBy([fx.tasks.address, operator])).toBe(0n);
      expect(await fx.tasks.read.activeTasksOf([member!])).toBe(0n);
      expect(await fx.tasks.read.rewardsOf([operator])).toBe(pot);
      expect(await fx.tasks.read.accruedFees()).toBe(fee - fee / 2n);

      const opWallet = fx.accounts.operators.find((w) => w.account.address.toLowerCase() === operator.toLowerCase())!;
      const opBefore = await fx.token.read.balanceOf([operator]);
      await viem.assertions.emitWithArgs(
        fx.tasks.write.withdrawRewards({ account: opWallet.account }),
        fx.tasks,
        "RewardsWithdrawn",
        [getAddress(operator), pot],
      );
      expect(await fx.token.read.balanceOf([operator])).toBe(opBefore + pot);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.withdrawRewards({ account: opWallet.account }),
        fx.tasks,
        "TaskManagerNothingToWithdraw",
        [getAddress(operator)],
      );
      await viem.assertions.emitWithArgs(fx.tasks.write.withdrawFees(), fx.tasks, "FeesWithdrawn", [
        getAddress(fx.accounts.treasury.account.address),
        fee - fee / 2n,
      ]);
      expect(await fx.token.read.balanceOf([fx.tasks.address])).toBe(0n);
      await viem.assertions.revertWithCustomError(fx.tasks.write.withdrawFees(), fx.tasks, "TaskManagerNothingToWithdraw");
    });

    it("n = 4, q = 3: three honest signers finalize and share equally (dust to the protocol), the liar is slashed", async () => {
      const { fx, nodes } = await withNodes(6);
      const reward = REWARD + 1n; // makes the three-way split leave dust
      const fee = feeOf(reward);
      const taskId = await createTask(fx, { n: 4, q: 3, reward });
      const committee = await assignTask(fx, taskId);
      expect(new Set(committee.map((a) => a.toLowerCase())).size).toBe(4);

      const { participants, signatures } = await signSlots(fx, nodes, committee, taskId, RESULT, [0, 1, 3]);
      const liarSig = await signResult(fx, keyOf(nodes, committee[2]!), taskId, WRONG, bitmap([2]));
      const pot = reward + fee / 2n;
      const share = pot / 3n;
      const dust = pot - share * 3n;
      expect(dust).toBeGreaterThan(0n);
      await viem.assertions.emitWithArgs(
        fx.tasks.write.reportResult([taskId, RESULT, participants, signatures]),
        fx.tasks,
        "TaskFinalized",
        [taskId, RESULT, participants, getAddress(fx.accounts.deployer.account.address), share, dust],
      );
      // Operators are shared round-robin: sum what each should have got.
      const expected = new Map<string, bigint>();
      for (const slot of [0, 1, 3]) {
        const op = (await operatorOf(fx, committee[slot]!)).toLowerCase();
        expected.set(op, (expected.get(op) ?? 0n) + share);
      }
      for (const [op, amount] of expected) expect(await fx.tasks.read.rewardsOf([op as Hex])).toBe(amount);
      expect(await fx.tasks.read.accruedFees()).toBe(fee - fee / 2n + dust);
      for (const m of committee) expect(await fx.tasks.read.activeTasksOf([m])).toBe(0n);

      // Conservation: everything escrowed is credited to someone.
      let credited = 0n;
      for (const v of expected.values()) credited += v;
      expect(credited + (await fx.tasks.read.accruedFees())).toBe(reward + fee);

      // The liar signed another result: anyone proves it, Staking pays the reporter half.
      const liarOp = await operatorOf(fx, committee[2]!);
      const reporter = fx.accounts.jailer;
      const reporterBefore = await fx.token.read.balanceOf([reporter.account.address]);
      const stakeBefore = (await fx.staking.read.stakeOf([liarOp])).bonded;
      const slashTx = fx.tasks.write.proveWrongResult([taskId, WRONG, bitmap([2]), liarSig], { account: reporter.account });
      await viem.assertions.emitWithArgs(slashTx, fx.tasks, "WorkerSlashed", [
        taskId,
        getAddress(committee[2]!),
        SlashReason.WRONG_RESULT,
        reward,
        getAddress(reporter.account.address),
      ]);
      expect((await fx.staking.read.stakeOf([liarOp])).bonded).toBe(stakeBefore - reward);
      expect(await fx.token.read.balanceOf([reporter.account.address])).toBe(reporterBefore + reward / 2n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.proveWrongResult([taskId, WRONG, bitmap([2]), liarSig]),
        fx.tasks,
        "TaskManagerAlreadySlashed",
        [taskId, getAddress(committee[2]!), SlashReason.WRONG_RESULT],
      );
      // The finalized result itself is not a wrong result; an outsider's signature is not a member's.
      const honestSig = await signResult(fx, keyOf(nodes, committee[0]!), taskId, RESULT, bitmap([0]));
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.proveWrongResult([taskId, RESULT, bitmap([0]), honestSig]),
        fx.tasks,
        "TaskManagerNoConflict",
        [taskId],
      );
      const outsiderNode = nodes.find((x) => !committee.map((c) => c.toLowerCase()).includes(x.node.toLowerCase()))!;
      const outsiderSig = await signResult(fx, outsiderNode.nodeKey, taskId, WRONG, 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.proveWrongResult([taskId, WRONG, 1n, outsiderSig]),
        fx.tasks,
        "TaskManagerNotCommitteeMember",
        [taskId, getAddress(outsiderNode.node)],
      );
    });
  });

  describe("quorum report rejections", () => {
    async function activeTask() {
      const { fx, nodes } = await withNodes(5);
      const taskId = await createTask(fx, { n: 4, q: 3 });
      const committee = await assignTask(fx, taskId);
      return { fx, nodes, taskId, committee };
    }

    it("rejects a replayed report on a finalized task", async () => {
      const { fx, nodes, taskId, committee } = await activeTask();
      const { participants, signatures } = await signSlots(fx, nodes, committee, taskId, RESULT, [0, 1, 2]);
      await fx.tasks.write.reportResult([taskId, RESULT, participants, signatures]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.reportResult([taskId, RESULT, participants, signatures]),
        fx.tasks,
        "TaskManagerInvalidStatus",
        [taskId, TaskStatus.Finalized],
      );
    });

    it("rejects signatures for another chain id or another contract", async () => {
      const { fx, nodes, taskId, committee } = await activeTask();
      const participants = bitmap([0, 1, 2]);
      for (const domain of [{ chainId: 1 }, { verifyingContract: fx.registry.address }]) {
        const signatures = await Promise.all(
          [0, 1, 2].map((s) => signResult(fx, keyOf(nodes, committee[s]!), taskId, RESULT, participants, domain)),
        );
        await viem.assertions.revertWithCustomError(
          fx.tasks.write.reportResult([taskId, RESULT, participants, signatures]),
          fx.tasks,
          "TaskManagerInvalidSignature",
        );
      }
    });

    it("rejects duplicate signers and non-assigned signers", async () => {
      const { fx, nodes, taskId, committee } = await activeTask();
      const participants = bitmap([0, 1, 2]);
      const s0 = await signResult(fx, keyOf(nodes, committee[0]!), taskId, RESULT, participants);
      const s2 = await signResult(fx, keyOf(nodes, committee[2]!), taskId, RESULT, participants);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.reportResult([taskId, RESULT, participants, [s0, s0, s2]]),
        fx.tasks,
        "TaskManagerInvalidSignature",
        [taskId, 1n, getAddress(committee[1]!), getAddress(committee[0]!)],
      );
      const stranger = nodes.find((x) => !committee.map((c) => c.toLowerCase()).includes(x.node.toLowerCase()))!;
      const sx = await signResult(fx, stranger.nodeKey, taskId, RESULT, participants);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.reportResult([taskId, RESULT, participants, [s0, sx, s2]]),
        fx.tasks,
        "TaskManagerInvalidSignature",
        [taskId, 1n, getAddress(committee[1]!), getAddress(stranger.node)],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.reportResult([taskId, RESULT, participants, [s0, "0x1234", s2]]),
        fx.tasks,
        "TaskManagerInvalidSignature",
        [taskId, 1n, getAddress(committee[1]!), zeroAddress],
      );
    });

    it("rejects a bitmap / signature count mismatch, a quorum shortfall and slots outside the committee", async () => {
      const { fx, nodes, taskId, committee } = await activeTask();
      const { participants, signatures } = await signSlots(fx, nodes, committee, taskId, RESULT, [0, 1, 2]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.reportResult([taskId, RESULT, participants, signatures.slice(0, 2)]),
        fx.tasks,
        "TaskManagerSignatureCountMismatch",
        [3n, 2n],
      );
      const two = await signSlots(fx, nodes, committee, taskId, RESULT, [0, 3]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.reportResult([taskId, RESULT, two.participants, two.signatures]),
        fx.tasks,
        "TaskManagerQuorumNotMet",
        [taskId, 2n, 3n],
      );
      for (const bad of [0n, bitmap([0, 1, 4])]) {
        await viem.assertions.revertWithCustomErrorWithArgs(
          fx.tasks.write.reportResult([taskId, RESULT, bad, signatures]),
          fx.tasks,
          "TaskManagerInvalidParticipants",
          [taskId, bad],
        );
      }
      // A signature over other participants does not verify for this bitmap.
      const other = await signResult(fx, keyOf(nodes, committee[0]!), taskId, RESULT, bitmap([0, 1, 3]));
      await viem.assertions.revertWithCustomError(
        fx.tasks.write.reportResult([taskId, RESULT, participants, [other, signatures[1]!, signatures[2]!]]),
        fx.tasks,
        "TaskManagerInvalidSignature",
      );
    });

    it("rejects reports after the final deadline and on unknown tasks", async () => {
      const { fx, nodes, taskId, committee } = await activeTask();
      const info = await fx.tasks.read.getTask([taskId]);
      const { participants, signatures } = await signSlots(fx, nodes, committee, taskId, RESULT, [0, 1, 2]);
      await time.increaseTo(info.finalDeadline + 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.reportResult([taskId, RESULT, participants, signatures]),
        fx.tasks,
        "TaskManagerDeadlinePassed",
        [taskId, info.finalDeadline],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.reportResult([99n, RESULT, participants, signatures]),
        fx.tasks,
        "TaskManagerUnknownTask",
        [99n],
      );
    });
  });

  describe("equivocation proofs", () => {
    it("two different seals from one worker: slashed (uncapped), reporter paid, once only", async () => {
      const { fx, nodes } = await withNodes(3);
      const taskId = await createTask(fx, { n: 2, q: 2 });
      const committee = await assignTask(fx, taskId);
      const worker = committee[0]!;
      const key = keyOf(nodes, worker);
      const sealA = seal(taskId, worker, RESULT, keccak256("0xaa"));
      const sealB = seal(taskId, worker, WRONG, keccak256("0xbb"));
      const sigA = await signCommit(fx, key, taskId, sealA);
      const sigB = await signCommit(fx, key, taskId, sealB);
      const op = await operatorOf(fx, worker);
      const bondedBefore = (await fx.staking.read.stakeOf([op])).bonded;
      const reporter = fx.accounts.jailer;
      const before = await fx.token.read.balanceOf([reporter.account.address]);
      const amount = (REWARD * BigInt(TEST_TASK_PARAMETERS.equivocationSlashBps)) / 10_000n;
      await viem.assertions.emitWithArgs(
        fx.tasks.write.proveCommitEquivocation([taskId, worker, sealA, sigA, sealB, sigB], { account: reporter.account }),
        fx.tasks,
        "WorkerSlashed",
        [taskId, getAddress(worker), SlashReason.EQUIVOCATION, amount, getAddress(reporter.account.address)],
      );
      expect((await fx.staking.read.stakeOf([op])).bonded).toBe(bondedBefore - amount);
      expect(await fx.token.read.balanceOf([reporter.account.address])).toBe(before + amount / 2n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.proveCommitEquivocation([taskId, worker, sealA, sigA, sealB, sigB]),
        fx.tasks,
        "TaskManagerAlreadySlashed",
        [taskId, getAddress(worker), SlashReason.EQUIVOCATION],
      );
      // Same seal twice, or a signature by someone else: no conflict.
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.proveCommitEquivocation([taskId, worker, sealA, sigA, sealA, sigA]),
        fx.tasks,
        "TaskManagerNoConflict",
        [taskId],
      );
      const otherSig = await signCommit(fx, keyOf(nodes, committee[1]!), taskId, sealB);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.proveCommitEquivocation([taskId, worker, sealA, sigA, sealB, otherSig]),
        fx.tasks,
        "TaskManagerNoConflict",
        [taskId],
      );
    });

    it("two different signed results from one worker: slashed, reporter paid; unregistered signer refused", async () => {
      const { fx, nodes } = await withNodes(3);
      const taskId = await createTask(fx, { n: 2, q: 2 });
      const committee = await assignTask(fx, taskId);
      const worker = committee[1]!;
      const key = keyOf(nodes, worker);
      const a = await signResult(fx, key, taskId, RESULT, bitmap([0, 1]));
      const b = await signResult(fx, key, taskId, WRONG, bitmap([1]));
      const amount = (REWARD * BigInt(TEST_TASK_PARAMETERS.equivocationSlashBps)) / 10_000n;
      await viem.assertions.emitWithArgs(
        fx.tasks.write.proveResultEquivocation([taskId, RESULT, bitmap([0, 1]), a, WRONG, bitmap([1]), b]),
        fx.tasks,
        "WorkerSlashed",
        [taskId, getAddress(worker), SlashReason.EQUIVOCATION, amount, getAddress(fx.accounts.deployer.account.address)],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.proveResultEquivocation([taskId, RESULT, 1n, a, RESULT, 1n, a]),
        fx.tasks,
        "TaskManagerNoConflict",
        [taskId],
      );
      const { generatePrivateKey, privateKeyToAccount } = await import("viem/accounts");
      const strangerKey = generatePrivateKey();
      const x = await signResult(fx, strangerKey, taskId, RESULT, 1n);
      const y = await signResult(fx, strangerKey, taskId, WRONG, 1n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.proveResultEquivocation([taskId, RESULT, 1n, x, WRONG, 1n, y]),
        fx.tasks,
        "TaskManagerUnknownNode",
        [privateKeyToAccount(strangerKey).address],
      );
    });
  });

  describe("silent workers, reallocation and refunds", () => {
    it("penalises and replaces the silent slot, keeps the index, then finalizes with the newcomer", async () => {
      const { fx, nodes } = await withNodes(6);
      const taskId = await createTask(fx, { n: 4, q: 3 });
      const committee = await assignTask(fx, taskId);
      // Slots 0, 1, 2 anchor their commits; slot 3 stays silent.
      for (const slot of [0, 1, 2]) {
        const w = committee[slot]!;
        const s = seal(taskId, w, RESULT, keccak256(toHex(`salt${slot}`)));
        const sig = await signCommit(fx, keyOf(nodes, w), taskId, s);
        await viem.assertions.emitWithArgs(fx.tasks.write.anchorCommit([taskId, slot, s, sig]), fx.tasks, "CommitAnchored", [
          taskId,
          slot,
          getAddress(w),
          s,
        ]);
      }
      // A commit signed by another node does not anchor slot 3.
      const bogus = seal(taskId, committee[3]!, RESULT, keccak256("0x01"));
      const bogusSig = await signCommit(fx, keyOf(nodes, committee[0]!), taskId, bogus);
      await viem.assertions.revertWithCustomError(
        fx.tasks.write.anchorCommit([taskId, 3, bogus, bogusSig]),
        fx.tasks,
        "TaskManagerInvalidSignature",
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.anchorCommit([taskId, 7, bogus, bogusSig]),
        fx.tasks,
        "TaskManagerInvalidSlot",
        [taskId, 7n],
      );

      const info = await fx.tasks.read.getTask([taskId]);
      expect(info.anchored).toBe(0b0111);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.tasks.write.reallocate([taskId]), fx.tasks, "TaskManagerTooEarly", [
        taskId,
        info.reportDeadline,
      ]);
      await time.increaseTo(info.reportDeadline + 1n);
      const silent = committee[3]!;
      const silentOp = await operatorOf(fx, silent);
      const penalty = (REWARD * BigInt(TEST_TASK_PARAMETERS.noShowPenaltyBps)) / 10_000n;
      const bondedBefore = (await fx.staking.read.stakeOf([silentOp])).bonded;
      const lockedBefore = await fx.staking.read.lockedBy([fx.tasks.address, silentOp]);
      const tx = fx.tasks.write.reallocate([taskId]);
      await viem.assertions.emitWithArgs(tx, fx.tasks, "SlotVacated", [taskId, 3, getAddress(silent), 0]);
      await viem.assertions.emitWithArgs(tx, fx.tasks, "WorkerSlashed", [
        taskId,
        getAddress(silent),
        SlashReason.NO_SHOW,
        penalty,
        zeroAddress,
      ]);
      expect((await fx.staking.read.stakeOf([silentOp])).bonded).toBe(bondedBefore - penalty);
      expect(await fx.staking.read.lockedBy([fx.tasks.address, silentOp])).toBe(lockedBefore - REWARD);
      expect(await fx.tasks.read.activeTasksOf([silent])).toBe(0n);
      let after = await fx.tasks.read.getTask([taskId]);
      expect(after.status).toBe(TaskStatus.Pending);
      expect(after.round).toBe(1);
      expect(after.seated).toBe(0b0111);
      expect((await fx.tasks.read.committeeOf([taskId]))[3]).toBe(zeroAddress);

      await mine(1);
      await viem.assertions.emit(fx.tasks.write.assign([taskId]), fx.tasks, "WorkerReplaced");
      const next = await fx.tasks.read.committeeOf([taskId]);
      expect(next.slice(0, 3)).toEqual(committee.slice(0, 3));
      expect(next[3]).not.toBe(zeroAddress);
      // The slot kept its index and the committee has no duplicates (the silent node may be drawn again).
      expect(new Set(next.map((a) => a.toLowerCase())).size).toBe(4);
      after = await fx.tasks.read.getTask([taskId]);
      expect(after.status).toBe(TaskStatus.Active);

      const { participants, signatures } = await signSlots(fx, nodes, [...next], taskId, RESULT, [0, 2, 3]);
      await viem.assertions.emit(fx.tasks.write.reportResult([taskId, RESULT, participants, signatures]), fx.tasks, "TaskFinalized");
    });

    it("bounded rounds: after maxRounds the submitter claims a refund and all collateral is unlocked", async () => {
      const { fx } = await withNodes(8);
      const taskId = await createTask(fx, { n: 2, q: 2 });
      const before = await fx.token.read.balanceOf([fx.submitter.account.address]);
      await assignTask(fx, taskId);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.claim([taskId], { account: fx.submitter.account }),
        fx.tasks,
        "TaskManagerTooEarly",
        [taskId, (await fx.tasks.read.getTask([taskId])).finalDeadline],
      );
      for (let round = 0; round < TEST_TASK_PARAMETERS.maxRounds; round++) {
        const info = await fx.tasks.read.getTask([taskId]);
        expect(info.round).toBe(round);
        expect(info.status).toBe(TaskStatus.Active);
        await time.increaseTo(info.reportDeadline + 1n);
        if (round + 1 < TEST_TASK_PARAMETERS.maxRounds) {
          await viem.assertions.emit(fx.tasks.write.reallocate([taskId]), fx.tasks, "DrawScheduled");
          await assignTask(fx, taskId);
        }
      }
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.reallocate([taskId]),
        fx.tasks,
        "TaskManagerRoundsExhausted",
        [taskId, TEST_TASK_PARAMETERS.maxRounds],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.claim([taskId], { account: fx.accounts.deployer.account }),
        fx.tasks,
        "TaskManagerNotSubmitter",
        [taskId, getAddress(fx.accounts.deployer.account.address)],
      );
      const committee = await fx.tasks.read.committeeOf([taskId]);
      const fee = feeOf(REWARD);
      await viem.assertions.emitWithArgs(
        fx.tasks.write.claim([taskId], { account: fx.submitter.account }),
        fx.tasks,
        "TaskRefunded",
        [taskId, getAddress(fx.submitter.account.address), REWARD + fee],
      );
      expect(await fx.token.read.balanceOf([fx.submitter.account.address])).toBe(before + REWARD + fee);
      for (const m of committee) expect(await fx.tasks.read.activeTasksOf([m])).toBe(0n);
      for (const op of fx.accounts.operators) {
        expect(await fx.staking.read.lockedBy([fx.tasks.address, op.account.address])).toBe(0n);
      }
      expect((await fx.tasks.read.getTask([taskId])).status).toBe(TaskStatus.Refunded);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.tasks.write.claim([taskId], { account: fx.submitter.account }),
        fx.tasks,
        "TaskManagerInvalidStatus",
        [taskId, TaskStatus.Refunded],
      );
    });

    it("a task nobody can take is refunded after its final deadline", async () => {
      const { fx } = await withNodes(1);
      const taskId = await createTask(fx, { n: 2, q: 2, finalIn: 3_600n });
      await mine(1);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.tasks.write.assign([taskId]), fx.tasks, "TaskManagerNotEnoughEligibleNodes", [
        taskId,
        1n,
        2n,
      ]);
      await time.increase(3_601);
      await viem.assertions.emit(fx.tasks.write.claim([taskId], { account: fx.submitter.account }), fx.tasks, "TaskRefunded");
    });
  });

  describe("draw timing", () => {
    it("re-targets the draw when the seed block hash has expired (> 256 blocks)", async () => {
      const { fx } = await withNodes(2);
      const taskId = await createTask(fx);
      await mine(300);
      const tx = fx.tasks.write.assign([taskId]);
      await viem.assertions.emit(tx, fx.tasks, "DrawScheduled");
      const info = await fx.tasks.read.getTask([taskId]);
      expect(info.status).toBe(TaskStatus.Pending);
      expect(info.drawBlock).toBe((await fx.publicClient.getBlockNumber()) + 1n);
      await assignTask(fx, taskId);
      expect((await fx.tasks.read.getTask([taskId])).status).toBe(TaskStatus.Active);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.tasks.write.assign([taskId]), fx.tasks, "TaskManagerInvalidStatus", [
        taskId,
        TaskStatus.Active,
      ]);
    });
  });

  describe("spec validation and access control", () => {
    it("rejects out-of-range specs", async () => {
      const { fx } = await withNodes(1);
      const cases: [Partial<Awaited<ReturnType<typeof taskSpec>>>, string][] = [
        [{ n: 0 }, "n"],
        [{ n: 33, q: 1 }, "n"],
        [{ n: 2, q: 3 }, "q"],
        [{ q: 0 }, "q"],
        [{ reward: 0n }, "reward"],
        [{ commitWindow: 0 }, "commitWindow"],
        [{ revealWindow: 0 }, "revealWindow"],
        [{ resources: { cpuMillicores: 0, memoryMiB: 1, storageGiB: 0, gpus: 0 } }, "resources"],
        [{ finalDeadline: 1 }, "finalDeadline"],
      ];
      for (const [over, field] of cases) {
        const spec = { ...(await taskSpec(fx)), ...over };
        await viem.assertions.revertWithCustomError(
          fx.tasks.write.createTask([spec], { account: fx.submitter.account }),
          fx.tasks,
          "TaskManagerInvalidSpec",
        ).catch((e: unknown) => {
          throw new Error(`${field}: ${String(e)}`);
        });
      }
    });

    it("only the admin sets the fee and the treasury, within bounds", async () => {
      const fx = await loadFixture(taskFixture);
      const outsider = fx.accounts.operators[0];
      for (const call of [
        fx.tasks.write.setProtocolFee([100], { account: outsider.account }),
        fx.tasks.write.setTreasury([outsider.account.address], { account: outsider.account }),
      ]) {
        await viem.assertions.revertWithCustomError(call, fx.tasks, "AccessControlUnauthorizedAccount");
      }
      await viem.assertions.emitWithArgs(fx.tasks.write.setProtocolFee([100]), fx.tasks, "ProtocolFeeSet", [100]);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.tasks.write.setProtocolFee([2_001]), fx.tasks, "TaskManagerInvalidParameter", [
        toHex("protocolFeeBps", { size: 32 }),
        2_001n,
      ]);
      await viem.assertions.emitWithArgs(fx.tasks.write.setTreasury([outsider.account.address]), fx.tasks, "TreasurySet", [
        getAddress(outsider.account.address),
      ]);
      await viem.assertions.revertWithCustomError(fx.tasks.write.setTreasury([zeroAddress]), fx.tasks, "TaskManagerZeroAddress");
      expect(await fx.tasks.read.protocolFeeBps()).toBe(100);
      expect((await fx.tasks.read.parameters()).maxRounds).toBe(TEST_TASK_PARAMETERS.maxRounds);
    });

    it("refuses to deploy with bad parameters", async () => {
      const fx = await loadFixture(taskFixture);
      const args = (p: Partial<typeof TEST_TASK_PARAMETERS>) =>
        [fx.token.address, fx.staking.address, fx.registry.address, fx.accounts.deployer.account.address, fx.accounts.treasury.account.address, TASK_FEE_BPS, { ...TEST_TASK_PARAMETERS, ...p }] as const;
      for (const p of [{ maxRounds: 0 }, { candidateWindow: 0 }, { maxScan: 4 }, { drawDelay: 0 }, { finalizerFeeShareBps: 10_001 }]) {
        await expect(viem.deployContract("TaskManager", [...args(p)])).rejects.toThrow();
      }
      await expect(
        viem.deployContract("TaskManager", [zeroAddress, ...args({}).slice(1)] as never),
      ).rejects.toThrow();
    });
  });
});
