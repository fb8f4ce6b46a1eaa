/**
 * Test fixture for TaskManager: the staking fixture (OpenToken, Staking, XnodeRegistry) plus a TaskManager with
 * LOCKER_ROLE and SLASHER_ROLE, a funded submitter, and helpers that register nodes, create tasks, run the draw
 * and sign commits / results with node keys exactly as workers do.
 *
 * @example
 * ```ts
 * const fx = await networkHelpers.loadFixture(taskFixture);
 * const nodes = await registerNodes(fx, [{ slots: 2 }, { slots: 2 }]);
 * const taskId = await createTask(fx, { n: 1, q: 1 });
 * await assignTask(fx, taskId);
 * ```
 */
import type { NetworkConnection } from "hardhat/types/network";
import { type Address, type Hex, encodeAbiParameters, keccak256, maxUint256, parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  DEFAULT_RESOURCES,
  ONE_OPEN,
  deployStakingFixture,
  registerNode,
  type FixtureWallet,
  type NodeResources,
  type RegisteredNode,
} from "./staking.fixture.ts";

/** EIP-712 domain name / version of TaskManager (shared task protocol constant). */
export const TASK_DOMAIN = { name: "DSMP TaskManager", version: "1" } as const;
/** EIP-712 types of the committee's signed messages (shared task protocol constant). */
export const TASK_TYPES = {
  Commit: [
    { name: "taskId", type: "uint256" },
    { name: "worker", type: "address" },
    { name: "seal", type: "bytes32" },
  ],
  Result: [
    { name: "taskId", type: "uint256" },
    { name: "resultHash", type: "bytes32" },
    { name: "participants", type: "uint256" },
  ],
} as const;

/** TaskStatus as viem decodes it. */
export const TaskStatus = { None: 0, Pending: 1, Active: 2, Finalized: 3, Refunded: 4 } as const;
/** Protocol fee of the fixture's TaskManager. */
export const TASK_FEE_BPS = 250;
/** Parameters of the fixture's TaskManager (stake weight capped low so equal-stake tests weigh by slots). */
export const TEST_TASK_PARAMETERS = {
  collateralBps: 10_000,
  minCollateral: 10n * ONE_OPEN,
  noShowPenaltyBps: 2_500,
  wrongResultSlashBps: 10_000,
  equivocationSlashBps: 20_000,
  finalizerFeeShareBps: 5_000,
  maxRounds: 3,
  candidateWindow: 8,
  maxScan: 64,
  drawDelay: 1,
  stakeWeightCap: 1_000n * ONE_OPEN,
};
/** Extra stake each operator bonds for collateral (beyond node bonds). */
export const OPERATOR_TASK_STAKE = 20_000n * ONE_OPEN;
/** Default reward of `createTask`. */
export const REWARD = 100n * ONE_OPEN;
/** Default windows. */
export const COMMIT_WINDOW = 600;
export const REVEAL_WINDOW = 600;

/**
 * Deploys the staking fixture and a TaskManager (admin = deployer, treasury = treasury wallet); grants it
 * LOCKER_ROLE and SLASHER_ROLE; funds `submitter` (the outsider wallet) with 1 000 000 OPEN and approves.
 * Each operator additionally stakes OPERATOR_TASK_STAKE.
 */
export async function taskFixture(connection: NetworkConnection) {
  const fx = await deployStakingFixture(connection);
  const { deployer, treasury, outsider, operators } = fx.accounts;
  const tasks = await fx.viem.deployContract("TaskManager", [
    fx.token.address,
    fx.staking.address,
    fx.registry.address,
    deployer.account.address,
    treasury.account.address,
    TASK_FEE_BPS,
    TEST_TASK_PARAMETERS,
  ]);
  await fx.staking.write.grantRole([fx.roles.locker, tasks.address]);
  await fx.staking.write.grantRole([fx.roles.slasher, tasks.address]);
  await fx.token.write.transfer([outsider.account.address, 1_000_000n * ONE_OPEN]);
  await fx.token.write.approve([tasks.address, maxUint256], { account: outsider.account });
  for (const operator of operators) {
    await fx.staking.write.stake([OPERATOR_TASK_STAKE], { account: operator.account });
  }
  const testClient = await fx.viem.getTestClient();
  return { ...fx, tasks, submitter: outsider, testClient };
}

export type TaskFixture = Awaited<ReturnType<typeof taskFixture>>;

/** One node to register: operator index (0..2), resources, slots. */
export type NodeSpec = { operator?: number; resources?: NodeResources; slots?: number };

/** Register nodes round-robin over the three operators unless `operator` says otherwise. */
export async function registerNodes(fx: TaskFixture, specs: NodeSpec[]): Promise<RegisteredNode[]> {
  const out: RegisteredNode[] = [];
  for (const [i, spec] of specs.entries()) {
    const operator = fx.accounts.operators[spec.operator ?? i % 3]!;
    out.push(
      await registerNode(fx, {
        operator,
        ...(spec.resources ? { resources: spec.resources } : {}),
        slots: spec.slots ?? 4,
      }),
    );
  }
  return out;
}

