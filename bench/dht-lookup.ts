/**
 * DHT provider lookup benchmark (issue "Xnode daemon"): time and hops of `findProviders` for a service CID in
 * networks of 16 / 32 / 64 DSMP libp2p nodes on loopback, spread over `--procs` child processes
 * (bench/dht-lookup-worker.ts) so that one event loop does not serialise every node's work. Baselines in the
 * same run: a libp2p ping round trip and a new connection (TCP + noise + yamux) between two processes.
 *
 * Run: node bench/dht-lookup.ts [--sizes 16,32,64] [--lookups 50] [--procs 4] [--alpha 10] [--disjoint-paths 10]
 *                               [--profile <dir>] [--out docs/benchmarks.md | --out -]
 *
 * Per N: N nodes on /ip4/127.0.0.1/tcp/0 (TCP only, LAN mode), node i in process i mod procs; node i dials
 * node 0 and two random earlier nodes; then rounds of random-key lookups from every node until every
 * routing table holds min(N − 1, k = 20) peers (or SETTLE_MAX_MS passes: reported); 3 random nodes provide
 * the CID; `--lookups` lookups from random non-provider nodes, one at a time. Hops come from the kad-dht
 * query events via the discovery query-stats collector (referral depth of the deepest answering peer).
 * `--profile <dir>` CPU-profiles every child during the lookups only (node:inspector; one
 * `dht-<N>-worker-<i>.cpuprofile` per process in <dir>, open in Chrome DevTools or summarise with
 * bench/cpuprofile-summary.ts).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { writeBenchmarkSection } from "./lib/benchmarks-doc.ts";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { KadTuning, Lookup, WorkerCommand } from "./dht-lookup-worker.ts";

const SECTION = "## DHT provider lookup";
const PROVIDERS = 3;
const PINGS = 50;
/** kad-dht's k: a routing table that holds min(N − 1, K) peers has settled enough for lookups to be representative. */
const K = 20;
const SETTLE_MAX_MS = 30_000;
/** Bound on one random-key lookup while settling: some stall on the last unresponsive peers; the table fills anyway. */
const SETTLE_ROUND_MS = 3_000;
const LOOKUP_TIMEOUT_MS = 10_000;
/** Bound on one provide; the peers that acknowledged by then hold the provider record. */
const PROVIDE_TIMEOUT_MS = 30_000;

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "16,32,64" },
    lookups: { type: "string", default: "50" },
    procs: { type: "string", default: "4" },
    alpha: { type: "string" },
    "disjoint-paths": { type: "string" },
    profile: { type: "string" },
    out: { type: "string", default: "docs/benchmarks.md" },
  },
});
const sizes = args.sizes.split(",").map((s) => Number.parseInt(s, 10));
const lookups = Number.parseInt(args.lookups, 10);
const procs = Number.parseInt(args.procs, 10);
const kad: KadTuning = {
  ...(args.alpha === undefined ? {} : { alpha: Number.parseInt(args.alpha, 10) }),
  ...(args["disjoint-paths"] === undefined ? {} : { disjointPaths: Number.parseInt(args["disjoint-paths"], 10) }),
};

interface Row {
  n: number;
  settleMs: number;
  settled: boolean;
  tableMin: number;
  tableAvg: number;
  pingP50: number;
  dialP50: number;
  results: Lookup[];
}

const log = (msg: string) => process.stdout.write(`${msg}\n`);

function pct(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** One child process and its share of the nodes. */
class Worker {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  readonly ready: Promise<void>;

  constructor(index: number) {
    this.child = fork(new URL("./dht-lookup-worker.ts", import.meta.url), [], { serialization: "advanced" });
    this.ready = new Promise((resolve, reject) => {
      this.child.once("error", reject);
      this.child.once("exit", (code) => reject(new Error(`worker ${index} exited with ${code}`)));
      this.child.on("message", (raw) => {
        const message = raw as { ready?: true; id?: number; result?: unknown; error?: string };
        if (message.ready === true) return resolve();
        const waiter = this.waiting.get(message.id!);
        this.waiting.delete(message.id!);
        if (message.error !== undefined) waiter?.reject(new Error(message.error));
        else waiter?.resolve(message.result);
      });
    });
  }

  call<T>(message: WorkerCommand): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, message });
    });
  }

  async stop(): Promise<void> {
    await this.call({ cmd: "stop" }).catch(() => undefined);
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.disconnect();
    await exited;
  }
}

interface NodeRef {
  worker: Worker;
  local: number;
  peerId: string;
  addr: string;
}

