/**
 * TaskManager's draw on a real Hardhat chain: resource fit, capacity slots as a hard cap, spread of load in
 * proportion to slots, weighting by spare capacity.
 */
import { network } from "hardhat";
import type { Address } from "viem";
import { describe, expect, it } from "vitest";
import {
  assignTask,
  createTask,
  keyOf,
  registerNodes,
  signResult,
  taskFixture,
  type TaskFixture,
} from "./tasks.fixture.ts";
import type { RegisteredNode } from "./staking.fixture.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture, mine } = networkHelpers;

const GiB = 1_024;
const RESULT = `0x${"ab".repeat(32)}` as const;
const small = { cpuMillicores: 500, memoryMiB: 512, storageGiB: 1, gpus: 0 };

/** Finalize an n = 1 task with its only member's signature. */
async function finalize(fx: TaskFixture, nodes: RegisteredNode[], taskId: bigint, member: Address) {
  const sig = await signResult(fx, keyOf(nodes, member), taskId, RESULT, 1n);
  await fx.tasks.write.reportResult([taskId, RESULT, 1n, [sig]]);
}

describe("TaskManager assignment", () => {
  it("a task needing 8 GiB never lands on a 4 GiB node; too few fitting nodes is an error", async () => {
    const fx = await loadFixture(taskFixture);
    const resources = (mem: number) => ({ cpuMillicores: 4_000, memoryMiB: mem, storageGiB: 100, gpus: 0 });
    const nodes = await registerNodes(fx, [
      { resources: resources(4 * GiB), slots: 8 },
      { resources: resources(4 * GiB), slots: 8 },
      { resources: resources(8 * GiB), slots: 8 },
      { resources: resources(4 * GiB), slots: 8 },
      { resources: resources(16 * GiB), slots: 8 },
    ]);
    const big = new Set([nodes[2]!.node.toLowerCase(), nodes[4]!.node.toLowerCase()]);
    const need = { cpuMillicores: 1_000, memoryMiB: 8 * GiB, storageGiB: 1, gpus: 0 };
    for (let i = 0; i < 20; i++) {
      const taskId = await createTask(fx, { resources: need });
      const [member] = await assignTask(fx, taskId);
      expect(big.has(member!.toLowerCase()), `task ${taskId} on ${member}`).toBe(true);
      await finalize(fx, nodes, taskId, member!);
    }
    const three = await createTask(fx, { n: 3, q: 2, resources: need });
    await mine(1);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.tasks.write.assign([three]), fx.tasks, "TaskManagerNotEnoughEligibleNodes", [
      three,
      2n,
      3n,
    ]);
    // A GPU requirement nobody advertises.
    const gpu = await createTask(fx, { resources: { ...need, memoryMiB: 1, gpus: 1 } });
    await mine(1);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.tasks.write.assign([gpu]), fx.tasks, "TaskManagerNotEnoughEligibleNodes", [
      gpu,
      0n,
      1n,
    ]);
  });

  it("a node never holds more tasks than its slots; jailed nodes are skipped", async () => {
    const fx = await loadFixture(taskFixture);
    const nodes = await registerNodes(fx, [{ slots: 1 }, { slots: 1 }, { slots: 2 }, { slots: 3 }]);
    await fx.registry.write.jail([nodes[3]!.node, 2n ** 40n, `0x${"00".repeat(32)}`], { account: fx.accounts.jailer.account });
    const slots = new Map(nodes.slice(0, 3).map((x, i) => [x.node.toLowerCase(), [1, 1, 2][i]!]));
    for (let i = 0; i < 4; i++) {
      const taskId = await createTask(fx, { resources: small });
      const [member] = await assignTask(fx, taskId);
      expect(slots.has(member!.toLowerCase())).toBe(true);
      for (const x of nodes) {
        const active = await fx.tasks.read.activeTasksOf([x.node]);
        expect(active).toBeLessThanOrEqual(BigInt(slots.get(x.node.toLowerCase()) ?? 0));
      }
    }
    for (const x of nodes.slice(0, 3)) {
      expect(await fx.tasks.read.activeTasksOf([x.node])).toBe(BigInt(slots.get(x.node.toLowerCase())!));
    }
    const fifth = await createTask(fx, { resources: small });
    await mine(1);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.tasks.write.assign([fifth]), fx.tasks, "TaskManagerNotEnoughEligibleNodes", [
      fifth,
      0n,
      1n,
    ]);
  });

  it("100 tasks over 4 nodes with slots 1, 2, 3, 4 under steady load spread in proportion to slots (±20 %)", async () => {
    const fx = await loadFixture(taskFixture);
    const slotCounts = [1, 2, 3, 4];
    const nodes = await registerNodes(fx, slotCounts.map((slots) => ({ slots })));
    const slotsOf = new Map(nodes.map((x, i) => [x.node.toLowerCase(), slotCounts[i]!]));
    const counts = new Map(nodes.map((x) => [x.node.toLowerCase(), 0]));
    const live: { taskId: bigint; member: Address }[] = [];
    const LOAD = 9; // tasks in flight out of 10 slots: a busy network
    for (let i = 0; i < 100; i++) {
      if (live.length === LOAD) {
        const oldest = live.shift()!;
        await finalize(fx, nodes, oldest.taskId, oldest.member);
      }
      const taskId = await createTask(fx, { resources: small });
      const [member] = await assignTask(fx, taskId);
      const key = member!.toLowerCase();
      counts.set(key, counts.get(key)! + 1);
      expect(await fx.tasks.read.activeTasksOf([member!])).toBeLessThanOrEqual(BigInt(slotsOf.get(key)!));
      live.push({ taskId, member: member! });
    }
    for (const [node, count] of counts) {
      const expected = (100 * slotsOf.get(node)!) / 10;
      expect(count, `node with ${slotsOf.get(node)} slots got ${count}`).toBeGreaterThanOrEqual(expected * 0.8);
      expect(count, `node with ${slotsOf.get(node)} slots got ${count}`).toBeLessThanOrEqual(expected * 1.2);
    }
  });

  it("the draw weighs spare capacity: one at a time, a 4-slot node is drawn far more often than a 1-slot node", async () => {
    const fx = await loadFixture(taskFixture);
    const nodes = await registerNodes(fx, [{ slots: 1 }, { slots: 4 }]);
    let onBig = 0;
    for (let i = 0; i < 40; i++) {
      const taskId = await createTask(fx, { resources: small });
      const [member] = await assignTask(fx, taskId);
      if (member!.toLowerCase() === nodes[1]!.node.toLowerCase()) onBig++;
      await finalize(fx, nodes, taskId, member!);
    }
    // Expected 32 of 40 (weight 4 : 1); P(onBig < 24) < 0.1 %.
    expect(onBig).toBeGreaterThanOrEqual(24);
    expect(onBig).toBeLessThan(40);
  });
});