/** Parameters of `createTask`; all have defaults. */
export type CreateTaskOptions = {
  n?: number;
  q?: number;
  reward?: bigint;
  resources?: NodeResources;
  commitWindow?: number;
  revealWindow?: number;
  /** Seconds from now. @default 1 day */
  finalIn?: bigint;
  inputURI?: string;
  moduleHash?: Hex;
  inputHash?: Hex;
  from?: FixtureWallet;
};

/** The TaskSpec `createTask` sends. */
export async function taskSpec(fx: TaskFixture, o: CreateTaskOptions = {}) {
  const now = (await fx.publicClient.getBlock()).timestamp;
  return {
    moduleHash: o.moduleHash ?? keccak256("0x01"),
    inputHash: o.inputHash ?? keccak256("0x02"),
    inputURI: o.inputURI ?? "",
    resources: o.resources ?? { cpuMillicores: 1_000, memoryMiB: 1_024, storageGiB: 1, gpus: 0 },
    n: o.n ?? 1,
    q: o.q ?? 1,
    reward: o.reward ?? REWARD,
    commitWindow: o.commitWindow ?? COMMIT_WINDOW,
    revealWindow: o.revealWindow ?? REVEAL_WINDOW,
    finalDeadline: Number(now + (o.finalIn ?? 86_400n)),
  };
}

/** Create a task from the submitter (or `o.from`); returns its id. */
export async function createTask(fx: TaskFixture, o: CreateTaskOptions = {}): Promise<bigint> {
  const spec = await taskSpec(fx, o);
  const hash = await fx.tasks.write.createTask([spec], { account: (o.from ?? fx.submitter).account });
  const receipt = await fx.publicClient.waitForTransactionReceipt({ hash });
  const [created] = parseEventLogs({ abi: fx.tasks.abi, logs: receipt.logs, eventName: "TaskCreated" });
  return created!.args.taskId;
}

/** Mine the draw block and call `assign`; returns the committee (node addresses by slot). */
export async function assignTask(fx: TaskFixture, taskId: bigint): Promise<Address[]> {
  await fx.testClient.mine({ blocks: 1 });
  await fx.tasks.write.assign([taskId]);
  return [...(await fx.tasks.read.committeeOf([taskId]))];
}

/** The seal a worker commits: keccak256(abi.encode(taskId, worker, resultHash, salt)). */
export function seal(taskId: bigint, worker: Address, resultHash: Hex, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "address" }, { type: "bytes32" }, { type: "bytes32" }],
      [taskId, worker, resultHash, salt],
    ),
  );
}

/** Domain of `tasks` on `chainId` (overridable to forge cross-chain / other-contract signatures). */
export function taskDomain(fx: TaskFixture, over: { chainId?: number; verifyingContract?: Address } = {}) {
  return { ...TASK_DOMAIN, chainId: over.chainId ?? fx.chainId, verifyingContract: over.verifyingContract ?? fx.tasks.address };
}

/** Node key signs Result(taskId, resultHash, participants). */
export function signResult(
  fx: TaskFixture,
  nodeKey: Hex,
  taskId: bigint,
  resultHash: Hex,
  participants: bigint,
  domain: { chainId?: number; verifyingContract?: Address } = {},
): Promise<Hex> {
  return privateKeyToAccount(nodeKey).signTypedData({
    domain: taskDomain(fx, domain),
    types: TASK_TYPES,
    primaryType: "Result",
    message: { taskId, resultHash, participants },
  });
}

/** Node key signs Commit(taskId, worker, seal). */
export function signCommit(fx: TaskFixture, nodeKey: Hex, taskId: bigint, sealHash: Hex): Promise<Hex> {
  const account = privateKeyToAccount(nodeKey);
  return account.signTypedData({
    domain: taskDomain(fx),
    types: TASK_TYPES,
    primaryType: "Commit",
    message: { taskId, worker: account.address, seal: sealHash },
  });
}

/** Bitmap of the given slots. */
export const bitmap = (slots: number[]) => slots.reduce((m, s) => m | (1n << BigInt(s)), 0n);

/** Node key of a committee member. */
export function keyOf(nodes: RegisteredNode[], node: Address): Hex {
  const found = nodes.find((x) => x.node.toLowerCase() === node.toLowerCase());
  if (!found) throw new Error(`${node} is not one of the fixture's nodes`);
  return found.nodeKey;
}

/** Sign Result by the members in `slots` (ascending) and return the signatures in slot order. */
export async function signSlots(
  fx: TaskFixture,
  nodes: RegisteredNode[],
  committee: Address[],
  taskId: bigint,
  resultHash: Hex,
  slots: number[],
): Promise<{ participants: bigint; signatures: Hex[] }> {
  const participants = bitmap(slots);
  const sorted = [...slots].sort((a, b) => a - b);
  const signatures = await Promise.all(
    sorted.map((s) => signResult(fx, keyOf(nodes, committee[s]!), taskId, resultHash, participants)),
  );
  return { participants, signatures };
}

export { DEFAULT_RESOURCES, ONE_OPEN };