async function tableSizes(workers: Worker[], cmd: WorkerCommand): Promise<number[]> {
  return (await Promise.all(workers.map((w) => w.call<number[]>(cmd)))).flat();
}

/** Random-key lookups from every node until every table holds min(N − 1, K) peers, or the time bound. */
async function settle(workers: Worker[], n: number): Promise<{ ms: number; settled: boolean; sizes: number[] }> {
  const start = Date.now();
  const target = Math.min(n - 1, K);
  let sizes = await tableSizes(workers, { cmd: "tables" });
  for (let round = 1; Math.min(...sizes) < target && Date.now() - start < SETTLE_MAX_MS; round++) {
    sizes = await tableSizes(workers, { cmd: "settle", timeoutMs: SETTLE_ROUND_MS });
    log(`  settle round ${round}: routing table min ${Math.min(...sizes)} avg ${(sizes.reduce((a, b) => a + b, 0) / n).toFixed(1)} (target ${target}, ${Date.now() - start} ms)`);
  }
  return { ms: Date.now() - start, settled: Math.min(...sizes) >= target, sizes };
}

async function runSize(n: number): Promise<Row> {
  log(`N=${n}: starting ${n} nodes in ${procs} processes`);
  const t0 = Date.now();
  const workers = Array.from({ length: procs }, (_, i) => new Worker(i));
  try {
    await Promise.all(workers.map((w) => w.ready));
    const counts = workers.map((_, w) => Math.floor(n / procs) + (w < n % procs ? 1 : 0));
    const started = await Promise.all(workers.map((w, i) => w.call<{ peerId: string; addr: string }[]>({ cmd: "start", count: counts[i]!, kad })));
    // Global order: node i lives in process i mod procs.
    const refs: NodeRef[] = Array.from({ length: n }, (_, i) => {
      const worker = i % procs;
      const local = Math.floor(i / procs);
      const { peerId, addr } = started[worker]![local]!;
      return { worker: workers[worker]!, local, peerId, addr: `${addr}` };
    });
    // New-connection baseline before any link exists: node 0 dials nodes of the other processes.
    const dialMs = await refs[0]!.worker.call<number>({ cmd: "dialTime", node: refs[0]!.local, addrs: refs.filter((r) => r.worker !== refs[0]!.worker).map((r) => r.addr) });
    for (let i = 1; i < n; i++) {
      const earlier = new Set<number>([0]);
      while (earlier.size < Math.min(3, i)) earlier.add(randomInt(i));
      const failed = await refs[i]!.worker.call<string[]>({ cmd: "dial", node: refs[i]!.local, addrs: [...earlier].map((j) => refs[j]!.addr) });
      if (failed.length > 0) log(`  node ${i}: ${failed.length} of ${earlier.size} bootstrap dials failed (${failed.join(", ")})`);
    }
    log(`  started and linked in ${Date.now() - t0} ms`);

    const settled = await settle(workers, n);
    const pingMs = await refs[1]!.worker.call<number>({ cmd: "ping", node: refs[1]!.local, addr: refs[n - 1]!.addr, count: PINGS });
    log(`  ping p50 ${pingMs.toFixed(3)} ms, new connection p50 ${dialMs.toFixed(1)} ms`);

    const serviceId = String(n);
    const providers = new Set<number>();
    while (providers.size < PROVIDERS) providers.add(randomInt(n));
    for (const i of providers) {
      const acked = await refs[i]!.worker.call<number>({ cmd: "provide", node: refs[i]!.local, serviceId, timeoutMs: PROVIDE_TIMEOUT_MS });
      log(`  node ${i} provided (${acked} acks)`);
    }

    const candidates = refs.map((_, i) => i).filter((i) => !providers.has(i));
    const results: Lookup[] = [];
    if (args.profile !== undefined) await Promise.all(workers.map((w) => w.call({ cmd: "profileStart" })));
    for (let l = 0; l < lookups; l++) {
      const ref = refs[candidates[randomInt(candidates.length)]!]!;
      results.push(await ref.worker.call<Lookup>({ cmd: "lookup", node: ref.local, serviceId, timeoutMs: LOOKUP_TIMEOUT_MS }));
    }
    if (args.profile !== undefined) {
      await Promise.all(workers.map((w, i) => w.call({ cmd: "profileStop", file: `${args.profile}/dht-${n}-worker-${i}.cpuprofile` })));
    }
    log(`  ${lookups} lookups done`);
    return {
      n,
      settleMs: settled.ms,
      settled: settled.settled,
      tableMin: Math.min(...settled.sizes),
      tableAvg: settled.sizes.reduce((a, b) => a + b, 0) / n,
      pingP50: pingMs,
      dialP50: dialMs,
      results,
    };
  } finally {
    await Promise.allSettled(workers.map((w) => w.stop()));
  }
}

