/**
 * `dsmp task submit|status|ls|watch`: compute tasks (docs/tasks.md). `submit` hands the module and the input to
 * the local Xnode (control API `POST /v1/blobs`; the node serves them to the committee over /dsmp/blob/1.0.0),
 * escrows the reward in TaskManager, has the committee drawn, and follows the task to its end; `watch` follows
 * an existing task. Progress lines: created → assigned → committed → revealed → finalized (committed and
 * revealed come from the local node's view of the round when it is a member, otherwise they are skipped).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { maxUint256, type Address, type Hex } from "viem";
import { abis } from "@dsmp/contracts";
import { readDeploymentFile } from "../chain/deployment-file.ts";
import { claimTask } from "../chain/actions/claim-task.ts";
import { readChain, sendTransaction } from "../chain/transactions.ts";
import type { DsmpChainClient } from "../chain/chain-client.ts";
import { CliNotFoundError, CliUsageError } from "../errors.ts";
import { taskModuleProblem } from "../tasks/task-module-check.ts";
import { fetchOrExplain } from "./node-daemon.ts";
import { REPOSITORY_DEPLOYMENTS_DIR, connectChain } from "./chain-connection.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, GlobalOptions } from "./command-spec.ts";
import { printFields, printJson, printLine, printTable } from "./output.ts";
import { tokenAmount, utcTime } from "./transaction-output.ts";
import { checkTokenAmount, parseHttpUrl, parseId, parseInteger, parseTokenAmount } from "./value-parsers.ts";

const STATUS = ["none", "pending", "active", "finalized", "refunded"] as const;
/** Default control API of the local node. */
export const DEFAULT_NODE_API = "http://127.0.0.1:4662";
/** How often `watch` polls the chain (ms). */
const WATCH_POLL_MS = 1_000;

async function taskManagerOf(client: DsmpChainClient, options: GlobalOptions): Promise<{ address: Address; fromBlock: bigint }> {
  const file = options.deployment ?? join(REPOSITORY_DEPLOYMENTS_DIR, `${client.chainId}.json`);
  const tm = (await readDeploymentFile(file)).contracts["TaskManager"];
  if (tm === undefined) throw new CliUsageError(`the deployment ${file} has no TaskManager: deploy the task contracts first`);
  return { address: tm.address, fromBlock: BigInt(tm.blockNumber) };
}

type TaskInfo = {
  submitter: Address;
  status: number;
  n: number;
  q: number;
  round: number;
  reward: bigint;
  commitDeadline: bigint;
  reportDeadline: bigint;
  finalDeadline: bigint;
  participants: number;
  resultHash: Hex;
};

async function getTask(client: DsmpChainClient, tm: Address, taskId: bigint): Promise<TaskInfo> {
  return (await readChain(client, (pub) => pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "getTask", args: [taskId] }))) as unknown as TaskInfo;
}

function taskJson(taskId: bigint, t: TaskInfo, committee: readonly Address[]) {
  return {
    taskId,
    status: STATUS[t.status] ?? "unknown",
    submitter: t.submitter,
    n: t.n,
    q: t.q,
    round: t.round,
    reward: t.reward,
    committee,
    commitDeadline: t.commitDeadline,
    reportDeadline: t.reportDeadline,
    finalDeadline: t.finalDeadline,
    resultHash: t.status === 3 ? t.resultHash : null,
    participants: [...Array(32).keys()].filter((s) => ((t.participants >>> s) & 1) === 1),
  };
}

async function nodeApi<T>(base: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetchOrExplain(`${base}${path}`, init, "the node's control API (--node-api)");
  if (!res.ok) throw new CliUsageError(`the node API at ${base} answered ${res.status} to ${path}: ${await res.text()}`);
  return (await res.json()) as T;
}

export interface TaskSubmitOptions extends GlobalOptions {
  module: string;
  input: string;
  n: string;
  q: string;
  reward: string;
  commitWindow: string;
  revealWindow: string;
  deadline: string;
  nodeApi: string;
  wait: boolean;
  /** Check the module is a task module before anything is sent (default true). */
  moduleCheck?: boolean;
}

