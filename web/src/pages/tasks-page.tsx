/**
 * Compute tasks (docs/tasks.md), the browser version of `dsmp task submit|watch|ls`: the module and input bytes
 * the user picks go to the page's node (POST /v1/blobs), then approve + createTask, `assign` once the draw's
 * seed block is mined, and the task is followed through created → assigned → committed → revealed →
 * finalized (or refunded) from the chain and the node's /v1/tasks; the result bytes come from /v1/blobs/<hash>.
 */
import { abis } from "@dsmp/contracts";
import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { parseEventLogs, type Abi, type Address, type Hex, type Log } from "viem";
import { useConnection } from "wagmi";
import { useWriteReady } from "../components/wallet-bar.tsx";
import { useDsmp } from "../dsmp-context.tsx";
import { formatOpen, formatUtc, shortHex } from "../format.ts";
import { nodeGet, NodeApiError } from "../node-api.ts";
import { TASK_STAGES, TASK_STATUS, claimability, describeResult, fromBase64, parseTaskForm, sha256Hex, taskFee, taskStage, toBase64, type RoundView, type TaskFormFields } from "../tasks.ts";
import { TxStatus, useTxRunner, type TxContext } from "../tx-runner.tsx";

export { TASK_STAGES };

const TM = abis.TaskManager as Abi;

/** The first `eventName` event that TaskManager (at `tm`) emitted in a receipt, decoded; undefined if none. */
function taskEvent<N extends "TaskCreated" | "TaskRefunded">(receipt: { logs: Log[] }, tm: Address, eventName: N) {
  return parseEventLogs({ abi: abis.TaskManager, logs: receipt.logs.filter((l) => l.address.toLowerCase() === tm.toLowerCase()), eventName })[0];
}
/** Resources a worker must advertise at least (the same small default as `dsmp task submit`). */
const TASK_RESOURCES = { cpuMillicores: 100, memoryMiB: 64, storageGiB: 0, gpus: 0 } as const;
/** How many of the newest tasks the list reads. */
const RECENT = 20;

interface TaskInfo {
  submitter: Address;
  status: number;
  n: number;
  q: number;
  round: number;
  reward: bigint;
  fee: bigint;
  drawBlock: bigint;
  commitDeadline: bigint;
  reportDeadline: bigint;
  finalDeadline: bigint;
  participants: number;
  resultHash: Hex;
}

interface TasksAnswer {
  enabled: boolean;
  rounds: RoundView[];
}

