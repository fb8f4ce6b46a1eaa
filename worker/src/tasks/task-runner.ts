/**
 * The node's task pipeline (DESIGN §4.3–4.6): chain → BullMQ job → blobs → sandbox → committee round → report.
 *
 * - A watcher polls TaskManager's `TaskAssigned` events naming this node and adds one job per task to the
 *   node's durable queue (job id from the task id, so the replay after a restart adds nothing twice).
 * - A job reads the task (`getTask`, `committeeOf`, the `TaskCreated` event for the hashes), leaves at once if
 *   the task is final or this node no longer holds a slot, fetches module and input by hash over
 *   `/dsmp/blob/1.0.0` from connected peers (the submitter's node serves them), runs the module in the sandbox,
 *   keeps the output in the blob store (so the submitter can fetch it by its hash), and runs the round
 *   (round-driver.ts) until the task is final or its report deadline passes.
 * - The commit salt is derived from the node key and task id (a deterministic signature), so a node restarted
 *   mid-round re-creates the same seal instead of equivocating.
 * - A module that fails in the sandbox fails the job with its reason; the node does not commit and stays up.
 * - A round that stalls because members stayed silent is moved on by the members that anchored their commits
 *   (round-keeper.ts): after the report deadline they call `reallocate`, in slot order one stagger apart, and
 *   `assign` for the next draw once its seed block is mined; then the job runs the next round in the same slot.
 */