/** `dsmp task submit`. */
export async function taskSubmitCommand(options: TaskSubmitOptions, io: CliIo): Promise<void> {
  const n = parseInteger(options.n, "--n", { min: 1, max: 32 });
  const q = parseInteger(options.q, "--q", { min: 1, max: n });
  checkTokenAmount(options.reward, "--reward");
  const commitWindow = parseInteger(options.commitWindow, "--commit-window", { min: 1, max: 86_400 });
  const revealWindow = parseInteger(options.revealWindow, "--reveal-window", { min: 1, max: 86_400 });
  const deadline = parseInteger(options.deadline, "--deadline", { min: 1 });
  let wasm: Buffer;
  let input: Buffer;
  try {
    wasm = readFileSync(options.module);
    input = readFileSync(options.input);
  } catch (err) {
    throw new CliUsageError(`cannot read ${(err as NodeJS.ErrnoException).path ?? "a file"}: ${(err as Error).message}`);
  }
  // Before any reward is escrowed: a module the committee cannot run would only fail the round.
  const problem = options.moduleCheck === false ? undefined : taskModuleProblem(wasm);
  if (problem !== undefined) throw new CliUsageError(`--module ${options.module} cannot run as a task: ${problem} (docs/tasks.md)`);
  const client = await connectChain(options, { signs: true, signal: io.signal });
  const reward = parseTokenAmount(options.reward, "--reward", client.token.decimals);
  const tm = await taskManagerOf(client, options);
  const progress = (line: string) => (options.json ? io.stderr(`${line}\n`) : printLine(io, line));

  // 1. Blobs to the local node, which serves them to the committee.
  const sha = (b: Uint8Array) => `0x${createHash("sha256").update(b).digest("hex")}` as Hex;
  const moduleHash = sha(wasm);
  const inputHash = sha(input);
  for (const [what, bytes, hash] of [["module", wasm, moduleHash], ["input", input, inputHash]] as const) {
    const stored = await nodeApi<{ hash: Hex }>(options.nodeApi, "/v1/blobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ base64: bytes.toString("base64") }),
    });
    if (stored.hash !== hash) throw new CliUsageError(`the node stored the ${what} under ${stored.hash}, expected ${hash}`);
  }
  progress(`blobs: module ${moduleHash} (${wasm.length} bytes), input ${inputHash} (${input.length} bytes) handed to ${options.nodeApi}`);

  // 2. Escrow and create.
  const txHashes: Hex[] = [];
  const allowance = await readChain(client, (pub) =>
    pub.readContract({ address: client.contracts.token, abi: abis.OpenToken, functionName: "allowance", args: [client.wallet!.account.address, tm.address] }),
  );
  if (allowance < reward * 2n) {
    const approved = await sendTransaction(client, "approve", (w) => w.writeContract({ address: client.contracts.token, abi: abis.OpenToken, functionName: "approve", args: [tm.address, maxUint256] }), { signal: io.signal });
    txHashes.push(approved.hash);
  }
  const now = (await client.public.getBlock()).timestamp;
  const created = await sendTransaction(
    client,
    "createTask",
    (w) =>
      w.writeContract({
        address: tm.address,
        abi: abis.TaskManager,
        functionName: "createTask",
        args: [
          {
            moduleHash,
            inputHash,
            inputURI: "",
            resources: { cpuMillicores: 100, memoryMiB: 64, storageGiB: 0, gpus: 0 },
            n,
            q,
            reward,
            commitWindow,
            revealWindow,
            finalDeadline: Number(now) + deadline,
          },
        ],
      }),
    { signal: io.signal },
  );
  txHashes.push(created.hash);
  const log = created.receipt.logs.find((l) => l.address.toLowerCase() === tm.address.toLowerCase());
  const taskId = BigInt(log!.topics[1]!);
  progress(`created: task ${taskId}, reward ${tokenAmount(client, reward)}, n ${n}, q ${q} (tx ${created.hash})`);

  // 3. The draw is seeded by the hash of a later block (drawBlock): wait until it is mined, then assign.
  // A development chain (Hardhat, chain 31337) mines only on transactions: there we ask it for blocks.
  const drawBlock = BigInt((await client.public.getContractEvents({ address: tm.address, abi: abis.TaskManager, eventName: "DrawScheduled", args: { taskId }, fromBlock: created.receipt.blockNumber, toBlock: created.receipt.blockNumber }))[0]?.args.drawBlock ?? created.receipt.blockNumber + 1n);
  const started = Date.now();
  while ((await client.public.getBlockNumber({ cacheTime: 0 })) <= drawBlock) {
    io.signal.throwIfAborted();
    const waited = Date.now() - started;
    if (waited > 120_000) throw new CliUsageError(`block ${drawBlock} (the draw's seed) was not mined within 2 minutes`);
    if (client.chainId === 31337 && waited >= 1_000) await client.public.request({ method: "evm_mine" as never, params: [] as never });
    await new Promise((r) => setTimeout(r, 250));
  }
  const assigned = await sendTransaction(client, "assign", (w) => w.writeContract({ address: tm.address, abi: abis.TaskManager, functionName: "assign", args: [taskId] }), { signal: io.signal });
  txHashes.push(assigned.hash);
  const result = options.wait ? await follow(client, tm, taskId, options, io, progress) : undefined;
  if (options.json) printJson(io, { taskId, moduleHash, inputHash, txHashes, ...(result ?? {}) });
}

