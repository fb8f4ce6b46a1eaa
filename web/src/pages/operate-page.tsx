/** Operators: stake, request unbond, withdraw (with the countdown), register an Xnode, and their Xnodes. */
import { abis } from "@dsmp/contracts";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { parseEther, type Abi, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { useConnection } from "wagmi";
import { useChainTime, useNodesOf } from "../chain-reads.ts";
import { useWriteReady } from "../components/wallet-bar.tsx";
import { useDsmp } from "../dsmp-context.tsx";
import { formatDuration, formatOpen, formatUtc, shortHex, unbondingCountdown } from "../format.ts";
import { TxStatus, useTxRunner } from "../tx-runner.tsx";
import { NOT_REPORTED } from "./services-page.tsx";
import { proofText, useResourceProofs } from "../resource-proofs.ts";

/** XnodeRegistry's EIP-712 proof of possession (same as worker/src/chain/actions/register-node.ts). */
export const NODE_REGISTRATION_DOMAIN = { name: "DSMP XnodeRegistry", version: "1" } as const;
export const NODE_REGISTRATION_TYPES = {
  NodeRegistration: [
    { name: "operator", type: "address" },
    { name: "node", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

/** A node key's 64-byte public key (X‖Y, no 0x04 prefix) as the registry wants it. */
export function nodePublicKey64(privateKey: Hex): Hex {
  return `0x${privateKeyToAccount(privateKey).publicKey.slice(4)}`;
}

/** Parses an OPEN amount typed by a person; undefined when it is not a positive number. */
export function parseOpenInput(text: string): bigint | undefined {
  if (!/^\s*\d+(\.\d{1,18})?\s*$/.test(text)) return undefined;
  const v = parseEther(text.trim());
  return v > 0n ? v : undefined;
}

/** Seconds on the chain's clock, advanced locally between reads so a countdown ticks each second. */
function useChainNow(): number {
  const time = useChainTime();
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1_000);
    return () => clearInterval(t);
  }, []);
  if (!time.data) return Math.floor(Date.now() / 1000);
  return time.data.chainSeconds + Math.floor((Date.now() - time.data.wallMs) / 1000);
}

function useStake(account: Address | undefined) {
  const { client, contracts } = useDsmp();
  return useQuery({
    queryKey: ["stake", account],
    enabled: account !== undefined,
    queryFn: async () => {
      const [info, free, delay, minNodeStake] = await Promise.all([
        client.readContract({ address: contracts.staking, abi: abis.Staking, functionName: "stakeOf", args: [account!] }),
        client.readContract({ address: contracts.staking, abi: abis.Staking, functionName: "freeStakeOf", args: [account!] }),
        client.readContract({ address: contracts.staking, abi: abis.Staking, functionName: "unbondingDelay" }),
        client.readContract({ address: contracts.registry, abi: abis.XnodeRegistry, functionName: "minNodeStake" }),
      ]);
      return { info, free, delay, minNodeStake };
    },
  });
}

function useSlashes(account: Address | undefined) {
  const { client, contracts } = useDsmp();
  return useQuery({
    queryKey: ["slashes", account],
    enabled: account !== undefined,
    queryFn: () => client.getContractEvents({ address: contracts.staking, abi: abis.Staking, eventName: "Slashed", args: { operator: account! }, fromBlock: 0n }),
  });
}

function AmountForm({ label, button, onAmount, busy }: { label: string; button: string; onAmount: (amount: bigint) => void; busy: boolean }) {
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const id = `amount-${button.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const amount = parseOpenInput(text);
        if (amount === undefined) return setError("enter a positive amount of OPEN, e.g. 100 or 12.5");
        setError("");
        onAmount(amount);
      }}
    >
      <label htmlFor={id}>{label}</label>
      <input id={id} inputMode="decimal" value={text} onChange={(e) => setText(e.target.value)} aria-invalid={error !== ""} aria-describedby={error ? `${id}-err` : undefined} />
      <button type="submit" disabled={busy}>
        {button}
      </button>
      {error ? (
        <span id={`${id}-err`} className="error">
          {error}
        </span>
      ) : null}
    </form>
  );
}

function StakeSection() {
  const { contracts } = useDsmp();
  const { address } = useConnection();
  const stake = useStake(address);
  const now = useChainNow();
  const tx = useTxRunner();
  const St = abis.Staking as Abi;
  const d = stake.data;
  const countdown = d ? unbondingCountdown(d.info.unbondingReleaseAt, d.info.unbonding, now) : undefined;
  return (
    <section aria-labelledby="stake-title" className="panel">
      <h2 id="stake-title">Stake</h2>
      {d ? (
        <dl className="facts">
          <dt>Bonded</dt>
          <dd data-testid="bonded">{formatOpen(d.info.bonded)}</dd>
          <dt>Locked (node bonds, leases, tasks)</dt>
          <dd>{formatOpen(d.info.locked)}</dd>
          <dt>Free</dt>
          <dd>{formatOpen(d.free)}</dd>
          <dt>Unbonding</dt>
          <dd data-testid="unbonding" data-state={countdown?.state}>
            {countdown?.text}
          </dd>
          <dt>Unbonding delay</dt>
          <dd>{formatDuration(d.delay)}</dd>
          <dt>Stake per Xnode</dt>
          <dd>{formatOpen(d.minNodeStake)}</dd>
        </dl>
      ) : stake.isError ? (
        <p className="error">cannot read stake: {stake.error.message.split("\n")[0]}</p>
      ) : (
        <p>reading…</p>
      )}
      <AmountForm
        label="Amount to stake (OPEN)"
        button="Stake"
        busy={tx.busy}
        onAmount={(amount) =>
          void tx.run(async (t) => {
            await t.ensureAllowance(contracts.staking, amount);
            await t.write("stake", { address: contracts.staking, abi: St, functionName: "stake", args: [amount] });
            return `staked ${formatOpen(amount)}`;
          })
        }
      />
      <AmountForm
        label="Amount to unbond (OPEN)"
        button="Request unbond"
        busy={tx.busy}
        onAmount={(amount) =>
          void tx.run(async (t) => {
            await t.write("request unbond", { address: contracts.staking, abi: St, functionName: "requestUnbond", args: [amount] });
            return `unbonding ${formatOpen(amount)}; withdraw after the delay`;
          })
        }
      />
      <button
        type="button"
        disabled={tx.busy || countdown?.state !== "released"}
        aria-describedby="withdraw-why"
        onClick={() =>
          void tx.run(async (t) => {
            await t.write("withdraw", { address: contracts.staking, abi: St, functionName: "withdraw", args: [] });
            return "withdrawn";
          })
        }
      >
        Withdraw
      </button>
      <span id="withdraw-why" className="muted">
        {" "}
        {countdown?.state === "released" ? "released stake is ready" : "available once the unbonding delay has passed"}
      </span>
      <TxStatus state={tx.state} testId="stake-tx" />
    </section>
  );
}

function RegisterSection() {
  const { contracts, client, web } = useDsmp();
  const tx = useTxRunner();
  const [nodeKey, setNodeKey] = useState<Hex | "">("");
  const [res, setRes] = useState({ cpu: "4000", mem: "8192", storage: "100", gpus: "0", slots: "4", meta: "" });
  const keyOk = /^0x[0-9a-fA-F]{64}$/.test(nodeKey);
  const nodeAddress = keyOk ? privateKeyToAccount(nodeKey as Hex).address : undefined;
  const field = (k: keyof typeof res, label: string) => (
    <label>
      {label}
      <input value={res[k]} inputMode={k === "meta" ? "text" : "numeric"} onChange={(e) => setRes({ ...res, [k]: e.target.value })} />
    </label>
  );
  const download = keyOk
    ? `data:application/json,${encodeURIComponent(JSON.stringify({ address: nodeAddress, privateKey: nodeKey, chainId: web.chainId, note: "DSMP Xnode key: keep it secret" }, null, 2))}`
    : undefined;
  return (
    <section aria-labelledby="register-title" className="panel">
      <h2 id="register-title">Register an Xnode</h2>
      <p className="muted">
        An Xnode has its own secp256k1 key; the registry checks a signature by that key (proof of possession). Generate one here (it never leaves this page unless you download it) or paste the key of a node you run.
      </p>
      <div className="row">
        <button type="button" onClick={() => setNodeKey(generatePrivateKey())}>
          Generate node key
        </button>
        <label>
          Node private key
          <input type="password" autoComplete="off" value={nodeKey} onChange={(e) => setNodeKey(e.target.value.trim() as Hex)} placeholder="0x… (64 hex digits)" />
        </label>
      </div>
      {nodeAddress ? (
        <p data-testid="node-address">
          Node address {nodeAddress} —{" "}
          <a href={download} download={`dsmp-node-${nodeAddress.slice(2, 10)}.json`}>
            download the node key
          </a>{" "}
          (plain JSON: store it safely)
        </p>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!keyOk) return;
          const key = nodeKey as Hex;
          void tx.run(async (t) => {
            const nodeAccount = privateKeyToAccount(key);
            const [nonce, block] = await Promise.all([
              client.readContract({ address: contracts.registry, abi: abis.XnodeRegistry, functionName: "nonces", args: [nodeAccount.address] }),
              client.getBlock(),
            ]);
            const deadline = block.timestamp + 3_600n;
            const signature = await nodeAccount.signTypedData({
              domain: { ...NODE_REGISTRATION_DOMAIN, chainId: web.chainId, verifyingContract: contracts.registry },
              types: NODE_REGISTRATION_TYPES,
              primaryType: "NodeRegistration",
              message: { operator: t.account, node: nodeAccount.address, nonce, deadline },
            });
            const resources = { cpuMillicores: Number(res.cpu), memoryMiB: Number(res.mem), storageGiB: Number(res.storage), gpus: Number(res.gpus) };
            await t.write("register Xnode", {
              address: contracts.registry,
              abi: abis.XnodeRegistry as Abi,
              functionName: "register",
              args: [nodePublicKey64(key), resources, Number(res.slots), res.meta, deadline, signature],
            });
            return `registered Xnode ${nodeAccount.address}`;
          });
        }}
      >
        {field("cpu", "CPU (millicores)")}
        {field("mem", "Memory (MiB)")}
        {field("storage", "Storage (GiB)")}
        {field("gpus", "GPUs")}
        {field("slots", "Capacity slots")}
        {field("meta", "Metadata URI")}
        <button type="submit" disabled={!keyOk || tx.busy}>
          Register Xnode
        </button>
      </form>
      <TxStatus state={tx.state} testId="register-tx" />
    </section>
  );
}

function MyNodes() {
  const { address } = useConnection();
  const nodes = useNodesOf(address);
  const slashes = useSlashes(address);
  const proofs = useResourceProofs();
  return (
    <section aria-labelledby="mynodes-title" className="panel">
      <h2 id="mynodes-title">My Xnodes</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Status</th>
            <th scope="col">Resources</th>
            <th scope="col">Slots</th>
            <th scope="col">Bond</th>
            <th scope="col">Registered</th>
            <th scope="col">Proofs of resource</th>
            <th scope="col">Earnings</th>
          </tr>
        </thead>
        <tbody data-testid="my-nodes">
          {(nodes.data ?? []).map((n) => (
            <tr key={n.address}>
              <td title={n.address}>{shortHex(n.address)}</td>
              <td>{n.status}</td>
              <td>
                {n.resources.cpuMillicores / 1000} CPU · {n.resources.memoryMiB} MiB · {n.resources.storageGiB} GiB · {n.resources.gpus} GPU
              </td>
              <td>{n.slots}</td>
              <td>{formatOpen(n.bond)}</td>
              <td>{formatUtc(n.registeredAt)}</td>
              <td data-testid={`my-proof-${n.address.toLowerCase()}`}>{proofText(proofs.data, n.address, proofs.isPending)}</td>
              <td>{NOT_REPORTED}</td>
            </tr>
          ))}
          {nodes.data?.length === 0 ? (
            <tr>
              <td colSpan={8}>no Xnodes registered by this account</td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {nodes.data?.length ? <UpdateResources nodes={nodes.data} /> : null}
      <h3>Slashes</h3>
      {slashes.data?.length ? (
        <ul>
          {slashes.data.map((s) => (
            <li key={`${s.transactionHash}-${s.logIndex}`}>
              block {s.blockNumber.toString()}: {formatOpen(s.args.amount ?? 0n)} slashed, reason {s.args.reasonCode}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">{slashes.isPending ? "reading…" : "none"}</p>
      )}
    </section>
  );
}

type MyNode = NonNullable<ReturnType<typeof useNodesOf>["data"]>[number];

/**
 * Change what one of my Xnodes advertises (XnodeRegistry.updateResources, like `dsmp node update`): the form
 * starts from the node's on-chain figures. A raised CPU counts as unproven until the other Xnodes challenge it.
 */
function UpdateResources({ nodes }: { nodes: readonly MyNode[] }) {
  const { contracts } = useDsmp();
  const tx = useTxRunner();
  const [selected, setSelected] = useState<string>(nodes[0]!.address);
  const node = nodes.find((n) => n.address === selected) ?? nodes[0]!;
  const initial = (n: MyNode) => ({ cpu: String(n.resources.cpuMillicores), mem: String(n.resources.memoryMiB), storage: String(n.resources.storageGiB), gpus: String(n.resources.gpus), slots: String(n.slots) });
  const [res, setRes] = useState(() => initial(node));
  const valid = Object.values(res).every((v) => /^\d+$/.test(v)) && Number(res.cpu) > 0 && Number(res.mem) > 0 && Number(res.slots) > 0;
  const field = (k: keyof typeof res, label: string) => (
    <label>
      {label}
      <input value={res[k]} inputMode="numeric" onChange={(e) => setRes({ ...res, [k]: e.target.value.trim() })} />
    </label>
  );
  return (
    <>
      <h3 id="update-title">Change what an Xnode advertises</h3>
      <form
        aria-labelledby="update-title"
        onSubmit={(e) => {
          e.preventDefault();
          if (!valid) return;
          void tx.run(async (t) => {
            const resources = { cpuMillicores: Number(res.cpu), memoryMiB: Number(res.mem), storageGiB: Number(res.storage), gpus: Number(res.gpus) };
            await t.write("update Xnode resources", {
              address: contracts.registry,
              abi: abis.XnodeRegistry as Abi,
              functionName: "updateResources",
              args: [node.address, resources, Number(res.slots)],
            });
            const raised = resources.cpuMillicores > node.resources.cpuMillicores;
            return `Xnode ${node.address} now advertises ${resources.cpuMillicores} millicores${raised ? " (unproven until challenged again)" : ""}`;
          });
        }}
      >
        <label>
          Xnode
          <select
            value={node.address}
            onChange={(e) => {
              setSelected(e.target.value);
              const next = nodes.find((n) => n.address === e.target.value);
              if (next !== undefined) setRes(initial(next));
            }}
          >
            {nodes.map((n) => (
              <option key={n.address} value={n.address}>
                {shortHex(n.address)}
              </option>
            ))}
          </select>
        </label>
        {field("cpu", "New CPU (millicores)")}
        {field("mem", "New memory (MiB)")}
        {field("storage", "New storage (GiB)")}
        {field("gpus", "New GPUs")}
        {field("slots", "New capacity slots")}
        <button type="submit" disabled={!valid || tx.busy}>
          Update resources
        </button>
      </form>
      <TxStatus state={tx.state} testId="update-tx" />
    </>
  );
}

/** TaskManager (docs/tasks.md): rewards credited to this operator, task collateral held / in use, task slashes. */
function TaskEarnings({ tasks }: { tasks: Address }) {
  const { client } = useDsmp();
  const { address } = useConnection();
  const nodes = useNodesOf(address);
  const tx = useTxRunner();
  const TM = abis.TaskManager as Abi;
  const figures = useQuery({
    queryKey: ["task-earnings", address],
    enabled: address !== undefined,
    queryFn: async () => {
      const [rewards, [held, inUse]] = await Promise.all([
        client.readContract({ address: tasks, abi: abis.TaskManager, functionName: "rewardsOf", args: [address!] }),
        client.readContract({ address: tasks, abi: abis.TaskManager, functionName: "collateralOf", args: [address!] }),
      ]);
      return { rewards, held, inUse };
    },
  });
  const myNodes = (nodes.data ?? []).map((n) => n.address);
  const slashes = useQuery({
    queryKey: ["task-slashes", myNodes.join(",")],
    enabled: myNodes.length > 0,
    queryFn: () => client.getContractEvents({ address: tasks, abi: abis.TaskManager, eventName: "WorkerSlashed", args: { node: myNodes }, fromBlock: 0n }),
  });
  const f = figures.data;
  return (
    <section aria-labelledby="earnings-title" className="panel">
      <h2 id="earnings-title">Task earnings</h2>
      {f ? (
        <dl className="facts">
          <dt>Rewards to withdraw</dt>
          <dd data-testid="task-rewards">{formatOpen(f.rewards)}</dd>
          <dt>Task collateral held / in use</dt>
          <dd data-testid="task-collateral">
            {formatOpen(f.held)} / {formatOpen(f.inUse)}
          </dd>
        </dl>
      ) : (
        <p className="muted">{figures.isError ? figures.error.message : "reading…"}</p>
      )}
      <div className="actions">
        <button type="button" disabled={tx.busy || !f || f.rewards === 0n} onClick={() => void tx.run(async (t) => {
          await t.write("withdraw rewards", { address: tasks, abi: TM, functionName: "withdrawRewards", args: [] });
          return `withdrew ${formatOpen(f!.rewards)} of task rewards`;
        })}>
          Withdraw rewards
        </button>
        <button type="button" disabled={tx.busy || !f || f.held <= f.inUse} onClick={() => void tx.run(async (t) => {
          await t.write("release collateral", { address: tasks, abi: TM, functionName: "releaseCollateral", args: [] });
          return `released ${formatOpen(f!.held - f!.inUse)} of task collateral to free stake`;
        })}>
          Release unused collateral
        </button>
      </div>
      <TxStatus state={tx.state} testId="earnings-tx" />
      <h3>Task slashes of my Xnodes</h3>
      {slashes.data?.length ? (
        <ul data-testid="task-slashes">
          {slashes.data.map((s) => (
            <li key={`${s.transactionHash}-${s.logIndex}`}>
              task #{s.args.taskId?.toString()}: {shortHex(s.args.node ?? "0x")} slashed {formatOpen(s.args.amount ?? 0n)} ({TASK_SLASH_REASONS[s.args.reason ?? 0] ?? `reason ${s.args.reason}`})
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">{myNodes.length > 0 && slashes.isPending ? "reading…" : "none"}</p>
      )}
    </section>
  );
}

const TASK_SLASH_REASONS: Record<number, string> = { 1: "equivocation", 2: "wrong result", 3: "no-show" };

export function OperatePage() {
  const write = useWriteReady();
  const { contracts } = useDsmp();
  return (
    <section aria-labelledby="operate-title">
      <h1 id="operate-title">Operate</h1>
      {write.ready ? (
        <>
          <StakeSection />
          <RegisterSection />
          <MyNodes />
          {contracts.tasks !== undefined ? <TaskEarnings tasks={contracts.tasks} /> : null}
        </>
      ) : (
        <p>{write.reason}.</p>
      )}
    </section>
  );
}
