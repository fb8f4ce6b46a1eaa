/**
 * Calls through the gateway of a real Xnode, side by side with the same calls made directly to the backend:
 * a `hardhat node`, the deploy script and 4 devnet Xnodes in this process (chain view, DHT discovery, access
 * policy, usage ledger, metrics, Open Observability — everything `bench/mesh-http.ts`'s bare gateway leaves
 * out), the public `echo` service served by nodes 0 and 1 and called through node 3's gateway. Closed loop at
 * `--concurrency` calls in flight, `--requests` per round, the two targets interleaved round by round. Prints
 * calls/s, latency p50/p99 and CPU µs per call of the whole process (nodes, backend and client together —
 * one process, so compare the two rows, not with mesh-http.ts's per-process figures).
 *
 *   node bench/xnode-gateway.ts [--requests 2000] [--concurrency 8] [--rounds 3] [--body 1024] [--out docs/benchmarks.md | --out -]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { deploy } from "../scripts/lib/deploy.ts";
import { devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { startDevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { startHardhatNode } from "../scripts/lib/hardhat-node.ts";
import { createSilentLogger } from "../worker/src/log.ts";
import { writeBenchmarkSection } from "./lib/benchmarks-doc.ts";

const SECTION = "## Gateway of a real Xnode (in-process devnet)";
const { values: args } = parseArgs({
  options: {
    requests: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    body: { type: "string", default: "1024" },
    out: { type: "string", default: "docs/benchmarks.md" },
  },
});
const requests = Number(args.requests);
const concurrency = Number(args.concurrency);
const rounds = Number(args.rounds);
const body = "a".repeat(Number(args.body));
const log = (line: string): void => console.error(line);

interface Result {
  callsPerSecond: number;
  cpuMicrosPerCall: number;
  p50: number;
  p99: number;
}

async function run(url: string, count: number): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        const t = performance.now();
        const res = await fetch(url, { method: "POST", body });
        const text = await res.text();
        if (res.status !== 200 || text.length !== body.length) throw new Error(`${url} answered ${res.status} with ${text.length} bytes`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { callsPerSecond: count / seconds, cpuMicrosPerCall: (used.user + used.system) / count, p50: at(0.5), p99: at(0.99) };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const loadBefore = loadavg().map((v) => v.toFixed(2)).join(", ");
const root = mkdtempSync(join(tmpdir(), "dsmp-bench-xnode-"));
const chain = await startHardhatNode();
try {
  const outDir = join(root, "deployments");
  const deployment = await deploy({ rpcUrl: chain.rpcUrl, privateKey: devPrivateKey(0), outDir });
  const net = await startDevnetXnodes({
    rpcUrl: chain.rpcUrl,
    deployment,
    deploymentsFile: join(outDir, `${deployment.chainId}.json`),
    count: 4,
    rootDir: join(root, "nodes"),
    ephemeralPorts: true,
    logger: createSilentLogger(),
    progress: log,
  });
  try {
    const echo = net.services.find((s) => s.name === "echo")!;
    const targets = [
      { name: "direct", url: `${net.echoUrl}/x` },
      { name: "xnode", url: `${net.nodes[3]!.gatewayUrl}/svc/${echo.id}/x` },
    ];
    // Until node 3 has discovered echo's providers, then a warm-up of both paths.
    for (;;) {
      const res = await fetch(targets[1]!.url, { method: "POST", body: "x" }).catch(() => undefined);
      if (res?.status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const t of targets) await run(t.url, Math.min(500, requests));
    const results = new Map<string, Result[]>(targets.map((t) => [t.name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const t of targets) {
        const r = await run(t.url, requests);
        results.get(t.name)!.push(r);
        log(`round ${round} ${t.name.padEnd(6)} ${r.callsPerSecond.toFixed(0)} calls/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.cpuMicrosPerCall.toFixed(0)} µs CPU per call`);
      }
    }
    const row = (name: string) => {
      const rs = results.get(name)!;
      return { callsPerSecond: median(rs.map((r) => r.callsPerSecond)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), cpu: median(rs.map((r) => r.cpuMicrosPerCall)), all: rs };
    };
    const direct = row("direct");
    const xnode = row("xnode");
    const list = (name: string, pick: (r: Result) => number, digits = 0): string => results.get(name)!.map((r) => pick(r).toFixed(digits)).join(", ");
    const section = [
      SECTION,
      "",
      `Command: \`node bench/xnode-gateway.ts --requests ${requests} --concurrency ${concurrency} --rounds ${rounds} --body ${args.body} --out ${args.out}\`  `,
      `Date: ${new Date().toISOString().slice(0, 10)}  `,
      `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? "?"}), Node ${process.version}; everything in one process (4 Xnodes, the echo backend, the client); load average before ${loadBefore}, after ${loadavg().map((v) => v.toFixed(2)).join(", ")}.`,
      "",
      `Closed loop, ${concurrency} calls in flight, ${requests} calls per round, ${args.body}-byte bodies, ${rounds} rounds interleaved (median; rounds in brackets).`,
      "",
      "| target | calls/s | p50 ms | p99 ms | CPU µs per call (whole process) |",
      "|---|---|---|---|---|",
      `| direct to the echo backend | ${direct.callsPerSecond.toFixed(0)} (${list("direct", (r) => r.callsPerSecond)}) | ${direct.p50.toFixed(2)} | ${direct.p99.toFixed(2)} | ${direct.cpu.toFixed(0)} (${list("direct", (r) => r.cpuMicrosPerCall)}) |`,
      `| through node 3's gateway → libp2p → node 0 or 1 → backend | ${xnode.callsPerSecond.toFixed(0)} (${list("xnode", (r) => r.callsPerSecond)}) | ${xnode.p50.toFixed(2)} | ${xnode.p99.toFixed(2)} | ${xnode.cpu.toFixed(0)} (${list("xnode", (r) => r.cpuMicrosPerCall)}) |`,
      "",
      `- Xnode path / direct: ${(xnode.cpu / direct.cpu).toFixed(2)}× the CPU per call, ${(xnode.callsPerSecond / direct.callsPerSecond).toFixed(2)}× the calls/s; mesh p50 − direct p50 = ${(xnode.p50 - direct.p50).toFixed(2)} ms`,
      "",
      "<!-- interpretation -->",
      "",
    ].join("\n");
    if (args.out === "-") console.log(section);
    else {
      writeBenchmarkSection(args.out, SECTION, section);
      log(`wrote ${args.out}`);
    }
  } finally {
    await net.stop();
  }
} finally {
  await chain.stop();
  rmSync(root, { recursive: true, force: true });
}
process.exit(0);