/** Follows a task to its end, printing each phase once. */
async function follow(client: DsmpChainClient, tm: { address: Address; fromBlock: bigint }, taskId: bigint, options: { nodeApi: string }, io: CliIo, progress: (l: string) => void) {
  const seen = new Set<string>();
  const once = (key: string, line: string) => {
    if (!seen.has(key)) {
      seen.add(key);
      progress(line);
    }
  };
  for (;;) {
    io.signal.throwIfAborted();
    const t = await getTask(client, tm.address, taskId);
    const committee = (await readChain(client, (pub) => pub.readContract({ address: tm.address, abi: abis.TaskManager, functionName: "committeeOf", args: [taskId] }))) as readonly Address[];
    if (t.status >= 2) once(`assigned-${t.round}`, `assigned: round ${t.round}, committee ${committee.join(", ")}; commit by ${utcTime(t.commitDeadline)}`);
    const rounds = await nodeApi<{ rounds: { taskId: string; committed: number[]; revealed: number[] }[] }>(options.nodeApi, "/v1/tasks").catch(() => undefined);
    const round = rounds?.rounds.find((r) => r.taskId === taskId.toString());
    if (round !== undefined && round.committed.length > 0) once(`committed-${round.committed.length}`, `committed: slots ${round.committed.join(", ")}`);
    if (round !== undefined && round.revealed.length > 0) once(`revealed-${round.revealed.length}`, `revealed: slots ${round.revealed.join(", ")}`);
    if (t.status === 3) {
      const finals = await client.public.getContractEvents({ address: tm.address, abi: abis.TaskManager, eventName: "TaskFinalized", args: { taskId }, fromBlock: tm.fromBlock });
      const tx = finals[0]?.transactionHash;
      const json = taskJson(taskId, t, committee);
      progress(`finalized: result ${t.resultHash}, participants ${json.participants.join(", ")} (tx ${tx})`);
      const blob = await nodeApi<{ base64: string }>(options.nodeApi, `/v1/blobs/${t.resultHash}`).catch(() => undefined);
      const output = blob === undefined ? null : Buffer.from(blob.base64, "base64").toString("hex");
      if (output !== null) progress(`result: 0x${output}`);
      return { status: "finalized", resultHash: t.resultHash, participants: json.participants, finalizeTx: tx ?? null, outputHex: output };
    }
    if (t.status === 4) {
      progress("refunded: no quorum before the deadline");
      return { status: "refunded", resultHash: null, participants: [], finalizeTx: null, outputHex: null };
    }
    await new Promise((r) => setTimeout(r, WATCH_POLL_MS));
  }
}

