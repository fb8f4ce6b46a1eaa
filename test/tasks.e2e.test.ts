/**
 * Tasks end to end on real parts: a `hardhat node` with the deployed contracts (TaskManager included), 4 Xnodes
 * on 127.0.0.1 (registered and staked), each with a task runner on the shared Redis (its own key prefix), blob
 * service and sandbox. A submitter hands the FNV-1a example module and an input to node 0, creates a task with
 * n = 4, q = 3, and has it assigned. Node 2 is configured to lie (test-only output hook): the correct result is
 * finalized with the honest three as participants, the liar is slashed, the honest operators are paid.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { createPublicClient, createWalletClient, http, maxUint256, parseEther, type Address, type Hex } from "viem";
import { hardhat } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abis, type Deployment } from "../contracts/index.ts";
import { deploy } from "../scripts/lib/deploy.ts";
import { devAccount, devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { startDevnetXnodes, type DevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { startHardhatNode, type HardhatNode } from "../scripts/lib/hardhat-node.ts";
import { stake } from "../worker/src/chain/actions/stake.ts";
import { createDsmpChainClient } from "../worker/src/chain/chain-client.ts";
import { createLogger, createSilentLogger } from "../worker/src/log.ts";
import type { BlobService } from "../worker/src/tasks/blob-protocol.ts";
import { sha256Hex, type BlobStore } from "../worker/src/tasks/blob-store.ts";
import { createTaskRunner, type TaskRunner } from "../worker/src/tasks/task-runner.ts";
import { compileWat } from "../worker/src/tasks/wat-compiler.ts";
import { createMemoryIo } from "../worker/src/cli/cli-io.ts";
import { runCli } from "../worker/src/cli/main.ts";
import { writeFileSync } from "node:fs";
import { runWasm } from "../worker/src/tasks/wasm-sandbox.ts";
import { startOwnedRedis } from "../worker/src/tasks/redis-server.fixture.ts";
import { createUndrawnTask } from "./undrawn-task.fixture.ts";

const NODES = 4;
const LIAR = 2;
/** Sum of a metric's samples whose labels include `labels` (e.g. `reason="late-commit"`), from /metrics text. */
function metricValue(text: string, name: string, labels = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (m !== null && m[1] === name && (m[2] ?? "").includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

const REDIS_URL = process.env.DSMP_TEST_REDIS_URL ?? process.env.DSMP_REDIS_URL ?? "redis://127.0.0.1:6379";

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("tasks end to end (real chain, Redis, libp2p)", () => {
  let chain: HardhatNode;
  let net: DevnetXnodes;
  let deployment: Deployment;
  let deploymentsFile: string;
  const root = mkdtempSync(join(tmpdir(), "dsmp-tasks-"));
  const runners: TaskRunner[] = [];
  let makeRunner: (i: number, options?: { lazy?: boolean; redisUrl?: string; honest?: boolean }) => Promise<TaskRunner>;
  /** Members whose runner stops at the start of the committee round (test-only hook), and the task each reached. */
  const holdBeforeRound = new Set<number>();
  const heldAtRound = new Map<number, string>();
  const blobs: { service: BlobService; store: BlobStore }[] = [];

  beforeAll(async () => {
    chain = await startHardhatNode();
    const outDir = join(root, "deployments");
    deployment = await deploy({ rpcUrl: chain.rpcUrl, privateKey: devPrivateKey(0), outDir });
    deploymentsFile = join(outDir, `${deployment.chainId}.json`);
    // This file composes each node's task runner itself (to give it test hooks), so the nodes must not start
    // their own: startXnode does when DSMP_REDIS_URL is set, as `npm test` sets it.
    const envRedisUrl = process.env.DSMP_REDIS_URL;
    delete process.env.DSMP_REDIS_URL;
    try {
      net = await startDevnetXnodes({ rpcUrl: chain.rpcUrl, deployment, deploymentsFile: join(outDir, `${deployment.chainId}.json`), count: NODES, rootDir: join(root, "nodes"), ephemeralPorts: true });
    } finally {
      if (envRedisUrl !== undefined) process.env.DSMP_REDIS_URL = envRedisUrl;
    }
    const c = deployment.contracts;
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    const mined = async (hash: Promise<Hex>) => pub.waitForTransactionReceipt({ hash: await hash });
    const prefix = `dsmp-test:tasks-e2e:${randomUUID()}`;
    for (const [i, node] of net.nodes.entries()) {
      // Collateral for tasks comes from the operator's free stake; gas for round transactions from the node key.
      const operator = await createDsmpChainClient({ rpcUrl: chain.rpcUrl, deployment, account: devAccount(i + 1) });
      await mined(deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(i + 1).address, parseEther("1000")] }));
      await stake(operator, { amount: parseEther("1000") });
      await mined(deployer.sendTransaction({ to: node.identity.address, value: parseEther("10") }));
      // The node's own blob store and /dsmp/blob/1.0.0 service; the runner is composed here (not by startXnode)
      // so that node 2 can be given the test-only output hook.
      const { store, service } = node.blobs;
      blobs.push({ service, store });
      makeRunner = async (k: number, options: { lazy?: boolean; redisUrl?: string; honest?: boolean } = {}) => {
        const n = net.nodes[k]!;
        return createTaskRunner({
          chain: await createDsmpChainClient({ rpcUrl: chain.rpcUrl, deployment, account: n.identity.account }),
          taskManager: c.TaskManager!.address,
          fromBlock: BigInt(c.TaskManager!.blockNumber),
          redisUrl: options.redisUrl ?? REDIS_URL,
          queuePrefix: `${prefix}:${k}`,
          pollMs: 300,
          transmitStaggerMs: 2_000,
          sandbox: { timeoutMs: 2_000, maxMemoryPages: 256 },
          ...(k === LIAR && options.honest !== true ? { testOnlyAlterOutput: (out: Uint8Array) => out.map((b) => b ^ 0xff) } : {}),
          ...(options.lazy === true ? { testOnlyLazyCopy: true } : {}),
          testOnlyBeforeRound: (taskId: string, signal: AbortSignal) => {
            if (!holdBeforeRound.has(k)) return Promise.resolve();
            heldAtRound.set(k, taskId);
            // Held until the runner stops: it then dies computed but silent, as a kill -9 at that point would leave it.
            return new Promise<void>((_, reject) => {
              if (signal.aborted) reject(signal.reason);
              signal.addEventListener("abort", () => reject(signal.reason), { once: true });
            });
          },
        })({
          account: n.identity.account,
          pubsub: n.p2p.libp2p.services.pubsub,
          blobs: n.blobs.service,
          store: n.blobs.store,
          peers: () => n.p2p.libp2p.getPeers(),
          logger: process.env.DSMP_TEST_TASK_LOG ? createLogger({ level: "info" }) : createSilentLogger(),
          metrics: n.metrics,
        });
      };
      const runner = await makeRunner(i);
      await runner.start();
      runners.push(runner);
    }
  }, 180_000);

  afterAll(async () => {
    for (const r of runners) await r.stop().catch(() => undefined);
    await net?.stop();
    await chain?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("4 workers, one liar: the correct result finalizes, the liar is slashed, the honest are paid", async () => {
    const c = deployment.contracts;
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const submitter = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(8) });
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    const mined = async (hash: Promise<Hex>) => {
      const r = await pub.waitForTransactionReceipt({ hash: await hash });
      expect(r.status).toBe("success");
      return r;
    };

    // The submitter's CLI hands module and input to its local node (node 0), which serves them by hash.
    const wasm = await compileWat(readFileSync(join(import.meta.dirname, "..", "examples", "fnv1a.wat"), "utf8"));
    const input = new TextEncoder().encode("hello, decentralized service mesh\n".repeat(100));
    const moduleHash = await blobs[0]!.store.put(wasm);
    const inputHash = await blobs[0]!.store.put(input);
    const expected = sha256Hex(await runWasm(wasm, input));

    await mined(deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [submitter.account.address, parseEther("1000")] }));
    await mined(submitter.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "approve", args: [c.TaskManager!.address, maxUint256] }));
    const now = (await pub.getBlock()).timestamp;
    const created = await mined(
      submitter.writeContract({
        address: c.TaskManager!.address,
        abi: abis.TaskManager,
        functionName: "createTask",
        args: [
          {
            moduleHash,
            inputHash,
            inputURI: "",
            resources: { cpuMillicores: 100, memoryMiB: 64, storageGiB: 0, gpus: 0 },
            n: 4,
            q: 3,
            reward: parseEther("10"),
            commitWindow: 60,
            revealWindow: 60,
            finalDeadline: Number(now) + 900,
          },
        ],
      }),
    );
    const taskId = BigInt(created.logs.find((l) => l.address.toLowerCase() === c.TaskManager!.address.toLowerCase())!.topics[1]!);
    // The draw is seeded by a later block's hash: mine past it, then anyone may assign.
    await pub.request({ method: "evm_mine" as never, params: [] as never });
    await pub.request({ method: "evm_mine" as never, params: [] as never });
    await mined(submitter.writeContract({ address: c.TaskManager!.address, abi: abis.TaskManager, functionName: "assign", args: [taskId] }));
    const committee = (await pub.readContract({ address: c.TaskManager!.address, abi: abis.TaskManager, functionName: "committeeOf", args: [taskId] })) as readonly Address[];
    const nodeAddrs = net.nodes.map((n) => n.identity.address);
    expect([...committee].sort()).toEqual([...nodeAddrs].sort());
    const liarSlot = committee.indexOf(nodeAddrs[LIAR]!);

    const info = await until("finalization", async () => {
      const t = await pub.readContract({ address: c.TaskManager!.address, abi: abis.TaskManager, functionName: "getTask", args: [taskId] });
      return t.status === 3 ? t : undefined;
    });
    expect(info.resultHash).toBe(expected);
    const participants = [0, 1, 2, 3].filter((s) => ((BigInt(info.participants) >> BigInt(s)) & 1n) === 1n);
    expect(participants).toEqual([0, 1, 2, 3].filter((s) => s !== liarSlot));

    // The liar's signed wrong Result is proven by the lowest-ranked honest participant: WorkerSlashed for it.
    const slashed = await until("the liar's slash", async () => {
      const logs = await pub.getContractEvents({ address: c.TaskManager!.address, abi: abis.TaskManager, eventName: "WorkerSlashed", args: { taskId }, fromBlock: 0n });
      return logs.length > 0 ? logs : undefined;
    }, 30_000);
    expect(slashed.map((l) => (l.args as { node: Address }).node)).toEqual([nodeAddrs[LIAR]]);
    // Honest operators were credited, the liar's was not.
    for (const [i] of net.nodes.entries()) {
      const reward = await pub.readContract({ address: c.TaskManager!.address, abi: abis.TaskManager, functionName: "rewardsOf", args: [devAccount(i + 1).address] });
      if (i === LIAR) expect(reward).toBe(0n);
      else expect(reward).toBeGreaterThan(0n);
    }
    // Exactly one report went on-chain.
    const finals = await pub.getContractEvents({ address: c.TaskManager!.address, abi: abis.TaskManager, eventName: "TaskFinalized", args: { taskId }, fromBlock: 0n });
    expect(finals).toHaveLength(1);
    // The result bytes are in the honest nodes' blob stores, by their hash.
    expect(sha256Hex((await blobs[0]!.store.get(expected))!)).toBe(expected);
  });

  it("dsmp task submit (--json) follows a task to its result; task status and task ls show it", async () => {
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    await pub.waitForTransactionReceipt({
      hash: await deployer.writeContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(9).address, parseEther("100")] }),
    });
    const modulePath = join(root, "wordcount.wasm");
    const inputPath = join(root, "words.txt");
    const wasm = await compileWat(readFileSync(join(import.meta.dirname, "..", "examples", "wordcount.wat"), "utf8"));
    writeFileSync(modulePath, wasm);
    writeFileSync(inputPath, "one two three\nfour five\n");
    const expectedOutput = Buffer.from(await runWasm(wasm, readFileSync(inputPath))).toString("hex");
    const common = ["--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile];
    const io = createMemoryIo();
    const code = await runCli(
      ["task", "submit", "--module", modulePath, "--input", inputPath, "--n", "4", "--q", "3", "--reward", "5", "--node-api", net.nodes[1]!.apiUrl, "--key", devPrivateKey(9), "--json", ...common],
      io,
    );
    expect(io.err()).toContain("finalized: result");
    expect(code).toBe(0);
    const out = JSON.parse(io.out());
    expect(out.status).toBe("finalized");
    expect(out.outputHex).toBe(expectedOutput); // 5 words, 2 lines
    expect(out.resultHash).toBe(sha256Hex(Buffer.from(expectedOutput, "hex")));
    expect(out.txHashes.length).toBeGreaterThanOrEqual(2);
    expect(io.err()).toMatch(/created: task \d+/);
    expect(io.err()).toContain("assigned: round 0");

    const status = createMemoryIo();
    expect(await runCli(["task", "status", String(out.taskId), "--json", ...common], status)).toBe(0);
    expect(JSON.parse(status.out())).toMatchObject({ status: "finalized", resultHash: out.resultHash, n: 4, q: 3 });
    const ls = createMemoryIo();
    expect(await runCli(["task", "ls", "--json", ...common], ls)).toBe(0);
    expect(JSON.parse(ls.out()).map((t: { status: string }) => t.status)).toEqual(["finalized", "finalized"]);
  });

  it("bad modules (loops forever, grows memory without bound, invalid binary) fail the task cleanly with a reason; nodes stay healthy", async () => {
    const common = ["--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(9), "--node-api", net.nodes[0]!.apiUrl];
    const abi = (body: string) => `(module (memory (export "memory") 1) (func (export "alloc") (param i32) (result i32) (i32.const 0)) (func (export "run") (param i32 i32) (result i64) ${body}))`;
    const cases = [
      { name: "loop", wasm: await compileWat(abi("(loop $l (br $l)) (i64.const 0)")), reason: "timeout" },
      { name: "grow", wasm: await compileWat(abi("(loop $l (br_if $l (i32.ne (memory.grow (i32.const 8)) (i32.const -1)))) unreachable")), reason: "memory-limit" },
      { name: "invalid", wasm: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x0a, 0xff]), reason: "invalid" },
    ];
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    await pub.waitForTransactionReceipt({
      hash: await deployer.writeContract({ address: deployment.contracts.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(9).address, parseEther("100")] }),
    });
    writeFileSync(join(root, "in.bin"), "x");
    for (const c of cases) {
      writeFileSync(join(root, `${c.name}.wasm`), c.wasm);
      const submit = ["task", "submit", "--module", join(root, `${c.name}.wasm`), "--input", join(root, "in.bin"), "--n", "4", "--q", "3", "--reward", "1", "--no-wait", "--json", ...common];
      if (c.name === "invalid") {
        // The CLI refuses it before escrowing anything; a submitter who insists (or calls the contract) gets it run.
        const refused = createMemoryIo();
        expect(await runCli(submit, refused)).toBe(2);
        expect(refused.err()).toContain("cannot run as a task: not a WebAssembly module");
        submit.push("--no-module-check");
      }
      const io = createMemoryIo();
      const code = await runCli(submit, io);
      expect(code, JSON.stringify(io.err())).toBe(0);
      const taskId = String(JSON.parse(io.out()).taskId);
      // Every member's job ends with the module's failure reason; nobody commits, so nothing finalizes.
      for (const runner of runners) {
        const outcome = await until(`${c.name}: outcome of task ${taskId}`, async () => runner.outcomes.get(taskId), 60_000);
        expect(outcome).toMatchObject({ outcome: "module-failed", reason: c.reason });
      }
    }
    for (const node of net.nodes) {
      const health = await fetch(`${node.apiUrl}/healthz`);
      expect(health.status).toBe(200);
    }
  });

  it("a member dies mid-task: the task still finalizes without it; restarted, its job resumes and finds the task closed; nothing is duplicated", async () => {
    const DEAD = 3;
    const c = deployment.contracts;
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    await pub.waitForTransactionReceipt({
      hash: await deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(9).address, parseEther("100")] }),
    });
    const modulePath = join(root, "fnv1a.wasm");
    writeFileSync(modulePath, await compileWat(readFileSync(join(import.meta.dirname, "..", "examples", "fnv1a.wat"), "utf8")));
    writeFileSync(join(root, "kill.txt"), "kill -9 test input");
    const common = ["--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(9), "--node-api", net.nodes[0]!.apiUrl];
    // q = 2: the liar (node 2) and the dead member (node 3) leave two honest signers.
    holdBeforeRound.add(DEAD);
    const io = createMemoryIo();
    const submitted = runCli(["task", "submit", "--module", modulePath, "--input", join(root, "kill.txt"), "--n", "4", "--q", "2", "--reward", "1", "--commit-window", "15", "--reveal-window", "30", "--json", ...common], io);
    // Kill the member once it computed the result and before it sends anything to the committee (held there by
    // the test-only hook; in-process: the queue is closed without waiting, as a SIGKILL would leave it: the job
    // stays locked in Redis, then stalls). Polling for its round instead raced: on an idle machine all four
    // members commit and reveal within milliseconds.
    const taskId = await until("node 3's job to reach its round", async () => heldAtRound.get(DEAD), 60_000);
    await runners[DEAD]!.stop();
    holdBeforeRound.delete(DEAD);
    expect(await submitted, JSON.stringify(io.err())).toBe(0);
    const out = JSON.parse(io.out());
    expect(String(out.taskId)).toBe(taskId);
    expect(out.status).toBe("finalized");
    const committee = (await pub.readContract({ address: c.TaskManager!.address, abi: abis.TaskManager, functionName: "committeeOf", args: [BigInt(taskId)] })) as readonly Address[];
    const deadSlot = committee.indexOf(net.nodes[DEAD]!.identity.address);
    expect(out.participants).not.toContain(deadSlot);
    expect(out.participants).toHaveLength(2);

    // Restart: same queue prefix. The stalled job is picked up again once its lock lapses and ends "already-closed";
    // the watcher's replay of old assignments adds no job twice.
    const restarted = await makeRunner(DEAD);
    runners[DEAD] = restarted;
    await restarted.start();
    const outcome = await until("the resumed job", async () => restarted.outcomes.get(taskId), 60_000);
    expect(outcome).toEqual({ outcome: "already-closed", status: "finalized" });
    expect(await restarted.queue.state(taskId)).toBe("completed");
    const finals = await pub.getContractEvents({ address: c.TaskManager!.address, abi: abis.TaskManager, eventName: "TaskFinalized", args: { taskId: BigInt(taskId) }, fromBlock: 0n });
    expect(finals).toHaveLength(1);
    const reports = await pub.getContractEvents({ address: c.TaskManager!.address, abi: abis.TaskManager, eventName: "CommitAnchored", args: { taskId: BigInt(taskId) }, fromBlock: 0n });
    expect(reports.filter((e) => (e.args as { node: Address }).node === net.nodes[DEAD]!.identity.address)).toHaveLength(0);
  });

  it("a lazy worker that copies others' revealed results is excluded from the quorum and unpaid; the honest result finalizes; /metrics shows the round", async () => {
    const LAZY = 1;
    const c = deployment.contracts;
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    await pub.waitForTransactionReceipt({
      hash: await deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(9).address, parseEther("100")] }),
    });
    // Node 1 becomes a lazy copier (same queue prefix: the watcher's replay adds nothing twice).
    await runners[LAZY]!.stop();
    runners[LAZY] = await makeRunner(LAZY, { lazy: true });
    await runners[LAZY]!.start();
    const rewardsOf = (i: number) => pub.readContract({ address: c.TaskManager!.address, abi: abis.TaskManager, functionName: "rewardsOf", args: [devAccount(i + 1).address] });
    const before = await Promise.all(net.nodes.map((_, i) => rewardsOf(i)));
    const scrape = async () => Promise.all(net.nodes.map(async (n) => (await fetch(`${n.apiUrl}/metrics`)).text()));
    // The deltas below must be this task's alone: let the earlier tasks' jobs finish first (a job stays a while
    // after finalization for proofs, TASK_PROOF_GRACE_MS).
    await until("the earlier tasks' jobs to finish", async () => {
      for (const r of runners) {
        const counts = await r.queue.counts();
        if (r.rounds.size > 0 || (counts["active"] ?? 0) > 0 || (counts["waiting"] ?? 0) > 0) return undefined;
      }
      return true;
    }, 60_000);
    const metricsBefore = await scrape();

    const wasm = await compileWat(readFileSync(join(import.meta.dirname, "..", "examples", "fnv1a.wat"), "utf8"));
    writeFileSync(join(root, "lazy.wasm"), wasm);
    writeFileSync(join(root, "lazy.txt"), "a result worth copying");
    const expected = sha256Hex(await runWasm(wasm, readFileSync(join(root, "lazy.txt"))));
    const common = ["--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(9), "--node-api", net.nodes[0]!.apiUrl];
    // q = 2: the liar (node 2) and the lazy copier (node 1) leave two honest signers, enough to finalize.
    const io = createMemoryIo();
    const code = await runCli(["task", "submit", "--module", join(root, "lazy.wasm"), "--input", join(root, "lazy.txt"), "--n", "4", "--q", "2", "--reward", "1", "--commit-window", "15", "--reveal-window", "30", "--json", ...common], io);
    expect(code, JSON.stringify(io.err())).toBe(0);
    const out = JSON.parse(io.out());
    expect(out.status).toBe("finalized");
    expect(out.resultHash).toBe(expected);
    const taskId = String(out.taskId);
    const committee = (await pub.readContract({ address: c.TaskManager!.address, abi: abis.TaskManager, functionName: "committeeOf", args: [BigInt(taskId)] })) as readonly Address[];
    const slotOf = (i: number) => committee.indexOf(net.nodes[i]!.identity.address);
    const info = await pub.readContract({ address: c.TaskManager!.address, abi: abis.TaskManager, functionName: "getTask", args: [BigInt(taskId)] });
    const participants = [0, 1, 2, 3].filter((s) => ((BigInt(info.participants) >> BigInt(s)) & 1n) === 1n);
    expect(participants).toEqual([slotOf(0), slotOf(3)].sort((a, b) => a - b));
    expect(participants).not.toContain(slotOf(LAZY));

    // The copier did hold the right hash (it copied it) and still is in no quorum.
    const lazyOutcome = await until("the lazy copier's job", async () => runners[LAZY]!.outcomes.get(taskId), 60_000);
    expect(lazyOutcome).toMatchObject({ outcome: "finalized", resultHash: expected, ownResultHash: expected, participants });
    // Paid: the two honest operators; not the copier's, nor the liar's.
    const after = await Promise.all(net.nodes.map((_, i) => rewardsOf(i)));
    expect(after[LAZY]).toBe(before[LAZY]);
    expect(after[LIAR]).toBe(before[LIAR]);
    expect(after[0]).toBeGreaterThan(before[0]!);
    expect(after[3]).toBeGreaterThan(before[3]!);
    const finals = await pub.getContractEvents({ address: c.TaskManager!.address, abi: abis.TaskManager, eventName: "TaskFinalized", args: { taskId: BigInt(taskId) }, fromBlock: 0n });
    expect(finals).toHaveLength(1);

    // /metrics of the honest nodes: the copier's commit was dropped as late, one report went out, the liar's
    // wrong result was proven, sandbox runs and finished jobs are counted.
    const delta = (texts: string[], name: string, labels = "", nodes = [0, 3]) =>
      nodes.reduce((sum, i) => sum + metricValue(texts[i]!, name, labels) - metricValue(metricsBefore[i]!, name, labels), 0);
    const metricsAfter = await until("the wrong-result proof in /metrics", async () => {
      const texts = await scrape();
      return delta(texts, "dsmp_tasks_proofs_submitted_total", 'kind="wrong-result"') >= 1 ? texts : undefined;
    }, 30_000);
    expect(delta(metricsAfter, "dsmp_tasks_round_messages_dropped_total", 'reason="late-commit"')).toBeGreaterThanOrEqual(1);
    expect(delta(metricsAfter, "dsmp_tasks_reports_transmitted_total", "", [0, 1, 2, 3])).toBe(1);
    expect(delta(metricsAfter, "dsmp_tasks_sandbox_runs_total", 'outcome="ok"')).toBe(2);
    expect(delta(metricsAfter, "dsmp_tasks_sandbox_runs_total", 'outcome="ok"', [LAZY])).toBe(0);
    expect(delta(metricsAfter, "dsmp_tasks_sandbox_run_seconds_count", 'outcome="ok"')).toBe(2);
    await until("the honest jobs' outcomes in /metrics", async () => {
      const texts = await scrape();
      return delta(texts, "dsmp_tasks_job_outcomes_total", 'outcome="finalized"') === 2 ? true : undefined;
    }, 30_000);
    expect(metricValue(metricsAfter[0]!, "dsmp_tasks_jobs", 'state="completed"')).toBeGreaterThanOrEqual(1);
  });

  it("Redis (AOF) is killed -9 while the task's jobs are queued and running, then restarted: the task finalizes, nothing is lost or sent twice", async () => {
    const c = deployment.contracts;
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    await pub.waitForTransactionReceipt({
      hash: await deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(9).address, parseEther("100")] }),
    });
    // Every node's queue moves to a test-owned redis-server with appendonly yes / appendfsync always.
    const redis = await startOwnedRedis();
    try {
      for (const [i, r] of runners.entries()) {
        await r.stop();
        runners[i] = await makeRunner(i, { redisUrl: redis.url });
        await runners[i]!.start();
      }
      const wasm = await compileWat(readFileSync(join(import.meta.dirname, "..", "examples", "fnv1a.wat"), "utf8"));
      writeFileSync(join(root, "aof.wasm"), wasm);
      writeFileSync(join(root, "aof.txt"), "survive a redis crash");
      const expected = sha256Hex(await runWasm(wasm, readFileSync(join(root, "aof.txt"))));
      const common = ["--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(9), "--node-api", net.nodes[0]!.apiUrl];
      const io = createMemoryIo();
      // q = 3: all three honest members must come through the crash (node 2 still lies).
      const submitted = runCli(["task", "submit", "--module", join(root, "aof.wasm"), "--input", join(root, "aof.txt"), "--n", "4", "--q", "3", "--reward", "1", "--commit-window", "20", "--reveal-window", "30", "--json", ...common], io);
      // Crash Redis as soon as one member's job is running its round (the others' jobs are queued or running).
      await until("a member's job to start its round", async () => (runners.some((r) => r.rounds.size > 0) ? true : undefined), 60_000);
      const taskId = [...runners.find((r) => r.rounds.size > 0)!.rounds.keys()][0]!;
      await redis.kill9();
      await redis.start();
      expect(await submitted, JSON.stringify(io.err())).toBe(0);
      const out = JSON.parse(io.out());
      expect(String(out.taskId)).toBe(taskId);
      expect(out.status).toBe("finalized");
      expect(out.resultHash).toBe(expected);
      expect(out.participants).toHaveLength(3);
      // Every member's job survived in the restarted Redis and completed once.
      for (const [i, r] of runners.entries()) {
        const outcome = await until(`node ${i}'s job after the crash`, async () => r.outcomes.get(taskId), 60_000);
        expect(outcome).toMatchObject({ outcome: "finalized", resultHash: expected });
        expect(await r.queue.state(taskId)).toBe("completed");
      }
      // On-chain: one report, one proof against the liar.
      const finals = await pub.getContractEvents({ address: c.TaskManager!.address, abi: abis.TaskManager, eventName: "TaskFinalized", args: { taskId: BigInt(taskId) }, fromBlock: 0n });
      expect(finals).toHaveLength(1);
      const slashed = await until("the liar's slash", async () => {
        const logs = await pub.getContractEvents({ address: c.TaskManager!.address, abi: abis.TaskManager, eventName: "WorkerSlashed", args: { taskId: BigInt(taskId) }, fromBlock: 0n });
        return logs.length > 0 ? logs : undefined;
      }, 30_000);
      expect(slashed.map((l) => (l.args as { node: Address }).node)).toEqual([net.nodes[LIAR]!.identity.address]);
      const sent = runners.flatMap((r) => { const o = r.outcomes.get(taskId); return o !== undefined && "transactions" in o ? o.transactions : []; });
      expect(sent.filter((t) => t.action === "transmitReport")).toHaveLength(1);
      expect(new Set(sent.map((t) => t.hash)).size).toBe(sent.length);
    } finally {
      for (const r of runners) await r.stop().catch(() => undefined);
      await redis.stop();
    }
  });

  it("a silent member is replaced automatically: the anchored members reallocate and redraw on their own, keep their slots, the replacement joins through its own TaskAssigned, the task finalizes", async () => {
    const SILENT = 3;
    const c = deployment.contracts;
    const tm = c.TaskManager!.address;
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const submitter = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(8) });
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    const mined = async (hash: Promise<Hex>) => {
      const r = await pub.waitForTransactionReceipt({ hash: await hash });
      expect(r.status).toBe("success");
      return r;
    };
    // Nodes 0–2 run honest runners on the shared Redis; node 3 is registered (drawable) but runs none: silent.
    for (const [i, r] of runners.entries()) await r.stop().catch(() => undefined);
    for (const i of [0, 1, 2]) {
      runners[i] = await makeRunner(i, { honest: true });
      await runners[i]!.start();
    }
    await mined(deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [submitter.account.address, parseEther("100")] }));
    await mined(submitter.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "approve", args: [tm, maxUint256] }));
    const wasm = await compileWat(readFileSync(join(import.meta.dirname, "..", "examples", "fnv1a.wat"), "utf8"));
    const moduleHash = await blobs[0]!.store.put(wasm);
    const silentAddr = net.nodes[SILENT]!.identity.address;
    // n = 3 of 4 nodes, q = 3: the draw is random, so create tasks until one seats the silent node (P = 3/4 each).
    let taskId: bigint | undefined;
    let expected: Hex | undefined;
    for (let attempt = 0; attempt < 6 && taskId === undefined; attempt++) {
      const input = new TextEncoder().encode(`reallocation attempt ${attempt}`);
      const inputHash = await blobs[0]!.store.put(input);
      const now = (await pub.getBlock()).timestamp;
      const created = await mined(
        submitter.writeContract({
          address: tm,
          abi: abis.TaskManager,
          functionName: "createTask",
          args: [{ moduleHash, inputHash, inputURI: "", resources: { cpuMillicores: 100, memoryMiB: 64, storageGiB: 0, gpus: 0 }, n: 3, q: 3, reward: parseEther("1"), commitWindow: 6, revealWindow: 30, finalDeadline: Number(now) + 900 }],
        }),
      );
      const id = BigInt(created.logs.find((l) => l.address.toLowerCase() === tm.toLowerCase())!.topics[1]!);
      await pub.request({ method: "evm_mine" as never, params: [] as never });
      await pub.request({ method: "evm_mine" as never, params: [] as never });
      await mined(submitter.writeContract({ address: tm, abi: abis.TaskManager, functionName: "assign", args: [id] }));
      const committee = (await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "committeeOf", args: [id] })) as readonly Address[];
      if (committee.includes(silentAddr)) {
        taskId = id;
        expected = sha256Hex(await runWasm(wasm, input));
      }
      else await until(`task ${id} (three honest members) to finalize`, async () => ((await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "getTask", args: [id] })).status === 3 ? true : undefined), 60_000);
    }
    expect(taskId, "the silent node was never drawn in 6 tries").toBeDefined();
    const id = taskId!;
    const first = (await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "committeeOf", args: [id] })) as readonly Address[];
    const silentSlot = first.indexOf(silentAddr);
    const replacement = net.nodes.map((n) => n.identity.address).find((a) => !first.includes(a))!;

    // Round 0 cannot reach q = 3; the two live members anchor their commits before the report deadline.
    await until("both live members' anchored commits", async () => {
      const t = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "getTask", args: [id] });
      return [0, 1, 2].filter((s) => s !== silentSlot).every((s) => ((t.anchored >> s) & 1) === 1) ? t : undefined;
    }, 60_000);
    // Nobody outside the committee acts from here: after the report deadline the anchored members reallocate
    // (lowest anchored slot first) and, once the seed block is mined, assign the next draw themselves.
    const replacedEvents = await until("the members' automatic reallocate and redraw", async () => {
      const logs = await pub.getContractEvents({ address: tm, abi: abis.TaskManager, eventName: "WorkerReplaced", args: { taskId: id }, fromBlock: 0n });
      return logs.length > 0 ? logs : undefined;
    }, 90_000);
    const vacated = await pub.getContractEvents({ address: tm, abi: abis.TaskManager, eventName: "SlotVacated", args: { taskId: id }, fromBlock: 0n });
    expect(vacated.map((e) => (e.args as { slot: number; node: Address }).node)).toEqual([silentAddr]);
    const liveMembers = first.filter((a) => a !== silentAddr);
    for (const e of [vacated[0]!, replacedEvents[0]!]) {
      const tx = await pub.getTransaction({ hash: e.transactionHash! });
      expect(liveMembers.map((a) => a.toLowerCase()), `${e.eventName} was sent by a live member`).toContain(tx.from.toLowerCase());
    }
    const replaced = replacedEvents;
    expect(replaced.map((e) => e.args)).toMatchObject([{ slot: silentSlot, oldNode: silentAddr }]);
    // The draw may seat the fourth node or the vacated node again (it is eligible); if the latter, it comes back
    // online here. Either way the new member joins through its own TaskAssigned of round 1.
    const newNode = (replaced[0]!.args as { newNode: Address }).newNode;
    expect([replacement, silentAddr]).toContain(newNode);
    const members = newNode === silentAddr ? [...first.keys()].map((s) => net.nodes.findIndex((n) => n.identity.address === first[s])) : [0, 1, 2];
    if (newNode === silentAddr) {
      runners[SILENT] = await makeRunner(SILENT, { honest: true });
      await runners[SILENT]!.start();
    }

    // Round 1: the two anchored members rejoin in their slots, the replacement's job starts from its TaskAssigned.
    const info = await until("finalization in round 1", async () => {
      const t = await pub.readContract({ address: tm, abi: abis.TaskManager, functionName: "getTask", args: [id] });
      return t.status === 3 ? t : undefined;
    }, 90_000);
    expect(info.round).toBe(1);
    expect(BigInt(info.participants)).toBe(0b111n);
    expect(info.resultHash).toBe(expected);
    const finals = await pub.getContractEvents({ address: tm, abi: abis.TaskManager, eventName: "TaskFinalized", args: { taskId: id }, fromBlock: 0n });
    expect(finals).toHaveLength(1);
    for (const i of members) {
      const outcome = await until(`node ${i}'s job`, async () => runners[i]!.outcomes.get(id.toString()), 60_000);
      expect(outcome).toMatchObject({ outcome: "finalized", resultHash: info.resultHash, participants: [0, 1, 2] });
      if (net.nodes[i]!.identity.address !== newNode) {
        expect((outcome as { transactions: { action: string }[] }).transactions.map((t) => t.action)).toContain("anchorCommit");
      }
    }
    // One reallocate and one assign in all, from the members' keepers (the stagger kept the second one quiet).
    const keeperActions = members.flatMap((i) => ((runners[i]!.outcomes.get(id.toString()) as { transactions: { action: string }[] }).transactions ?? []).map((t) => t.action));
    expect(keeperActions.filter((a) => a === "reallocate")).toHaveLength(1);
    expect(keeperActions.filter((a) => a === "assign")).toHaveLength(1);
    expect(await pub.getContractEvents({ address: tm, abi: abis.TaskManager, eventName: "DrawScheduled", args: { taskId: id }, fromBlock: 0n })).toHaveLength(1);
  });

  it("dsmp task claim: too early is refused with the time it becomes possible, another account is refused; after the final deadline the submitter gets reward + fee back, once", async () => {
    const c = deployment.contracts;
    const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
    const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
    await pub.waitForTransactionReceipt({
      hash: await deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(7).address, parseEther("100")] }),
    });
    const common = ["--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile];
    const run = async (argv: string[], key = devPrivateKey(7)) => {
      const io = createMemoryIo();
      const code = await runCli([...argv, "--key", key, ...common], io);
      return { code, out: io.out(), err: io.err() };
    };
    // A task whose draw nobody runs (its submitter never sends `assign`): no committee can finish it, whatever the
    // runners do; it stays pending until its final deadline.
    const created = await createUndrawnTask({ rpcUrl: chain.rpcUrl, deployment, submitter: devAccount(7), n: 3, q: 3, reward: parseEther("2"), finalDeadlineIn: 60, label: "cli claim" });
    const taskId = created.taskId.toString();

    const early = await run(["task", "claim", taskId]);
    expect(early.code).toBe(1);
    expect(early.err).toMatch(new RegExp(`too early for task ${taskId}: possible after`));
    // Another account cannot take the refund.
    await pub.request({ method: "evm_increaseTime" as never, params: [120] as never });
    await pub.request({ method: "evm_mine" as never, params: [] as never });
    const stranger = await run(["task", "claim", taskId], devPrivateKey(8));
    expect(stranger.code).toBe(1);
    expect(stranger.err).toMatch(new RegExp(`did not submit task ${taskId}`));

    const token = { address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "balanceOf", args: [devAccount(7).address] } as const;
    const before = await pub.readContract(token);
    const info = await pub.readContract({ address: c.TaskManager!.address, abi: abis.TaskManager, functionName: "getTask", args: [BigInt(taskId)] });
    const claimed = await run(["task", "claim", taskId, "--json"]);
    expect(claimed.code, claimed.err).toBe(0);
    const out = JSON.parse(claimed.out) as { taskId: string; refunded: string; txHash: string };
    expect(String(out.taskId)).toBe(taskId);
    expect(BigInt(out.refunded)).toBe(info.reward + info.fee);
    expect(await pub.readContract(token)).toBe(before + info.reward + info.fee);
    const status = await run(["task", "status", taskId, "--json"]);
    expect(JSON.parse(status.out).status).toBe("refunded");
    const again = await run(["task", "claim", taskId]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/refunded/);
  });
});
