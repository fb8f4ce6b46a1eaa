/**
 * Tasks through a 4-node devnet: a `hardhat node`, the deploy script, 4 Xnodes in this process with task runners
 * on the local Redis, and K tasks of a trivial module (examples/fnv1a.wat on a 1 KiB input, n = 4, q = 3)
 * submitted one after another with `dsmp task submit` logic (blobs to node 0, create, draw, assign, follow).
 * Prints tasks/minute and end-to-end latency (submit → finalized seen) p50 / p99.
 *
 *   node bench/tasks-devnet.ts [--tasks 10] [--concurrency 1]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";
import { createPublicClient, createWalletClient, http, parseEther, type Hex } from "viem";
import { hardhat } from "viem/chains";
import { abis } from "../contracts/index.ts";
import { deploy } from "../scripts/lib/deploy.ts";
import { devAccount, devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { startDevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { startHardhatNode } from "../scripts/lib/hardhat-node.ts";
import { stake } from "../worker/src/chain/actions/stake.ts";
import { createDsmpChainClient } from "../worker/src/chain/chain-client.ts";
import { createMemoryIo } from "../worker/src/cli/cli-io.ts";
import { runCli } from "../worker/src/cli/main.ts";
import { createSilentLogger } from "../worker/src/log.ts";
import { createTaskRunner, type TaskRunner } from "../worker/src/tasks/task-runner.ts";
import { compileWat } from "../worker/src/tasks/wat-compiler.ts";

const { values } = parseArgs({ options: { tasks: { type: "string", default: "10" }, concurrency: { type: "string", default: "1" } } });
const K = Number(values.tasks);
const C = Number(values.concurrency);
const root = mkdtempSync(join(tmpdir(), "dsmp-bench-tasks-"));
const chain = await startHardhatNode();
const runners: TaskRunner[] = [];
try {
  const outDir = join(root, "deployments");
  const deployment = await deploy({ rpcUrl: chain.rpcUrl, privateKey: devPrivateKey(0), outDir });
  const deploymentsFile = join(outDir, `${deployment.chainId}.json`);
  const net = await startDevnetXnodes({ rpcUrl: chain.rpcUrl, deployment, deploymentsFile, count: 4, rootDir: join(root, "nodes"), ephemeralPorts: true, logger: createSilentLogger() });
  const c = deployment.contracts;
  const pub = createPublicClient({ chain: hardhat, transport: http(chain.rpcUrl) });
  const deployer = createWalletClient({ chain: hardhat, transport: http(chain.rpcUrl), account: devAccount(0) });
  const mined = async (hash: Promise<Hex>) => pub.waitForTransactionReceipt({ hash: await hash });
  const prefix = `dsmp-bench:tasks:${randomUUID()}`;
  for (const [i, node] of net.nodes.entries()) {
    const operator = await createDsmpChainClient({ rpcUrl: chain.rpcUrl, deployment, account: devAccount(i + 1) });
    await mined(deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(i + 1).address, parseEther("5000")] }));
    await stake(operator, { amount: parseEther("5000") });
    await mined(deployer.sendTransaction({ to: node.identity.address, value: parseEther("100") }));
    const runner = createTaskRunner({
      chain: await createDsmpChainClient({ rpcUrl: chain.rpcUrl, deployment, account: node.identity.account }),
      taskManager: c.TaskManager!.address,
      fromBlock: BigInt(c.TaskManager!.blockNumber),
      redisUrl: process.env.DSMP_REDIS_URL ?? "redis://127.0.0.1:6379",
      queuePrefix: `${prefix}:${i}`,
      pollMs: 250,
      transmitStaggerMs: 2_000,
    })({ account: node.identity.account, pubsub: node.p2p.libp2p.services.pubsub, blobs: node.blobs.service, store: node.blobs.store, peers: () => node.p2p.libp2p.getPeers(), logger: createSilentLogger() });
    await runner.start();
    runners.push(runner);
  }
  const submitters = [...Array(C).keys()].map((j) => 10 + j);
  for (const s of submitters) await mined(deployer.writeContract({ address: c.OpenToken!.address, abi: abis.OpenToken, functionName: "transfer", args: [devAccount(s).address, parseEther("10000")] }));
  writeFileSync(join(root, "m.wasm"), await compileWat(readFileSync(join(import.meta.dirname, "..", "examples", "fnv1a.wat"), "utf8")));
  const latencies: number[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    submitters.map(async (s) => {
      while (next < K) {
        const k = next++;
        writeFileSync(join(root, `in-${k}`), `input ${k} `.repeat(100));
        const io = createMemoryIo();
        const t0 = performance.now();
        const code = await runCli(["task", "submit", "--module", join(root, "m.wasm"), "--input", join(root, `in-${k}`), "--n", "4", "--q", "3", "--reward", "1", "--commit-window", "30", "--reveal-window", "30", "--json", "--rpc-url", chain.rpcUrl, "--deployment", deploymentsFile, "--key", devPrivateKey(s), "--node-api", net.nodes[0]!.apiUrl], io);
        if (code !== 0 || JSON.parse(io.out()).status !== "finalized") throw new Error(`task ${k} failed: ${io.err()}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const minutes = (performance.now() - started) / 60_000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
  console.log(`| tasks | submitters | tasks/min | latency p50 ms | p99 ms | min ms | max ms |`);
  console.log(`|---|---|---|---|---|---|---|`);
  console.log(`| ${K} | ${C} | ${(K / minutes).toFixed(1)} | ${pct(50).toFixed(0)} | ${pct(99).toFixed(0)} | ${latencies[0]!.toFixed(0)} | ${latencies.at(-1)!.toFixed(0)} |`);
  for (const r of runners) await r.stop();
  await net.stop();
} finally {
  await chain.stop();
  rmSync(root, { recursive: true, force: true });
}