/** `dsmp task status <id>`. */
export async function taskStatusCommand(options: GlobalOptions & { id: string }, io: CliIo): Promise<void> {
  const taskId = parseId(options.id, "<id>");
  const client = await connectChain(options, { signs: false, signal: io.signal });
  const tm = await taskManagerOf(client, options);
  const t = await getTask(client, tm.address, taskId);
  if (t.status === 0) throw new CliNotFoundError(`no task ${taskId} (\`dsmp task ls\` lists the tasks)`);
  const committee = (await readChain(client, (pub) => pub.readContract({ address: tm.address, abi: abis.TaskManager, functionName: "committeeOf", args: [taskId] }))) as readonly Address[];
  const json = taskJson(taskId, t, committee);
  if (options.json) return printJson(io, json);
  printFields(io, [
    ["task", taskId.toString()],
    ["status", json.status],
    ["submitter", t.submitter],
    ["n / q", `${t.n} / ${t.q}`],
    ["round", String(t.round)],
    ["reward", tokenAmount(client, t.reward)],
    ["committee", committee.join(", ") || "-"],
    ["commit deadline", t.commitDeadline === 0n ? "-" : utcTime(t.commitDeadline)],
    ["report deadline", t.reportDeadline === 0n ? "-" : utcTime(t.reportDeadline)],
    ["final deadline", utcTime(t.finalDeadline)],
    ["result", json.resultHash ?? "-"],
    ["participants", json.participants.join(", ") || "-"],
  ]);
}

/** `dsmp task ls`. */
export async function taskListCommand(options: GlobalOptions, io: CliIo): Promise<void> {
  const client = await connectChain(options, { signs: false, signal: io.signal });
  const tm = await taskManagerOf(client, options);
  const count = (await readChain(client, (pub) => pub.readContract({ address: tm.address, abi: abis.TaskManager, functionName: "taskCount" }))) as bigint;
  const rows: ReturnType<typeof taskJson>[] = [];
  for (let id = 1n; id <= count; id++) {
    const t = await getTask(client, tm.address, id);
    rows.push(taskJson(id, t, []));
  }
  if (options.json) return printJson(io, rows.map(({ committee: _c, ...r }) => r));
  printTable(
    io,
    [
      { header: "id", cell: (r: (typeof rows)[number]) => r.taskId.toString(), alignRight: true },
      { header: "status", cell: (r) => r.status },
      { header: "n/q", cell: (r) => `${r.n}/${r.q}` },
      { header: "reward", cell: (r) => tokenAmount(client, r.reward) },
      { header: "result", cell: (r) => r.resultHash ?? "-" },
    ],
    rows,
  );
}

/** `dsmp task watch <id>`. */
export async function taskWatchCommand(options: GlobalOptions & { id: string; nodeApi: string }, io: CliIo): Promise<void> {
  const taskId = parseId(options.id, "<id>");
  const client = await connectChain(options, { signs: false, signal: io.signal });
  const tm = await taskManagerOf(client, options);
  // An id that was never created would otherwise be polled forever.
  if ((await getTask(client, tm.address, taskId)).status === 0) throw new CliNotFoundError(`no task ${taskId} (\`dsmp task ls\` lists the tasks)`);
  const progress = (line: string) => (options.json ? io.stderr(`${line}\n`) : printLine(io, line));
  const result = await follow(client, tm, taskId, options, io, progress);
  if (options.json) printJson(io, { taskId, ...result });
}

/** `dsmp task claim <id>`. */
export async function taskClaimCommand(options: GlobalOptions & { id: string }, io: CliIo): Promise<void> {
  const taskId = parseId(options.id, "<id>");
  const client = await connectChain(options, { signs: true, signal: io.signal });
  await taskManagerOf(client, options);
  const claimed = await claimTask(client, { taskId, signal: io.signal });
  if (options.json) return printJson(io, { taskId, refunded: claimed.refunded, txHash: claimed.hash });
  printLine(io, `refunded ${tokenAmount(client, claimed.refunded)} (reward + fee) of task ${taskId} (tx ${claimed.hash})`);
}

