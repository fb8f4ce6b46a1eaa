/**
 * kill -9 of an assigned worker, as an operating-system process: five Xnodes run as `dsmp node start` child
 * processes (real chain, libp2p over 127.0.0.1, a test-owned AOF redis-server for their task queues). Tasks run a
 * deterministic module that computes for ~1 s; while a committee member's job is active (its queue says so on
 * `GET /v1/tasks`) its process is SIGKILLed.
 * 1. n = 4, q = 3: the three others finalize without it; it sent nothing. Started again from the same data
 *    directory and queue, its stalled job is picked up and ends `already-closed`: still nothing sent, one
 *    `TaskFinalized`.
 * 2. n = 4, q = 4: round 0 cannot finalize; the member comes back only after the commit deadline, too late for
 *    round 0. The live members anchor, then — nobody else acting — reallocate and draw round 1 themselves; the
 *    task finalizes in round 1 with a full committee (the fifth node or the restarted one in the vacated slot).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http, type Address, type Hex } from "viem";
import { hardhat } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abis, type Deployment } from "../contracts/index.ts";
import { deploy } from "../scripts/lib/deploy.ts";
import { devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { startDevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { freePort, startHardhatNode, type HardhatNode } from "../scripts/lib/hardhat-node.ts";
import { createMemoryIo } from "../worker/src/cli/cli-io.ts";
import { runCli } from "../worker/src/cli/main.ts";
import { waitFor } from "../worker/src/discovery/discovery-network.fixture.ts";
import { sha256Hex } from "../worker/src/tasks/blob-store.ts";
import { startOwnedRedis, type OwnedRedis } from "../worker/src/tasks/redis-server.fixture.ts";
import { runWasm } from "../worker/src/tasks/wasm-sandbox.ts";
import { compileWat } from "../worker/src/tasks/wat-compiler.ts";

const NODES = 5;
const CLI = join(import.meta.dirname, "..", "worker", "src", "cli", "main.ts");

/**
 * A deterministic module that computes for a while: `rounds` (the input's first 4 bytes, little-endian) steps of
 * h = (h xor i) × FNV prime; output the 8-byte h. Same ABI as examples/ (docs/tasks.md).
 */
const SLOW_WAT = `(module
  (memory (export "memory") 1)
  (func (export "alloc") (param $len i32) (result i32) (i32.const 1024))
  (func (export "run") (param $ptr i32) (param $len i32) (result i64)
    (local $h i64) (local $i i32) (local $rounds i32)
    (local.set $rounds (i32.load (local.get $ptr)))
    (local.set $h (i64.const 0xcbf29ce484222325))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $rounds)))
        (local.set $h (i64.mul (i64.xor (local.get $h) (i64.extend_i32_u (local.get $i))) (i64.const 0x100000001b3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i64.store (i32.const 0) (local.get $h))
    (i64.const 8))
)`;

/** `waitFor` with a probe that may fail while a node is down or starting (a failure counts as "not yet"). */
const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000, everyMs = 100): Promise<T> =>
  waitFor(what, () => probe().catch(() => undefined), { timeoutMs, intervalMs: everyMs });

interface NodeProcess {
  index: number;
  address: Address;
  apiUrl: string;
  configFile: string;
  child: ChildProcess;
  output: string[];
}

type TasksView = { enabled: boolean; queue: Record<string, number> | null; jobs: { taskId: string; outcome: string; status?: string }[] };