import type { PeerId } from "@libp2p/interface";
import { keccak256, toHex, type Address, type Hex, type LocalAccount } from "viem";
import { abis } from "@dsmp/contracts";
import { assignTask } from "../chain/actions/assign-task.ts";
import { reallocateTask } from "../chain/actions/reallocate-task.ts";
import { sendTransaction } from "../chain/transactions.ts";
import type { DsmpChainClient } from "../chain/chain-client.ts";
import { ChainRevertError, ChainTransactionFailedError, SandboxError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { DsmpMetrics } from "../api/metrics.ts";
import type { BlobService } from "./blob-protocol.ts";
import { sha256Hex, type BlobStore } from "./blob-store.ts";
import { computeSeal, slotsOf } from "./commit-round.ts";
import { createTaskQueue, type TaskJobContext, type TaskQueue } from "./job-queue.ts";
import { createRoundDriver, type RoundChain, type RoundDriver } from "./round-driver.ts";
import { keeperAction } from "./round-keeper.ts";
import { encodeRoundMessage, roundTopic, signCommit, taskManagerDomain } from "./round-messages.ts";
import { runWasm, type SandboxOptions } from "./wasm-sandbox.ts";
import type { GossipSub } from "@libp2p/gossipsub";

/** Chain poll interval (ms) of the assignment watcher and of a running job. */
export const TASK_POLL_MS = 1_000;
/**
 * After finalization, the job stays this long for proofs against losers (ms): the round keeps listening, so the
 * lowest-ranked participant still proves a loser whose signed result arrives seconds late (a loaded node, a slow
 * gossip path). 3 s proved too short on a loaded 2-core CI machine; members republish every second meanwhile.
 */
export const TASK_PROOF_GRACE_MS = 10_000;
/** After a round ends without finalization, how long a job waits for a reallocation's next round (ms). */
export const TASK_REALLOCATION_WAIT_MS = 30_000;
/** Transmit stagger between ranked workers (ms). */
export const TASK_TRANSMIT_STAGGER_MS = 3_000;
/**
 * Stagger between the members that reallocate a stalled round and assign its next draw (ms). Must exceed a block
 * time plus propagation, or the next member's transaction is mined after the first one's and reverts (gas spent):
 * 15 s covers Ethereum's 12 s blocks. Only the later keepers wait; the first acts at once.
 */
export const TASK_KEEPER_STAGGER_MS = 15_000;
/**
 * Reverts a keeper expects when another member moved the task first or the chain is not there yet: logged at
 * debug level and retried on the next poll (or dropped when the task moved on).
 */
const KEEPER_RACE_REVERTS = new Set([
  "TaskManagerInvalidStatus",
  "TaskManagerTooEarly",
  "TaskManagerNothingToReallocate",
  "TaskManagerRoundsExhausted",
  "TaskManagerDrawNotReady",
]);

/** TaskStatus of ITaskManager. */
export const TASK_STATUS = ["none", "pending", "active", "finalized", "refunded"] as const;

/** What a job ends with. */
export type TaskJobOutcome =
  | { outcome: "finalized"; resultHash: Hex; ownResultHash: Hex; participants: number[]; transactions: { action: string; hash: Hex }[] }
  | { outcome: "not-final"; ownResultHash: Hex; transactions: { action: string; hash: Hex }[] }
  | { outcome: "already-closed"; status: string }
  | { outcome: "not-seated" }
  | { outcome: "module-failed"; reason: string; message: string };

export interface TaskRunnerInit {
  chain: DsmpChainClient;
  taskManager: Address;
  /** Block TaskManager was deployed at (the watcher starts there). */
  fromBlock: bigint;
  redisUrl: string;
  /**
   * Queue key prefix; default `dsmp:<chainId>:<node address>`. A node passes {@link taskQueuePrefix}'s, which also
   * names the deployment, so a reset development chain (same addresses, task ids from 1 again) gets a new queue.
   */
  queuePrefix?: string;
  sandbox?: Omit<SandboxOptions, "signal">;
  pollMs?: number;
  transmitStaggerMs?: number;
  /** @default TASK_REALLOCATION_WAIT_MS */
  reallocationWaitMs?: number;
  /** @default TASK_KEEPER_STAGGER_MS */
  keeperStaggerMs?: number;
  /**
   * TEST ONLY: rewrites this node's output before it is hashed, to make it a liar in end-to-end tests.
   * Never set outside tests.
   */
  testOnlyAlterOutput?: (output: Uint8Array) => Uint8Array;
  /**
   * TEST ONLY: makes this node a lazy copier in end-to-end tests. It skips the sandbox, waits until two other
   * members revealed the same result (so after the commit deadline), then publishes a Commit sealing that copied
   * result and its reveal, as a cheater would. Never set outside tests.
   */
  testOnlyLazyCopy?: boolean;
  /**
   * TEST ONLY: awaited after the module ran and before the committee round starts (nothing sent yet), so an
   * end-to-end test can kill a member at exactly that point. Never set outside tests.
   */
  testOnlyBeforeRound?: (taskId: string, signal: AbortSignal) => Promise<void>;
}

/**
 * The queue key prefix of a node's task jobs: `dsmp:<chainId>:<TaskManager>:<deployment block hash, 8 hex>:<node>`.
 * Job ids are task ids, and a development chain that is started again deploys TaskManager at the same address
 * and counts tasks from 1 again: without the deployment's block hash in the prefix, the completed jobs of the
 * previous chain (kept a day) would make the node skip the new chain's tasks. On a real chain the hash never
 * changes, so jobs survive restarts as they must.
 */
export async function taskQueuePrefix(chain: Pick<DsmpChainClient, "chainId" | "public">, taskManager: Address, fromBlock: bigint, node: Address): Promise<string> {
  const block = await chain.public.getBlock({ blockNumber: fromBlock });
  return `dsmp:${chain.chainId}:${taskManager.toLowerCase()}:${block.hash.slice(2, 10)}:${node.toLowerCase()}`;
}

/** Transport drop counters of the round driver, as metric reason labels. */
const TRANSPORT_DROP_LABEL = { malformed: "malformed", badSignature: "bad-signature", wrongTask: "wrong-task" } as const;

export interface TaskRunnerComponents {
  account: LocalAccount;
  pubsub: GossipSub;
  blobs: BlobService;
  store: BlobStore;
  /** Peers to ask for blobs (connected peers). */
  peers: () => PeerId[];
  /**
   * Dials the committee members this node is not connected to (their PeerIds from the chain), so that the
   * round's gossip has a direct path between members; best effort, in the background. Omitted in tests that
   * connect the nodes themselves.
   */
  connectCommittee?: (members: readonly Address[], signal: AbortSignal) => void;
  logger: Logger;
  /** The node's metrics (`dsmp_tasks_*`); omitted in tests that do not read them. */
  metrics?: DsmpMetrics;
}

export interface TaskRunner {
  readonly queue: TaskQueue<TaskJobOutcome>;
  /** Outcomes of jobs finished since start, by task id. */
  readonly outcomes: Map<string, TaskJobOutcome | { outcome: "job-failed"; reason: string }>;
  /** Rounds in progress, by task id. */
  readonly rounds: Map<string, RoundDriver>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createTaskRunner(init: TaskRunnerInit): (components: TaskRunnerComponents) => TaskRunner {
  return (components) => {
    const { chain, taskManager } = init;
    const { account, metrics } = components;
    const log = components.logger.child({ module: "tasks", node: account.address });
    const pollMs = init.pollMs ?? TASK_POLL_MS;
    const domain = taskManagerDomain(chain.chainId, taskManager);
    const outcomes = new Map<string, TaskJobOutcome | { outcome: "job-failed"; reason: string }>();
    const rounds = new Map<string, RoundDriver>();
    const running = new AbortController();
    let watcher: ReturnType<typeof setTimeout> | undefined;
    let cursor = init.fromBlock;

    const read = <T>(functionName: "getTask" | "committeeOf", taskId: bigint) =>
      chain.public.readContract({ address: taskManager, abi: abis.TaskManager, functionName, args: [taskId] }) as Promise<T>;
    type TaskInfo = {
      status: number;
      round: number;
      q: number;
      n: number;
      drawBlock: bigint;
      commitDeadline: bigint;
      reportDeadline: bigint;
      finalDeadline: bigint;
      seated: number;
      anchored: number;
      resultHash: Hex;
      participants: number;
    };

    const tx = (what: string, write: Parameters<typeof sendTransaction>[2]) => sendTransaction(chain, what, write).then((r) => r.hash);
    const roundChain: RoundChain = {
      reportResult: (taskId, resultHash, participants, signatures) =>
        tx("reportResult", (w) => w.writeContract({ address: taskManager, abi: abis.TaskManager, functionName: "reportResult", args: [taskId, resultHash, participants, signatures] })),
      anchorCommit: (taskId, slot, seal, signature) =>
        tx("anchorCommit", (w) => w.writeContract({ address: taskManager, abi: abis.TaskManager, functionName: "anchorCommit", args: [taskId, slot, seal, signature] })),
      proveWrongResult: (taskId, resultHash, participants, signature) =>
        tx("proveWrongResult", (w) => w.writeContract({ address: taskManager, abi: abis.TaskManager, functionName: "proveWrongResult", args: [taskId, resultHash, participants, signature] })),
      proveCommitEquivocation: (taskId, worker, sealA, signatureA, sealB, signatureB) =>
        tx("proveCommitEquivocation", (w) =>
          w.writeContract({ address: taskManager, abi: abis.TaskManager, functionName: "proveCommitEquivocation", args: [taskId, worker, sealA, signatureA, sealB, signatureB] }),
        ),
    };

    const reallocationWaitMs = init.reallocationWaitMs ?? TASK_REALLOCATION_WAIT_MS;
    const keeperStaggerMs = init.keeperStaggerMs ?? TASK_KEEPER_STAGGER_MS;
    let maxRounds: number | undefined;
    /**
     * Stagger origins of the keepers, by `taskId:round`: when this node first saw the task pending, its draw's
     * seed block mined, and a block stamped after the report deadline. Dropped when the job ends.
     */
    const keeperClock = new Map<string, { pendingSince?: number; drawReadySince?: number; windowClosedSince?: number }>();
    /** Polls to skip after a keeper error that is not a lost race, by task (backoff, so a stuck draw does not spin). */
    const keeperBackoff = new Map<string, { skip: number; failures: number }>();

    /**
     * Keeper duty for a task that may be stalled (round-keeper.ts decides; this sends). Never throws: a lost
     * race or a chain hiccup is logged and a later poll tries again.
     */
    const keep = async (taskId: bigint, info: TaskInfo, selfSlot: number, chainNow: () => number, transactions: { action: string; hash: Hex }[], signal: AbortSignal): Promise<void> => {
      const id = taskId.toString();
      const backoff = keeperBackoff.get(id);
      if (backoff !== undefined && backoff.skip > 0) {
        backoff.skip--;
        return;
      }
      const txSignal = AbortSignal.any([signal, running.signal]);
      try {
        maxRounds ??= Number((await chain.public.readContract({ address: taskManager, abi: abis.TaskManager, functionName: "parameters" })).maxRounds);
        const status = TASK_STATUS[info.status] ?? "unknown";
        const key = `${id}:${info.round}`;
        const clock = keeperClock.get(key) ?? {};
        keeperClock.set(key, clock);
        const decide = async () => {
          const head = await chain.public.getBlock({ blockTag: "latest" });
          const now = chainNow();
          if (status === "pending") clock.pendingSince ??= now;
          if (status === "pending" && head.number > info.drawBlock) clock.drawReadySince ??= now;
          if (status === "active" && head.timestamp > info.reportDeadline) clock.windowClosedSince ??= now;
          return keeperAction(
            { status, round: info.round, seated: info.seated, anchored: info.anchored, reportDeadlineMs: Number(info.reportDeadline) * 1000, drawBlock: info.drawBlock },
            {
              selfSlot,
              nowMs: now,
              blockNumber: head.number,
              blockTimeMs: Number(head.timestamp) * 1000,
              staggerMs: keeperStaggerMs,
              maxRounds: maxRounds!,
              windowClosedSinceMs: clock.windowClosedSince,
              drawReadySinceMs: clock.drawReadySince,
              pendingSinceMs: clock.pendingSince,
            },
          );
        };
        let action = await decide();
        // A development chain (Hardhat, 31337) mines only on transactions: its clock and block number stand still
        // while nobody sends one. A keeper whose turn to mine has come asks it for a block (as `dsmp task submit`
        // does for the first draw), then decides again.
        if (chain.chainId === 31337 && action.type === "wait" && action.mineAtMs !== undefined && chainNow() >= action.mineAtMs) {
          try {
            await chain.public.request({ method: "evm_mine" as never, params: [] as never });
          } catch (err) {
            log.debug({ taskId: id, err }, "keeper: the development chain did not mine on request");
          }
          action = await decide();
        }
        if (action.type !== "reallocate" && action.type !== "assign") return;
        // The task may have moved since it was read: read it again right before sending.
        const fresh = await read<TaskInfo>("getTask", taskId);
        if (fresh.status !== info.status || fresh.round !== info.round) return;
        if (action.type === "reallocate") {
          const r = await reallocateTask(chain, { taskId, signal: txSignal });
          transactions.push({ action: "reallocate", hash: r.hash });
          metrics?.tasksKeeperTransactions.inc({ action: "reallocate" });
          log.info({ taskId: id, vacated: r.vacated, round: r.round, drawBlock: r.drawBlock.toString(), tx: r.hash }, "stalled round reallocated");
        } else {
          const r = await assignTask(chain, { taskId, signal: txSignal });
          transactions.push({ action: "assign", hash: r.hash });
          metrics?.tasksKeeperTransactions.inc({ action: "assign" });
          log.info({ taskId: id, seated: r.seated, tx: r.hash }, "next round drawn");
        }
        keeperBackoff.delete(id);
      } catch (err) {
        if (err instanceof ChainRevertError && KEEPER_RACE_REVERTS.has(err.errorName)) {
          log.debug({ taskId: id, err: err.errorName }, "keeper: task moved on or not ready");
        } else if (err instanceof ChainTransactionFailedError) {
          // Mined and reverted: another keeper's transaction landed first (the stagger was shorter than the chain's
          // block time plus propagation). Gas was spent; raise keeperStaggerMs if this repeats.
          log.info({ taskId: id, err: err.message }, "keeper: lost the race to another member's transaction (mined and reverted)");
        } else {
          const failures = (keeperBackoff.get(id)?.failures ?? 0) + 1;
          keeperBackoff.set(id, { failures, skip: Math.min(32, 2 ** (failures - 1)) });
          log.warn({ taskId: id, err, failures }, "keeper transaction failed; backing off");
        }
      }
    };

    /** Forgets a task's keeper state (its job ended). */
    const forgetKeeper = (taskId: string) => {
      keeperBackoff.delete(taskId);
      for (const key of keeperClock.keys()) if (key.startsWith(`${taskId}:`)) keeperClock.delete(key);
    };

    /** One job: rounds until the task is closed, this node is unseated, or no new round comes. */
    const processJob = async (ctx: TaskJobContext): Promise<TaskJobOutcome> => {
      try {
        for (let previous: Superseded | undefined; ; ) {
          const result = await processRound(ctx, previous);
          if (!("superseded" in result)) {
            if (previous === undefined || !("transactions" in result)) return result;
            return { ...result, transactions: [...previous.transactions, ...result.transactions] };
          }
          previous = { ...result, transactions: [...(previous?.transactions ?? []), ...result.transactions] };
        }
      } finally {
        forgetKeeper(ctx.data.taskId);
      }
    };

    /**
     * One round of a job. After a round this node sat through without finalization (`previous`), it waits for
     * the reallocation's next draw (status back to active, round + 1) and runs that round with the same slot.
     */
    type Superseded = { superseded: TaskInfo; selfSlot: number; ownResultHash: Hex; transactions: { action: string; hash: Hex }[] };
    const processRound = async ({ data, signal }: TaskJobContext, previous: Superseded | undefined): Promise<TaskJobOutcome | Superseded> => {
      const taskId = BigInt(data.taskId);
      // Deadlines are in chain time: a clock never behind the newest block's timestamp (a devnet runs ahead of
      // the wall clock; a real chain's newest block is a few seconds old, so this is the wall clock there).
      const latest = await chain.public.getBlock();
      const offsetMs = Math.max(0, Number(latest.timestamp) * 1000 - Date.now());
      const chainNow = () => Date.now() + offsetMs;
      let info = await read<TaskInfo>("getTask", taskId);
      const keeperTransactions: { action: string; hash: Hex }[] = [];
      if (previous !== undefined) {
        // A round that does not move at all is given up after the reallocation wait. A pending draw is waited for
        // until the reallocation wait has passed since its seed block was mined (a draw that keeps failing, e.g.
        // too few eligible nodes, must not hold a job slot until the final deadline), and never past that deadline.
        const giveUpAt = Number(previous.superseded.reportDeadline) * 1000 + reallocationWaitMs;
        while (TASK_STATUS[info.status] === "pending" || (TASK_STATUS[info.status] === "active" && info.round === previous.superseded.round)) {
          const pending = TASK_STATUS[info.status] === "pending";
          const readySince = keeperClock.get(`${data.taskId}:${info.round}`)?.drawReadySince;
          const limit = pending ? Math.min(Number(info.finalDeadline) * 1000, Math.max(giveUpAt, (readySince ?? chainNow()) + reallocationWaitMs)) : giveUpAt;
          if (chainNow() > limit) {
            return { outcome: "not-final", ownResultHash: previous.ownResultHash, transactions: keeperTransactions };
          }
          await keep(taskId, info, previous.selfSlot, chainNow, keeperTransactions, signal);
          await new Promise((r) => setTimeout(r, pollMs));
          signal.throwIfAborted();
          info = await read<TaskInfo>("getTask", taskId);
        }
        log.info({ taskId: data.taskId, round: info.round }, "task reallocated; joining the next round");
      }
      const status = TASK_STATUS[info.status] ?? "unknown";
      if (status === "finalized" || status === "refunded") return { outcome: "already-closed", status };
      if (status !== "active") throw new Error(`task ${taskId} is ${status}; retrying once it is active`);
      const committee = await read<readonly Address[]>("committeeOf", taskId);
      const selfSlot = committee.findIndex((a) => a.toLowerCase() === account.address.toLowerCase());
      if (selfSlot < 0) return { outcome: "not-seated" };
      // Gossipsub forwards a topic only through peers subscribed to it: members joined only through a non-member
      // would not hear each other. Connect to the others now, while the module runs.
      components.connectCommittee?.(committee.filter((a, slot) => slot !== selfSlot && a !== "0x0000000000000000000000000000000000000000"), signal);
      const [created] = await chain.public.getContractEvents({ address: taskManager, abi: abis.TaskManager, eventName: "TaskCreated", args: { taskId }, fromBlock: init.fromBlock });
      if (created === undefined) throw new Error(`no TaskCreated event for task ${taskId}`);
      const { moduleHash, inputHash } = created.args as { moduleHash: Hex; inputHash: Hex };

      const peers = components.peers();
      const [module, input] = await Promise.all([components.blobs.fetch(moduleHash, peers, signal), components.blobs.fetch(inputHash, peers, signal)]);
      let output: Uint8Array | undefined;
      if (init.testOnlyLazyCopy !== true) {
        const started = performance.now();
        const observe = (outcome: string) => {
          metrics?.tasksSandboxRuns.inc({ outcome });
          metrics?.tasksSandboxSeconds.observe({ outcome }, (performance.now() - started) / 1000);
        };
        try {
          output = await runWasm(module, input, { ...init.sandbox, signal });
          observe("ok");
        } catch (err) {
          if (err instanceof SandboxError) {
            observe(err.reason);
            log.warn({ taskId: data.taskId, reason: err.reason, err: err.shortMessage }, "task module failed");
            return { outcome: "module-failed", reason: err.reason, message: err.shortMessage };
          }
          throw err;
        }
        if (init.testOnlyAlterOutput !== undefined) output = init.testOnlyAlterOutput(output);
        await components.store.put(output);
      }
      let ownResultHash = output === undefined ? undefined : sha256Hex(output);
      if (init.testOnlyBeforeRound !== undefined) await init.testOnlyBeforeRound(data.taskId, signal);
      const salt = keccak256(await account.signMessage!({ message: `dsmp task salt ${chain.chainId} ${taskManager} ${taskId}` }));

      const commitDeadlineMs = Number(info.commitDeadline) * 1000;
      const reportDeadlineMs = Number(info.reportDeadline) * 1000;
      const window = reportDeadlineMs - commitDeadlineMs;
      const driver = createRoundDriver({
        params: {
          taskId,
          self: account.address,
          committee,
          q: Number(info.q),
          commitDeadlineMs,
          revealDeadlineMs: commitDeadlineMs + Math.floor(window / 3),
          reportDeadlineMs,
          transmitStaggerMs: init.transmitStaggerMs ?? TASK_TRANSMIT_STAGGER_MS,
          anchorAtMs: commitDeadlineMs + Math.floor((2 * window) / 3),
        },
        account,
        domain,
        pubsub: components.pubsub,
        chain: roundChain,
        logger: log,
        now: chainNow,
        onAction: (action, txHash) => {
          if (action.type === "dropped") metrics?.tasksRoundDropped.inc({ reason: action.reason });
          if (txHash === undefined) return;
          if (action.type === "transmitReport") metrics?.tasksReportsTransmitted.inc();
          else if (action.type === "anchorCommit") metrics?.tasksCommitsAnchored.inc();
          else if (action.type === "proveWrongResult") metrics?.tasksProofsSubmitted.inc({ kind: "wrong-result" });
          else if (action.type === "proveCommitEquivocation") metrics?.tasksProofsSubmitted.inc({ kind: "commit-equivocation" });
        },
        onTransportDrop: (reason) => metrics?.tasksRoundDropped.inc({ reason: TRANSPORT_DROP_LABEL[reason] }),
      });
      rounds.set(data.taskId, driver);
      driver.start();
      if (ownResultHash !== undefined) driver.computed(ownResultHash, salt);
      else ownResultHash = await testOnlyCopyAReveal(driver, taskId, salt, reportDeadlineMs, chainNow, signal);
      try {
        let finalSince: number | undefined;
        for (;;) {
          await new Promise((r) => setTimeout(r, pollMs));
          signal.throwIfAborted();
          const now = await read<TaskInfo>("getTask", taskId);
          if (TASK_STATUS[now.status] === "finalized") {
            driver.finalized(now.resultHash, BigInt(now.participants));
            finalSince ??= Date.now();
            if (Date.now() - finalSince >= TASK_PROOF_GRACE_MS) {
              return { outcome: "finalized", resultHash: now.resultHash, ownResultHash, participants: slotsOf(BigInt(now.participants)), transactions: [...driver.transactions, ...keeperTransactions] };
            }
          } else if (TASK_STATUS[now.status] === "refunded") {
            return { outcome: "not-final", ownResultHash, transactions: [...driver.transactions, ...keeperTransactions] };
          } else if (now.round !== info.round) {
            // Reallocated: silent slots were vacated; this node (anchored) keeps its slot for the next round.
            return { superseded: info, selfSlot, ownResultHash, transactions: [...driver.transactions, ...keeperTransactions] };
          } else if (chainNow() > Number(now.reportDeadline) * 1000 + pollMs + reallocationWaitMs) {
            return { outcome: "not-final", ownResultHash, transactions: [...driver.transactions, ...keeperTransactions] };
          } else if (chainNow() > Number(now.reportDeadline) * 1000) {
            // The round is over without a quorum: if members stayed silent, the anchored ones reallocate.
            await keep(taskId, now, selfSlot, chainNow, keeperTransactions, signal);
          }
        }
      } finally {
        driver.stop();
        rounds.delete(data.taskId);
      }
    };

    /**
     * TEST ONLY (`testOnlyLazyCopy`): wait for two other members' matching reveals, then publish a commit sealing the copied
     * result and its reveal, bypassing the round's rules (the state machine would not commit after the deadline).
     */
    const testOnlyCopyAReveal = async (driver: RoundDriver, taskId: bigint, salt: Hex, reportDeadlineMs: number, chainNow: () => number, signal: AbortSignal): Promise<Hex> => {
      const selfSlot = driver.state.selfSlot;
      for (;;) {
        // Copy what the others agree on: the first hash revealed by two other members (a liar's lone reveal is not copied).
        const seen = new Map<Hex, number>();
        for (const [slot, hash] of driver.state.reveals) if (slot !== selfSlot) seen.set(hash, (seen.get(hash) ?? 0) + 1);
        const copied = [...seen.entries()].find(([, count]) => count >= 2)?.[0];
        if (copied !== undefined) {
          const seal = computeSeal(taskId, account.address, copied, salt);
          const signature = await signCommit(account, domain, taskId, seal);
          const messages = [
            encodeRoundMessage({ v: 1, kind: "commit", taskId, worker: account.address, seal, signature }),
            encodeRoundMessage({ v: 1, kind: "reveal", taskId, worker: account.address, resultHash: copied, salt }),
          ];
          for (const bytes of messages) await components.pubsub.publish(roundTopic(taskId), bytes).catch((err: unknown) => log.warn({ err }, "lazy copy: publish failed"));
          log.warn({ taskId: taskId.toString(), copied }, "TEST ONLY lazy copier: committed a copied result after the commit deadline");
          return copied;
        }
        if (chainNow() > reportDeadlineMs) throw new Error(`lazy copy: no reveal to copy for task ${taskId}`);
        await new Promise((r) => setTimeout(r, 100));
        signal.throwIfAborted();
      }
    };

    const queue = createTaskQueue<TaskJobOutcome>({
      redisUrl: init.redisUrl,
      prefix: init.queuePrefix ?? `dsmp:${chain.chainId}:${account.address.toLowerCase()}`,
      process: processJob,
    })({ logger: log });

    const watch = async () => {
      try {
        const head = await chain.public.getBlockNumber();
        if (head >= cursor) {
          const assigned = await chain.public.getContractEvents({
            address: taskManager,
            abi: abis.TaskManager,
            eventName: "TaskAssigned",
            args: { node: account.address },
            fromBlock: cursor,
            toBlock: head,
          });
          for (const e of assigned) {
            const taskId = (e.args as { taskId: bigint }).taskId;
            const info = await read<TaskInfo>("getTask", taskId);
            const added = await queue.add({ taskId: taskId.toString(), deadline: Number(info.finalDeadline) });
            if (added) log.info({ taskId: taskId.toString() }, "task assigned; queued");
          }
          cursor = head + 1n;
        }
      } catch (err) {
        log.warn({ err }, "task watcher poll failed; retrying");
      }
      if (!running.signal.aborted) watcher = setTimeout(() => void watch(), pollMs);
    };

    return {
      queue,
      outcomes,
      rounds,
      async start() {
        await queue.start({
          completed: (taskId, result) => {
            outcomes.set(taskId, result);
            metrics?.tasksJobOutcomes.inc({ outcome: result.outcome });
            log.info({ taskId, ...result }, "task job done");
          },
          failed: (taskId, reason, final) => {
            if (!final) return;
            outcomes.set(taskId, { outcome: "job-failed", reason });
            metrics?.tasksJobOutcomes.inc({ outcome: "job-failed" });
          },
        });
        metrics?.addTaskJobSource(() => (running.signal.aborted ? Promise.resolve({}) : queue.counts()));
        await watch();
      },
      async stop() {
        running.abort();
        clearTimeout(watcher);
        for (const r of rounds.values()) r.stop();
        await queue.close({ force: true });
      },
    };
  };
}