const nodeApiOption = { name: "node-api", type: "string", value: "<url>", description: `the local Xnode's control API (default ${DEFAULT_NODE_API})` } as const;
const idArgument = { name: "id", description: "task id" } as const;

export const taskCommands: readonly CliCommand[] = [
  {
    path: ["task", "submit"],
    summary: "submit a WebAssembly task and follow it to its result",
    description:
      "Hand the module and the input to the local Xnode (which serves them to the committee by hash), escrow the reward in TaskManager,\nhave the committee drawn, and follow the task: assigned → committed → revealed → finalized. Prints the result hash, the output and the transaction hashes.",
    options: [
      { name: "module", type: "string", value: "<file.wasm>", description: "the WebAssembly module (see docs/tasks.md for its ABI)", required: true },
      { name: "input", type: "string", value: "<file>", description: "the input bytes", required: true },
      { name: "n", type: "string", value: "<count>", description: "committee size (default 4)" },
      { name: "q", type: "string", value: "<count>", description: "signers needed to finalize (default 3)" },
      { name: "reward", type: "string", value: "<amount>", description: "reward in OPEN, shared by the finalizing signers", required: true },
      { name: "commit-window", type: "string", value: "<seconds>", description: "commit phase per round (default 60)" },
      { name: "reveal-window", type: "string", value: "<seconds>", description: "reveal and report phase per round (default 60)" },
      { name: "deadline", type: "string", value: "<seconds>", description: "final deadline from now; a refund can be claimed after it (default 900)" },
      { name: "no-wait", type: "boolean", description: "return once the committee is drawn" },
      { name: "no-module-check", type: "boolean", description: "submit even a module the committee cannot run (testing how nodes fail it)" },
      nodeApiOption,
    ],
    examples: ["dsmp task submit --module examples/fnv1a.wasm --input README.md --n 4 --q 3 --reward 10", "dsmp task submit --module x.wasm --input in.bin --n 1 --q 1 --reward 1 --json"],
    run: (input, io) =>
      taskSubmitCommand(
        {
          ...input.global,
          module: input.requiredString("module"),
          input: input.requiredString("input"),
          n: input.string("n") ?? "4",
          q: input.string("q") ?? "3",
          reward: input.requiredString("reward"),
          commitWindow: input.string("commit-window") ?? "60",
          revealWindow: input.string("reveal-window") ?? "60",
          deadline: input.string("deadline") ?? "900",
          nodeApi: parseHttpUrl(input.string("node-api") ?? DEFAULT_NODE_API, "--node-api"),
          wait: !input.flag("no-wait"),
          moduleCheck: !input.flag("no-module-check"),
        },
        io,
      ),
  },
  {
    path: ["task", "status"],
    summary: "show a task: status, committee, deadlines, result",
    positionals: [idArgument],
    examples: ["dsmp task status 1", "dsmp task status 1 --json"],
    run: (input, io) => taskStatusCommand({ ...input.global, id: input.argument("id") }, io),
  },
  {
    path: ["task", "ls"],
    summary: "list tasks with their status and result",
    examples: ["dsmp task ls", "dsmp task ls --json"],
    run: (input, io) => taskListCommand(input.global, io),
  },
  {
    path: ["task", "claim"],
    summary: "take back the reward and fee of your task that reached no quorum",
    description:
      "Submitter only. Possible once the task's final deadline has passed without finalization, or earlier when its last draw round\nended without a quorum. Collateral of the committee is released; silent members of the last round pay the no-show penalty.",
    positionals: [idArgument],
    examples: ["dsmp task claim 7", "dsmp task claim 7 --json"],
    run: (input, io) => taskClaimCommand({ ...input.global, id: input.argument("id") }, io),
  },
  {
    path: ["task", "watch"],
    summary: "follow a task until it is finalized or refunded",
    positionals: [idArgument],
    options: [nodeApiOption],
    examples: ["dsmp task watch 1"],
    run: (input, io) => taskWatchCommand({ ...input.global, id: input.argument("id"), nodeApi: parseHttpUrl(input.string("node-api") ?? DEFAULT_NODE_API, "--node-api") }, io),
  },
];