describe("kill -9 of an assigned worker process (real OS processes, chain, Redis, libp2p)", () => {
  const root = mkdtempSync(join(tmpdir(), "dsmp-task-kill-"));
  let chain: HardhatNode;
  let redis: OwnedRedis;
  let deployment: Deployment;
  let deploymentsFile: string;
  const nodes: NodeProcess[] = [];
  let wasm: Uint8Array;
  /** Module steps for ~1 s of computing on this machine. */
  let rounds = 0;
  /** Input: the step count, then a salt so that each task's input (and result) differs. */
  const inputFor = (steps: number, salt: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(steps);
    b.writeUInt32LE(salt, 4);
    return b;
  };

  const spawnNode = (n: Omit<NodeProcess, "child" | "output"> & { output?: string[] }): NodeProcess => {
    const output = n.output ?? [];
    const child = spawn(process.execPath, [CLI, "node", "start", "--config", n.configFile], {
      env: { ...process.env, DSMP_REDIS_URL: redis.url, HOME: root },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (d: Buffer) => {
      output.push(String(d));
      if (output.length > 400) output.splice(0, output.length - 400);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    return { ...n, child, output };
  };
  const tasksOf = async (n: NodeProcess): Promise<TasksView> => (await fetch(`${n.apiUrl}/v1/tasks`)).json() as Promise<TasksView>;
  const waitReady = async (n: NodeProcess, peers: number) => {
    let last = "no answer yet";
    try {
      await until(`node ${n.index} to be healthy with ${peers} peers and tasks enabled`, async () => {
        if (n.child.exitCode !== null) return true;
        const health = await fetch(`${n.apiUrl}/healthz`);
        const status = (await (await fetch(`${n.apiUrl}/v1/status`)).json()) as { peers: number };
        const tasks = await tasksOf(n);
        last = `healthz ${health.status}, ${status.peers} peers, tasks ${tasks.enabled ? "enabled" : "disabled"}`;
        return health.status === 200 && status.peers >= peers && tasks.enabled ? true : undefined;
      }, 120_000, 250);
    } catch (err) {
      throw new Error(`${(err as Error).message} (${last}); its output:\n${n.output.join("").slice(-6_000)}`);
    }
    if (n.child.exitCode !== null) throw new Error(`node ${n.index} exited (${n.child.exitCode}):\n${n.output.join("").slice(-6_000)}`);
  };

  beforeAll(async () => {
    chain = await startHardhatNode();
    redis = await startOwnedRedis();
    const outDir = join(root, "deployments");
    deployment = await deploy({ rpcUrl: chain.rpcUrl, privateKey: devPrivateKey(0), outDir });
    deploymentsFile = join(outDir, `${deployment.chainId}.json`);
    // Keys, stake, node gas and registration through the devnet's code path (in this process, without task
    // runners); then the nodes stop and run again as OS processes from the same data directories.
    const envRedisUrl = process.env.DSMP_REDIS_URL;
    delete process.env.DSMP_REDIS_URL;
    let addresses: { address: Address; peerId: string }[];
    try {
      const net = await startDevnetXnodes({ rpcUrl: chain.rpcUrl, deployment, deploymentsFile, count: NODES, rootDir: join(root, "nodes"), ephemeralPorts: true });
      addresses = net.nodes.map((n) => ({ address: n.identity.address, peerId: n.identity.peerId.toString() }));
      await net.stop();
    } finally {
      if (envRedisUrl !== undefined) process.env.DSMP_REDIS_URL = envRedisUrl;
    }
    const p2pPorts = await Promise.all(addresses.map(() => freePort()));
    for (const [i, a] of addresses.entries()) {
      const apiPort = await freePort();
      const configFile = join(root, `node-${i}.json`);
      writeFileSync(
        configFile,
        JSON.stringify({
          node: { dataDir: join(root, "nodes", `node-${i}`), logLevel: "info" },
          p2p: {
            listen: [`/ip4/127.0.0.1/tcp/${p2pPorts[i]}`],
            bootstrap: i === 0 ? [] : [`/ip4/127.0.0.1/tcp/${p2pPorts[0]}/p2p/${addresses[0]!.peerId}`],
            dhtMode: "lan",
          },
          chain: { rpcUrl: chain.rpcUrl, chainId: deployment.chainId, deploymentsFile, confirmations: 1 },
          api: { host: "127.0.0.1", port: apiPort },
          gateway: { host: "127.0.0.1", port: await freePort() },
        }),
      );
      nodes.push(spawnNode({ index: i, address: a.address, apiUrl: `http://127.0.0.1:${apiPort}`, configFile }));
    }
    // A star around node 0 at first: committee members dial each other when a job starts (committee-dial.ts).
    for (const n of nodes) await waitReady(n, 1);
    const { createWalletClient } = await import("viem");
    const { devAccount } = await import("../scripts/lib/dev-accounts.ts");
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    // Dev account 9 (the submitter) holds no OPEN on a fresh deployment: the deployer hands it some.
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    await pub.waitForTransactionReceipt({
      hash: await deployer.writeContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(9).address, 10n ** 20n] }),
    });
    wasm = await compileWat(SLOW_WAT);
    writeFileSync(join(root, "slow.wasm"), wasm);
    // ~1 s of computing here (calibrated on this machine): long enough to be killed inside it, far below the
    // sandbox's 10 s cap even with four members computing at once on a loaded 2-core machine.
    const probeRounds = 50_000_000;
    const t0 = performance.now();
    await runWasm(wasm, inputFor(probeRounds, 0));
    rounds = Math.min(0xffff_ffff, Math.max(probeRounds, Math.round((probeRounds * 1_000) / Math.max(1, performance.now() - t0))));
  }, 300_000);

  /** Submits a slow task through node 0 with `dsmp task submit --json`; resolves with the CLI's exit code and output. */
  const submit = (name: string, n: number, q: number, windows: { commit: number; reveal: number }) => {
    const input = inputFor(rounds, n * 10 + q);
    writeFileSync(join(root, `${name}.in`), input);
    const io = createMemoryIo();
    const common = ["--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(9), "--node-api", nodes[0]!.apiUrl];
    const code = runCli(
      ["task", "submit", "--module", join(root, "slow.wasm"), "--input", join(root, `${name}.in`), "--n", String(n), "--q", String(q), "--reward", "1",
        "--commit-window", String(windows.commit), "--reveal-window", String(windows.reveal), "--json", ...common],
      io,
    );
    return { input, done: code.then((c) => ({ code: c, io })) };
  };

  /** SIGKILLs the first node other than node 0 (which serves the blobs) whose task job is active, before it commits. */
  const killFirstActiveMember = async (): Promise<NodeProcess> => {
    const victim = await until("a member's job to be active", async () => {
      for (const n of nodes.slice(1)) if (((await tasksOf(n)).queue?.["active"] ?? 0) >= 1) return n;
      return undefined;
    }, 90_000, 50);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => victim.child.once("exit", (_code, signal) => resolve(signal)));
    victim.child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    return victim;
  };

  const restart = async (victim: NodeProcess): Promise<NodeProcess> => {
    nodes[victim.index] = spawnNode({ index: victim.index, address: victim.address, apiUrl: victim.apiUrl, configFile: victim.configFile, output: victim.output });
    await waitReady(nodes[victim.index]!, 1);
    return nodes[victim.index]!;
  };

  afterAll(async () => {
    for (const n of nodes) if (n.child.exitCode === null) n.child.kill("SIGKILL");
    await redis?.stop();
    await chain?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("the task finalizes without the killed member; restarted, its stalled job resumes and ends already-closed; it sends nothing, nothing is duplicated", async () => {
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const tm = deployment.contracts.TaskManager!.address;
    const victimNonces = new Map(await Promise.all(nodes.map(async (n) => [n.index, await pub.getTransactionCount({ address: n.address })] as const)));
    const task = submit("quorum", 4, 3, { commit: 40, reveal: 30 });
    // SIGKILL a member while its job is active (fetching blobs or inside the ~1 s sandbox run, before any commit).
    const victim = await killFirstActiveMember();
    const expected = sha256Hex(await runWasm(wasm, task.input));
    const victimNonce = victimNonces.get(victim.index)!;
    const { code, io } = await task.done;
    expect(code, JSON.stringify(io.err())).toBe(0);
    const out = JSON.parse(io.out()) as { taskId: string; status: string; resultHash: string; participants: number[] };
    expect(out.status).toBe("finalized");
    expect(out.resultHash).toBe(expected);
    const taskId = BigInt(out.taskId);
    const committee = (await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "committeeOf", args: [taskId] })) as readonly Address[];
    const victimSlot = committee.findIndex((a) => a.toLowerCase() === victim.address.toLowerCase());
    expect(victimSlot).toBeGreaterThanOrEqual(0);
    expect(out.participants).toHaveLength(3);
    expect(out.participants).not.toContain(victimSlot);
    expect(await pub.getTransactionCount({ address: victim.address })).toBe(victimNonce);

    // Restart from the same data directory, key and queue: the job the dead process held is found stalled once
    // its lock lapses, runs again, sees the task final and ends already-closed.
    const restarted = await restart(victim);
    const resumed = await until("the restarted node's resumed job", async () => (await tasksOf(restarted)).jobs.find((j) => j.taskId === out.taskId), 90_000, 250);
    expect(resumed).toMatchObject({ outcome: "already-closed", status: "finalized" });
    const queue = (await tasksOf(restarted)).queue!;
    expect(queue["completed"]).toBe(1);
    expect(queue["active"] ?? 0).toBe(0);
    expect(queue["failed"] ?? 0).toBe(0);
    expect(queue["waiting"] ?? 0).toBe(0);

    // On-chain: one finalization, nothing from the killed node before or after its restart.
    const finals = await pub.getContractEvents({ address: tm, abi: abis.TaskManager, eventName: "TaskFinalized", args: { taskId }, fromBlock: 0n });
    expect(finals).toHaveLength(1);
    const anchored = await pub.getContractEvents({ address: tm, abi: abis.TaskManager, eventName: "CommitAnchored", args: { taskId }, fromBlock: 0n });
    expect(anchored.filter((e) => (e.args as { node: Address }).node.toLowerCase() === victim.address.toLowerCase())).toHaveLength(0);
    expect(await pub.getTransactionCount({ address: victim.address })).toBe(victimNonce);
    // The surviving members' jobs ended finalized.
    const survivors = nodes.filter((n) => n.index !== victim.index && committee.some((a) => a.toLowerCase() === n.address.toLowerCase()));
    expect(survivors).toHaveLength(3);
    for (const n of survivors) {
      const job = await until(`node ${n.index}'s outcome`, async () => (await tasksOf(n)).jobs.find((j) => j.taskId === out.taskId), 60_000, 250);
      expect(job).toMatchObject({ outcome: "finalized", resultHash: expected });
    }
  });

  it("q = n: the killed member stalls round 0; the live members reallocate and redraw on their own; the task finalizes with a full committee", async () => {
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const tm = deployment.contracts.TaskManager!.address;
    const task = submit("replace", 4, 4, { commit: 30, reveal: 15 });
    const victim = await killFirstActiveMember();
    const expected = sha256Hex(await runWasm(wasm, task.input));
    const taskId = await until("the task id", async () => {
      const count = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "taskCount" });
      const t = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "getTask", args: [count] });
      return t.q === 4 && t.status === 2 ? count : undefined;
    });
    const first = (await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "committeeOf", args: [taskId] })) as readonly Address[];
    const victimSlot = first.findIndex((a) => a.toLowerCase() === victim.address.toLowerCase());
    expect(victimSlot).toBeGreaterThanOrEqual(0);
    const live = first.filter((a) => a.toLowerCase() !== victim.address.toLowerCase()).map((a) => a.toLowerCase());

    // Bring the killed node back only after round 0's commit deadline: too late to commit, so it cannot save
    // round 0 (nor anchor a commit it never made).
    const round0 = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "getTask", args: [taskId] });
    // Chain time: a devnet that mined many blocks quickly runs ahead of the wall clock.
    await until("round 0's commit deadline", async () => (Math.max(Date.now() / 1000, Number((await pub.getBlock()).timestamp)) > Number(round0.commitDeadline) + 1 ? true : undefined), 120_000, 250);
    const restarted = await restart(victim);

    const { code, io } = await task.done;
    expect(code, JSON.stringify(io.err())).toBe(0);
    const out = JSON.parse(io.out()) as { taskId: string; status: string; resultHash: string; participants: number[] };
    expect(BigInt(out.taskId)).toBe(taskId);
    expect(out.status).toBe("finalized");
    expect(out.resultHash).toBe(expected);
    expect(out.participants).toEqual([0, 1, 2, 3]);
    const info = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "getTask", args: [taskId] });
    const events = await pub.getContractEvents({ address: tm, abi: abis.TaskManager, args: { taskId }, fromBlock: 0n });
    const history = events.map((e) => `${e.blockNumber} ${e.eventName} ${JSON.stringify(e.args, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}`).join("\n");
    const why = `victim node ${victim.index} (${victim.address}), slot ${victimSlot}; events:\n${history}`;
    // Usually round 1. A round more is legitimate when the draw seats the restarted node again before its stalled
    // job was picked up (lock 10 s): it is silent once more and replaced once more.
    expect(info.round, why).toBeGreaterThanOrEqual(1);

    // Round 0 vacated exactly the killed member's slot; every reallocate and redraw came from a member that was
    // alive and seated in that round, never from the vacated node, once per round.
    const ofKind = <N extends string>(name: N) => events.filter((e) => e.eventName === name);
    const vacated = ofKind("SlotVacated") as { args: { slot: number; node: Address; round: number }; transactionHash: Hex }[];
    expect(vacated.filter((e) => e.args.round === 0).map((e) => ({ slot: e.args.slot, node: e.args.node.toLowerCase() })), why).toEqual([
      { slot: victimSlot, node: victim.address.toLowerCase() },
    ]);
    const scheduled = ofKind("DrawScheduled") as { args: { round: number }; transactionHash: Hex }[];
    expect(scheduled.map((e) => e.args.round), why).toEqual(Array.from({ length: info.round }, (_, i) => i + 1));
    const replaced = ofKind("WorkerReplaced") as { args: { slot: number; oldNode: Address; newNode: Address; round: number }; transactionHash: Hex }[];
    expect(replaced.map((e) => e.args.slot).sort(), why).toEqual(vacated.map((e) => e.args.slot).sort());
    for (const e of [...scheduled, ...replaced]) {
      const tx = await pub.getTransaction({ hash: e.transactionHash });
      // Both events name the round that starts; SlotVacated names the round that ended.
      const vacatedThen = vacated.filter((v) => v.args.round === e.args.round - 1).map((v) => v.args.node.toLowerCase());
      expect(live, `${why}\n${tx.from} sent a keeper transaction`).toContain(tx.from.toLowerCase());
      expect(vacatedThen).not.toContain(tx.from.toLowerCase());
    }
    // The members that stayed alive kept their slots to the end.
    const final = (await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "committeeOf", args: [taskId] })) as readonly Address[];
    expect(final.filter((_a, slot) => slot !== victimSlot).map((a) => a.toLowerCase())).toEqual(live);
    expect(ofKind("TaskFinalized")).toHaveLength(1);

    // Every member of the final round ends finalized; the keepers' transactions appear in the live members'
    // outcomes once per round (the stagger keeps the others quiet; a lost race reverts at estimation, unsent).
    const keeperActions: string[] = [];
    for (const n of nodes.filter((x) => final.some((a) => a.toLowerCase() === x.address.toLowerCase()))) {
      const job = await until(`node ${n.index}'s outcome`, async () => (await tasksOf(n)).jobs.find((j) => j.taskId === out.taskId), 60_000, 250);
      expect(job, why).toMatchObject({ outcome: "finalized", resultHash: expected, participants: [0, 1, 2, 3] });
      keeperActions.push(...((job as unknown as { transactions: { action: string }[] }).transactions ?? []).map((t) => t.action));
    }
    expect(keeperActions.filter((a) => a === "reallocate"), why).toHaveLength(info.round);
    expect(keeperActions.filter((a) => a === "assign"), why).toHaveLength(info.round);
    // The restarted node: finalized if it holds the slot in the end; otherwise its resumed job was not seated
    // (or, when its lock lapsed only after the finalization, found the task closed).
    if (final[victimSlot]!.toLowerCase() !== victim.address.toLowerCase()) {
      const job = await until("the restarted node's resumed job", async () => (await tasksOf(restarted)).jobs.find((j) => j.taskId === out.taskId), 90_000, 250);
      expect(["not-seated", "already-closed"]).toContain(job.outcome);
    }
  });
});
