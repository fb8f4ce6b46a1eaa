/**
 * kill -9 of an assigned worker, as an operating-system process: four Xnodes run as `dsmp node start` child
 * processes (real chain, libp2p over 127.0.0.1, a test-owned AOF redis-server for their task queues). A task with
 * n = 4, q = 3 runs a deterministic module that computes for ~2 s; while node 3's job is active (its queue says so
 * on `GET /v1/tasks`) the process is SIGKILLed. The three others finalize without it; node 3 sent nothing. Started
 * again from the same data directory and queue, its stalled job is picked up and ends `already-closed`: still
 * nothing sent by node 3, one `TaskFinalized`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http, type Address } from "viem";
import { hardhat } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abis, type Deployment } from "../contracts/index.ts";
import { deploy } from "../scripts/lib/deploy.ts";
import { devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { startDevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { freePort, startHardhatNode, type HardhatNode } from "../scripts/lib/hardhat-node.ts";
import { createMemoryIo } from "../worker/src/cli/cli-io.ts";
import { runCli } from "../worker/src/cli/main.ts";
import { sha256Hex } from "../worker/src/tasks/blob-store.ts";
import { startOwnedRedis, type OwnedRedis } from "../worker/src/tasks/redis-server.fixture.ts";
import { runWasm } from "../worker/src/tasks/wasm-sandbox.ts";
import { compileWat } from "../worker/src/tasks/wat-compiler.ts";

const NODES = 4;
const VICTIM = 3;
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

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

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
    for (const n of nodes) await waitReady(n, 1);
  }, 240_000);

  afterAll(async () => {
    for (const n of nodes) if (n.child.exitCode === null) n.child.kill("SIGKILL");
    await redis?.stop();
    await chain?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("the task finalizes without the killed member; restarted, its stalled job resumes and ends already-closed; it sends nothing, nothing is duplicated", async () => {
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const tm = deployment.contracts.TaskManager!.address;
    const victim = nodes[VICTIM]!;

    // A module that computes for ~2 s here (calibrated on this machine), far below the sandbox's 10 s cap.
    const wasm = await compileWat(SLOW_WAT);
    const inputFor = (rounds: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(rounds);
      return b;
    };
    const probeRounds = 50_000_000;
    const t0 = performance.now();
    await runWasm(wasm, inputFor(probeRounds));
    const rounds = Math.min(0xffff_ffff, Math.max(probeRounds, Math.round((probeRounds * 2_000) / Math.max(1, performance.now() - t0))));
    const input = inputFor(rounds);
    const expected = sha256Hex(await runWasm(wasm, input));
    writeFileSync(join(root, "slow.wasm"), wasm);
    writeFileSync(join(root, "slow.in"), input);

    const victimNonce = await pub.getTransactionCount({ address: victim.address });
    const io = createMemoryIo();
    const common = ["--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(9), "--node-api", nodes[0]!.apiUrl];
    // Dev account 9 holds no OPEN on a fresh deployment: the deployer hands it some.
    const { createWalletClient } = await import("viem");
    const { devAccount } = await import("../scripts/lib/dev-accounts.ts");
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    await pub.waitForTransactionReceipt({
      hash: await deployer.writeContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(9).address, 10n ** 20n] }),
    });
    const submitted = runCli(
      ["task", "submit", "--module", join(root, "slow.wasm"), "--input", join(root, "slow.in"), "--n", "4", "--q", "3", "--reward", "1", "--commit-window", "40", "--reveal-window", "30", "--json", ...common],
      io,
    );

    // SIGKILL node 3 while its job is active (fetching blobs or inside the ~2 s sandbox run, before any commit).
    await until("node 3's job to be active", async () => ((await tasksOf(victim)).queue?.["active"] ?? 0) >= 1 ? true : undefined, 90_000, 50);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => victim.child.once("exit", (_code, signal) => resolve(signal)));
    victim.child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");

    expect(await submitted, JSON.stringify(io.err())).toBe(0);
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
    nodes[VICTIM] = spawnNode({ index: victim.index, address: victim.address, apiUrl: victim.apiUrl, configFile: victim.configFile, output: victim.output });
    await waitReady(nodes[VICTIM]!, 1);
    const resumed = await until("the restarted node's resumed job", async () => (await tasksOf(nodes[VICTIM]!)).jobs.find((j) => j.taskId === out.taskId), 90_000, 250);
    expect(resumed).toMatchObject({ outcome: "already-closed", status: "finalized" });
    const queue = (await tasksOf(nodes[VICTIM]!)).queue!;
    expect(queue["completed"]).toBe(1);
    expect(queue["active"] ?? 0).toBe(0);
    expect(queue["failed"] ?? 0).toBe(0);
    expect(queue["waiting"] ?? 0).toBe(0);

    // On-chain: one finalization, nothing from node 3 before or after its restart.
    const finals = await pub.getContractEvents({ address: tm, abi: abis.TaskManager, eventName: "TaskFinalized", args: { taskId }, fromBlock: 0n });
    expect(finals).toHaveLength(1);
    const anchored = await pub.getContractEvents({ address: tm, abi: abis.TaskManager, eventName: "CommitAnchored", args: { taskId }, fromBlock: 0n });
    expect(anchored.filter((e) => (e.args as { node: Address }).node.toLowerCase() === victim.address.toLowerCase())).toHaveLength(0);
    expect(await pub.getTransactionCount({ address: victim.address })).toBe(victimNonce);
    // The survivors' jobs ended finalized.
    for (const i of [0, 1, 2]) {
      const job = await until(`node ${i}'s outcome`, async () => (await tasksOf(nodes[i]!)).jobs.find((j) => j.taskId === out.taskId), 60_000, 250);
      expect(job).toMatchObject({ outcome: "finalized", resultHash: expected });
    }
  });
});