const f = (x: number, d = 1) => (Number.isNaN(x) ? "n/a" : x.toFixed(d));

function tables(rows: Row[]): string {
  const head1 =
    "| N | ⌈log₂N⌉ | found | local hit | first provider p50 / p90 / p99 ms | p50 × ping | hops to first p50 / max | remote-only first p50 / p90 ms, hops max | complete p50 / p99 ms | complete hops p50 / max | peers asked p50 | requests before first p50 | new connections before first p50 / max |";
  const sep1 = "|---|---|---|---|---|---|---|---|---|---|---|---|---|";
  const lines = rows.map((r) => {
    const found = r.results.filter((x) => x.firstMs !== undefined);
    const first = found.map((x) => x.firstMs!);
    const remote = found.filter((x) => !x.local);
    const firstHops = found.map((x) => x.firstHops!);
    const complete = r.results.map((x) => x.completeMs);
    const cHops = r.results.map((x) => x.completeHops);
    return (
      `| ${r.n} | ${Math.ceil(Math.log2(r.n))} | ${found.length}/${r.results.length} | ${found.length - remote.length}/${found.length} ` +
      `| ${f(pct(first, 50))} / ${f(pct(first, 90))} / ${f(pct(first, 99))} | ${f(pct(first, 50) / r.pingP50, 0)}× ` +
      `| ${pct(firstHops, 50)} / ${Math.max(...firstHops)} ` +
      `| ${remote.length === 0 ? "n/a (none)" : `${f(pct(remote.map((x) => x.firstMs!), 50))} / ${f(pct(remote.map((x) => x.firstMs!), 90))}, ${Math.max(...remote.map((x) => x.firstHops!))}`} ` +
      `| ${f(pct(complete, 50))} / ${f(pct(complete, 99))} | ${pct(cHops, 50)} / ${Math.max(...cHops)} | ${pct(r.results.map((x) => x.queried), 50)} ` +
      `| ${pct(found.map((x) => x.requestsToFirst), 50)} | ${pct(found.map((x) => x.newConnsToFirst), 50)} / ${Math.max(...found.map((x) => x.newConnsToFirst))} |`
    );
  });
  const head2 = "| N | settle ms | routing table min / avg (target min(N−1, 20)) | ping RTT p50 ms (baseline) | new connection p50 ms (TCP+noise+yamux) |";
  const sep2 = "|---|---|---|---|---|";
  const lines2 = rows.map((r) => `| ${r.n} | ${r.settleMs}${r.settled ? "" : " (bound hit)"} | ${r.tableMin} / ${f(r.tableAvg)} | ${f(r.pingP50, 3)} | ${f(r.dialP50)} |`);
  return [head1, sep1, ...lines, "", head2, sep2, ...lines2].join("\n");
}

const rows: Row[] = [];
const loadBefore = loadavg();
const started = Date.now();
for (const n of sizes) rows.push(await runSize(n));
const table = tables(rows);
log(`\n${table}\n\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);

const loadAfter = loadavg();
const tuning = `${args.alpha === undefined ? "" : ` --alpha ${args.alpha}`}${args["disjoint-paths"] === undefined ? "" : ` --disjoint-paths ${args["disjoint-paths"]}`}`;
const profiled = args.profile === undefined ? "" : ` --profile ${args.profile}`;
const command = `node bench/dht-lookup.ts --sizes ${args.sizes} --lookups ${lookups} --procs ${procs}${tuning}${profiled} --out ${args.out}`;
const machine =
  `${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.version}, loopback TCP, nodes spread over ${procs} processes; ` +
  `load average (1 min) ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after (shared machine)`;
if (args.out === "-") process.exit(0);
const section = [
  SECTION,
  "",
  `Command: \`${command}\`  `,
  `Date: ${new Date().toISOString().slice(0, 10)}  `,
  `Machine: ${machine}.`,
  "",
  table,
  "",
  "<!-- interpretation -->",
  "",
].join("\n");

// Keeps the hand-written interpretation paragraph across runs.
writeBenchmarkSection(args.out, SECTION, section);
log(`wrote ${args.out}`);
process.exit(0);