async function postBlob(apiBase: string, bytes: Uint8Array): Promise<Hex> {
  let res: Response;
  try {
    res = await fetch(`${apiBase}/v1/blobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ base64: toBase64(bytes) }), signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new NodeApiError(`node unreachable (${(err as Error).message})`);
  }
  if (!res.ok) throw new NodeApiError(`the node refused the blob: ${res.status} ${await res.text()}`, res.status);
  return ((await res.json()) as { hash: Hex }).hash;
}

/** Waits until block `drawBlock` is mined (assign works from drawBlock + 1). On the devnet (31337) it mines. */
async function waitForDrawBlock(tx: TxContext, drawBlock: bigint, devnet: boolean, onMine: () => void): Promise<void> {
  const started = Date.now();
  while ((await tx.client.getBlockNumber({ cacheTime: 0 })) <= drawBlock) {
    if (Date.now() - started > 120_000) throw new Error(`block ${drawBlock} (the draw's seed) was not mined within 2 minutes`);
    if (devnet) {
      onMine();
      await tx.client.request({ method: "evm_mine" as never, params: [] as never });
    } else await new Promise((r) => setTimeout(r, 1_000));
  }
}

function readFileBytes(file: File): Promise<Uint8Array> {
  return file.arrayBuffer().then((b) => new Uint8Array(b));
}

function SubmitForm({ onCreated }: { onCreated: (id: bigint) => void }) {
  const { apiBase, contracts, web } = useDsmp();
  const ready = useWriteReady();
  const tx = useTxRunner();
  const [moduleFile, setModuleFile] = useState<File | undefined>();
  const [inputMode, setInputMode] = useState<"text" | "file">("text");
  const [inputText, setInputText] = useState("");
  const [inputFile, setInputFile] = useState<File | undefined>();
  const [fields, setFields] = useState<TaskFormFields>({ n: "1", q: "1", reward: "10", commitWindow: "60", revealWindow: "60", deadline: "3600" });
  const [errors, setErrors] = useState<Partial<Record<keyof TaskFormFields | "module" | "input", string>>>({});
  const [mined, setMined] = useState(0);
  const tm = contracts.tasks!;
  const devnet = web.chainId === 31337;

  const field = (key: keyof TaskFormFields, label: string, hint?: string) => (
    <div className="field">
      <label htmlFor={`task-${key}`}>{label}</label>
      <input id={`task-${key}`} inputMode="decimal" value={fields[key]} onChange={(e) => setFields({ ...fields, [key]: e.target.value })} aria-invalid={errors[key] !== undefined} aria-describedby={errors[key] ? `task-${key}-err` : hint ? `task-${key}-hint` : undefined} />
      {errors[key] ? (
        <span id={`task-${key}-err`} className="error">
          {errors[key]}
        </span>
      ) : (
        <span id={hint ? `task-${key}-hint` : undefined} className="muted">
          {hint}
        </span>
      )}
    </div>
  );

  const submit = () => {
    const parsed = parseTaskForm(fields);
    const all: typeof errors = { ...parsed.errors };
    if (moduleFile === undefined) all.module = "pick a WebAssembly module (.wasm)";
    if (inputMode === "file" && inputFile === undefined) all.input = "pick an input file, or type the input as text";
    setErrors(all);
    if (parsed.values === undefined || Object.keys(all).length > 0) return;
    const v = parsed.values;
    void tx.run(async (t) => {
      const wasm = await readFileBytes(moduleFile!);
      const input = inputMode === "text" ? new TextEncoder().encode(inputText) : await readFileBytes(inputFile!);
      const [moduleHash, inputHash] = await Promise.all([sha256Hex(wasm), sha256Hex(input)]);
      for (const [what, bytes, hash] of [["module", wasm, moduleHash], ["input", input, inputHash]] as const) {
        const stored = await postBlob(apiBase, bytes);
        if (stored.toLowerCase() !== hash) throw new Error(`the node stored the ${what} under ${stored}, expected ${hash}`);
      }
      const feeBps = (await t.client.readContract({ address: tm, abi: TM, functionName: "protocolFeeBps" })) as number;
      await t.ensureAllowance(tm, v.reward + taskFee(v.reward, BigInt(feeBps)));
      const now = (await t.client.getBlock()).timestamp;
      const spec = { moduleHash, inputHash, inputURI: "", resources: TASK_RESOURCES, n: v.n, q: v.q, reward: v.reward, commitWindow: v.commitWindow, revealWindow: v.revealWindow, finalDeadline: Number(now) + v.deadline };
      const receipt = await t.write("createTask", { address: tm, abi: TM, functionName: "createTask", args: [spec] });
      const created = taskEvent(receipt, tm, "TaskCreated");
      const taskId = created?.args.taskId;
      const drawBlock = created?.args.drawBlock;
      if (taskId === undefined || drawBlock === undefined) throw new Error(`createTask ${receipt.transactionHash} emitted no TaskCreated`);
      onCreated(taskId);
      await waitForDrawBlock(t, drawBlock, devnet, () => setMined((m) => m + 1));
      await t.write("assign", { address: tm, abi: TM, functionName: "assign", args: [taskId] });
      return `task #${taskId} created and assigned (reward ${formatOpen(v.reward)}, n ${v.n}, q ${v.q})`;
    });
  };

  return (
    <form
      className="panel task-form"
      aria-labelledby="submit-title"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <h2 id="submit-title">Submit a task</h2>
      <div className="field">
        <label htmlFor="task-module">WebAssembly module</label>
        <input id="task-module" type="file" accept=".wasm,application/wasm" onChange={(e) => setModuleFile(e.target.files?.[0])} aria-invalid={errors.module !== undefined} aria-describedby={errors.module ? "task-module-err" : undefined} />
        <span id="task-module-err" className="error">
          {errors.module}
        </span>
      </div>
      <fieldset>
        <legend>Input</legend>
        <label>
          <input type="radio" name="task-input-mode" checked={inputMode === "text"} onChange={() => setInputMode("text")} /> text
        </label>
        <label>
          <input type="radio" name="task-input-mode" checked={inputMode === "file"} onChange={() => setInputMode("file")} /> file
        </label>
        {inputMode === "text" ? (
          <div className="field">
            <label htmlFor="task-input-text">Input text</label>
            <textarea id="task-input-text" rows={3} value={inputText} onChange={(e) => setInputText(e.target.value)} />
          </div>
        ) : (
          <div className="field">
            <label htmlFor="task-input-file">Input file</label>
            <input id="task-input-file" type="file" onChange={(e) => setInputFile(e.target.files?.[0])} aria-invalid={errors.input !== undefined} aria-describedby={errors.input ? "task-input-err" : undefined} />
          </div>
        )}
        {errors.input ? (
          <span id="task-input-err" className="error">
            {errors.input}
          </span>
        ) : null}
      </fieldset>
      {field("n", "Committee size n")}
      {field("q", "Quorum q", "signers needed to finalize")}
      {field("reward", "Reward (OPEN)", "paid to the signers; the protocol fee comes on top")}
      {field("commitWindow", "Commit window (s)")}
      {field("revealWindow", "Reveal window (s)")}
      {field("deadline", "Final deadline (s from now)", "after it an unfinished task can be refunded")}
      <button type="submit" disabled={!ready.ready || tx.busy}>
        Submit task
      </button>
      {!ready.ready ? <span className="muted"> {ready.reason}</span> : null}
      {devnet ? (
        <p className="muted" data-testid="dev-mining">
          dev-only (chain 31337): the page mines the draw's seed block with <code>evm_mine</code> instead of waiting for it{mined > 0 ? ` — mined ${mined}` : ""}.
        </p>
      ) : null}
      <TxStatus state={tx.state} testId="task-tx" />
    </form>
  );
}

function useTask(id: bigint | undefined) {
  const { client, contracts, apiBase } = useDsmp();
  const tm = contracts.tasks!;
  return useQuery({
    queryKey: ["task", id?.toString()],
    enabled: id !== undefined,
    refetchInterval: (q) => (q.state.data && q.state.data.info.status >= 3 ? false : 1_000),
    queryFn: async () => {
      const [info, committee, node] = await Promise.all([
        client.readContract({ address: tm, abi: TM, functionName: "getTask", args: [id!] }) as Promise<TaskInfo>,
        client.readContract({ address: tm, abi: TM, functionName: "committeeOf", args: [id!] }) as Promise<readonly Address[]>,
        nodeGet<TasksAnswer>(apiBase, "/v1/tasks", AbortSignal.timeout(10_000)).catch(() => undefined),
      ]);
      const round = node?.rounds.find((r) => r.taskId === id!.toString());
      let result: { hex: Hex; text: string | undefined } | { missing: string } | undefined;
      if (info.status === 3) {
        try {
          const blob = await nodeGet<{ base64: string }>(apiBase, `/v1/blobs/${info.resultHash}`, AbortSignal.timeout(10_000));
          result = describeResult(fromBase64(blob.base64));
        } catch (err) {
          result = { missing: (err as Error).message };
        }
      }
      return { info, committee, round, result, nodeRunsTasks: node?.enabled };
    },
  });
}

/** The task's on-chain history (one read per status / round change, not per poll). */
function useTaskEvents(id: bigint, status: number | undefined, round: number | undefined) {
  const { client, contracts } = useDsmp();
  const tm = contracts.tasks!;
  return useQuery({
    queryKey: ["task-events", id.toString(), status, round],
    enabled: status !== undefined && status > 0,
    refetchInterval: false,
    queryFn: async () => {
      const names = ["TaskCreated", "TaskAssigned", "RoundStarted", "SlotVacated", "TaskFinalized", "TaskRefunded"] as const;
      const lists = await Promise.all(names.map((eventName) => client.getContractEvents({ address: tm, abi: abis.TaskManager, eventName, args: { taskId: id }, fromBlock: 0n })));
      return lists
        .flat()
        .sort((a, b) => (a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1))
        .map((e) => ({ key: `${e.transactionHash}-${e.logIndex}`, block: e.blockNumber, tx: e.transactionHash, text: describeTaskEvent(e.eventName, e.args as Record<string, unknown>) }));
    },
  });
}

function describeTaskEvent(name: string, a: Record<string, unknown>): string {
  switch (name) {
    case "TaskCreated":
      return `created: reward ${formatOpen(a.reward as bigint)} + fee ${formatOpen(a.fee as bigint)}, draw seeded by block ${String(a.drawBlock)}`;
    case "TaskAssigned":
      return `slot ${String(a.slot)} → ${shortHex(a.node as string)} (round ${String(a.round)}, collateral ${formatOpen(a.collateral as bigint)})`;
    case "RoundStarted":
      return `round ${String(a.round)} started: commit by ${formatUtc(a.commitDeadline as bigint)}, report by ${formatUtc(a.reportDeadline as bigint)}`;
    case "SlotVacated":
      return `slot ${String(a.slot)} vacated: ${shortHex(a.node as string)} was silent in round ${String(a.round)}`;
    case "TaskFinalized":
      return `finalized: result ${shortHex(a.resultHash as string, 8)}, ${formatOpen(a.sharePerSigner as bigint)} per signer`;
    case "TaskRefunded":
      return `refunded ${formatOpen(a.amount as bigint)} to the submitter`;
    default:
      return name;
  }
}

/** The submitter's refund of a task that reached no quorum (TaskManager.claim), with when it becomes possible. */
function ClaimRefund({ id, info }: { id: bigint; info: TaskInfo }) {
  const { client, contracts } = useDsmp();
  const { address } = useConnection();
  const ready = useWriteReady();
  const tx = useTxRunner();
  const queryClient = useQueryClient();
  const tm = contracts.tasks!;
  // Re-render every second: the final deadline passes on the clock even when no new block arrives.
  const [clockMs, setClockMs] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setClockMs(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  const chain = useQuery({
    queryKey: ["task-claim-clock", id.toString()],
    refetchInterval: 5_000,
    queryFn: async () => {
      const [block, parameters] = await Promise.all([client.getBlock(), client.readContract({ address: tm, abi: TM, functionName: "parameters" }) as Promise<{ maxRounds: number }>]);
      return { blockTime: block.timestamp, maxRounds: Number(parameters.maxRounds) };
    },
  });
  if (chain.data === undefined) return <span data-testid="task-claim" data-claim="loading" hidden />;
  // Chain time: the next block is stamped no earlier than now, nor than the newest block.
  const now = BigInt(Math.max(Math.floor(clockMs / 1000), Number(chain.data.blockTime)));
  const check = claimability(info, address, now, chain.data.maxRounds);
  if (!check.show && tx.state.status === "idle") return <span data-testid="task-claim" data-claim="hidden" hidden />;
  return (
    <div className="claim" data-testid="task-claim" data-claim={check.claimable ? "claimable" : "not-yet"}>
      <button
        type="button"
        disabled={!check.claimable || !ready.ready || tx.busy}
        onClick={() =>
          void tx.run(async (t) => {
            const receipt = await t.write("claim", { address: tm, abi: TM, functionName: "claim", args: [id] });
            const amount = taskEvent(receipt, tm, "TaskRefunded")?.args.amount;
            await queryClient.invalidateQueries({ queryKey: ["task", id.toString()] });
            return `refunded ${amount === undefined ? "" : formatOpen(amount)} (reward + fee) of task #${id}`;
          })
        }
      >
        Claim refund
      </button>
      <span className="muted" data-testid="task-claim-reason">
        {" "}
        {check.reason}
      </span>
      {!ready.ready && check.claimable ? <span className="muted"> {ready.reason}</span> : null}
      <TxStatus state={tx.state} testId="claim-tx" />
    </div>
  );
}

function TaskDetail({ id }: { id: bigint }) {
  const task = useTask(id);
  const queryClient: QueryClient = useQueryClient();
  const status = task.data?.info.status;
  const events = useTaskEvents(id, status, task.data?.info.round);
  useEffect(() => {
    // The list shows the new status at once when the task ends (or is first seen).
    if (status !== undefined) void queryClient.invalidateQueries({ queryKey: ["tasks"] });
  }, [status, queryClient]);
  if (task.isPending) return <p>loading task #{id.toString()}…</p>;
  if (task.isError) return <p role="alert">task #{id.toString()}: {task.error.message}</p>;
  const { info, committee, round, result, nodeRunsTasks } = task.data;
  const history = events.data;
  if (info.status === 0) return <p role="alert">No task #{id.toString()} on this chain.</p>;
  const stage = taskStage(info.status, round);
  const stages: string[] = stage === "refunded" ? ["created", "assigned", "refunded"] : [...TASK_STAGES];
  const reached = stages.indexOf(stage ?? "");
  return (
    <section className="panel" aria-labelledby="task-detail-title">
      <h2 id="task-detail-title">Task #{id.toString()}</h2>
      <ol className="stages" aria-label="Task stages" data-testid="task-stage" data-stage={stage}>
        {stages.map((s, i) => (
          <li key={s} aria-current={s === stage ? "step" : undefined} className={i <= reached ? "done" : undefined}>
            {s}
          </li>
        ))}
      </ol>
      {info.status === 2 && round === undefined ? <p className="muted">committed / revealed are seen only when this node sits in the committee{nodeRunsTasks === false ? " (this node does not run tasks)" : ""}.</p> : null}
      <dl className="facts">
        <dt>Status</dt>
        <dd>{TASK_STATUS[info.status]}</dd>
        <dt>Submitter</dt>
        <dd title={info.submitter}>{shortHex(info.submitter)}</dd>
        <dt>n / q</dt>
        <dd>
          {info.n} / {info.q}
        </dd>
        <dt>Round</dt>
        <dd>{info.round}</dd>
        <dt>Reward (+ fee)</dt>
        <dd>
          {formatOpen(info.reward)} (+ {formatOpen(info.fee)})
        </dd>
        <dt>Committee</dt>
        <dd data-testid="task-committee">{committee.filter((a) => !/^0x0+$/.test(a)).map((a) => shortHex(a)).join(", ") || "not drawn yet"}</dd>
        {round ? (
          <>
            <dt>Commits / reveals seen by this node</dt>
            <dd>
              slots {round.committed.join(", ") || "—"} / {round.revealed.join(", ") || "—"}
            </dd>
          </>
        ) : null}
        <dt>Commit / report deadline</dt>
        <dd>{info.commitDeadline === 0n ? "—" : `${formatUtc(info.commitDeadline)} / ${formatUtc(info.reportDeadline)}`}</dd>
        <dt>Final deadline</dt>
        <dd>{formatUtc(info.finalDeadline)}</dd>
        {info.status === 3 ? (
          <>
            <dt>Result hash</dt>
            <dd title={info.resultHash}>{shortHex(info.resultHash, 8)}</dd>
            <dt>Result</dt>
            <dd data-testid="task-result">
              {result === undefined ? "…" : "missing" in result ? `not on this node (${result.missing})` : result.text !== undefined ? <pre>{result.text}</pre> : <code>{result.hex}</code>}
            </dd>
          </>
        ) : null}
      </dl>
      <ClaimRefund id={id} info={info} />
      <h3>On-chain history</h3>
      {history && history.length > 0 ? (
        <ol data-testid="task-history">
          {history.map((h) => (
            <li key={h.key} title={h.tx}>
              block {h.block.toString()}: {h.text}
            </li>
          ))}
        </ol>
      ) : (
        <p className="muted">{events.isError ? events.error.message : "reading…"}</p>
      )}
    </section>
  );
}

function useTaskList() {
  const { client, contracts } = useDsmp();
  const tm = contracts.tasks!;
  return useQuery({
    queryKey: ["tasks"],
    refetchInterval: 3_000,
    queryFn: async () => {
      const count = (await client.readContract({ address: tm, abi: TM, functionName: "taskCount" })) as bigint;
      const ids: bigint[] = [];
      for (let id = count; id >= 1n && ids.length < RECENT; id--) ids.push(id);
      const infos = await Promise.all(ids.map((id) => client.readContract({ address: tm, abi: TM, functionName: "getTask", args: [id] }) as Promise<TaskInfo>));
      return { count, rows: ids.map((id, i) => ({ id, info: infos[i]! })) };
    },
  });
}

function TaskList({ onSelect, selected }: { onSelect: (id: bigint) => void; selected: bigint | undefined }) {
  const { address } = useConnection();
  const list = useTaskList();
  const [mine, setMine] = useState(false);
  const rows = (list.data?.rows ?? []).filter((r) => !mine || (address !== undefined && r.info.submitter.toLowerCase() === address.toLowerCase()));
  return (
    <section aria-labelledby="task-list-title">
      <h2 id="task-list-title">{mine ? "My tasks" : "Recent tasks"}</h2>
      <label>
        <input type="checkbox" checked={mine} onChange={(e) => setMine(e.target.checked)} disabled={address === undefined} /> only mine
      </label>
      {list.isError ? <p className="error">{list.error.message}</p> : null}
      <table data-testid="task-list">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Status</th>
            <th scope="col">Submitter</th>
            <th scope="col">n / q</th>
            <th scope="col">Reward</th>
            <th scope="col">Final deadline</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ id, info }) => (
            <tr key={id.toString()} aria-selected={selected === id}>
              <td>
                <button type="button" className="link" onClick={() => onSelect(id)}>
                  #{id.toString()}
                </button>
              </td>
              <td>{TASK_STATUS[info.status]}</td>
              <td title={info.submitter}>{shortHex(info.submitter)}</td>
              <td>
                {info.n} / {info.q}
              </td>
              <td>{formatOpen(info.reward)}</td>
              <td>{formatUtc(info.finalDeadline)}</td>
            </tr>
          ))}
          {list.data && rows.length === 0 ? (
            <tr>
              <td colSpan={6}>{mine ? "no task submitted by this account among the newest" : "no task yet"}</td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </section>
  );
}

export function TasksPage() {
  const { contracts } = useDsmp();
  const [selected, setSelected] = useState<bigint | undefined>();
  return (
    <section aria-labelledby="tasks-title">
      <h1 id="tasks-title">Tasks</h1>
      {contracts.tasks === undefined ? (
        <>
          <p role="status" data-testid="tasks-missing">
            TaskManager not deployed on this chain: tasks (module, input, redundancy) cannot be submitted here.
          </p>
          <ol className="stages" aria-label="Task stages">
            {TASK_STAGES.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ol>
        </>
      ) : (
        <>
          <SubmitForm onCreated={setSelected} />
          {selected !== undefined ? <TaskDetail id={selected} /> : null}
          <TaskList onSelect={setSelected} selected={selected} />
        </>
      )}
    </section>
  );
}
