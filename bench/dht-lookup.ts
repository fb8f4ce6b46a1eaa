/**
 * DHT provider lookup benchmark (issue "Xnode daemon"): time and hops of `findProviders` for a service CID in
 * networks of 16 / 32 / 64 DSMP libp2p nodes on loopback, all in this process. Baseline in the same run: one
 * libp2p ping round trip on an established connection, so lookups also read as "× ping RTT".
 *
 * Run: node bench/dht-lookup.ts [--sizes 16,32,64] [--lookups 50] [--out docs/benchmarks.md]
 *
 * Per N: N nodes on /ip4/127.0.0.1/tcp/0 (TCP only, LAN mode), node i bootstraps to node 0 and two random
 * earlier nodes; the DHT settles (self queries plus rounds of random-key lookups, bounded); 3 random nodes
 * provide the CID; `--lookups` lookups from random non-provider nodes, one at a time. Hops come from the
 * kad-dht query events via the discovery query-stats collector (referral depth of the deepest answering peer).
 */
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import type { SingleKadDHT } from "@libp2p/kad-dht";
import { createQueryStatsCollector } from "../worker/src/discovery/query-stats.ts";
import { identityFromPrivateKey } from "../worker/src/identity/node-identity.ts";
import { serviceProviderCid } from "../worker/src/p2p/dht-keys.ts";
import { createDsmpLibp2p, type DsmpLibp2p } from "../worker/src/p2p/libp2p-node.ts";

const SECTION = "## DHT provider lookup";
const PROVIDERS = 3;
const PINGS = 50;
const SETTLE_MAX_MS = 18_000;
/** Bound on one random-key lookup while settling: some stall on the last unresponsive peers; the table fills anyway. */
const SETTLE_ROUND_MS = 1_500;
const LOOKUP_TIMEOUT_MS = 10_000;

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "16,32,64" },
    lookups: { type: "string", default: "50" },
    out: { type: "string", default: "docs/benchmarks.md" },
  },
});
const sizes = args.sizes.split(",").map((s) => Number.parseInt(s, 10));
const lookups = Number.parseInt(args.lookups, 10);

interface Lookup {
  /** ms to the first provider (undefined: none found). */
  firstMs?: number;
  /** Hops of the query when the first provider arrived (0: answered from the local provider store). */
  firstHops?: number;
  /** The first provider came from the node's own provider store (it is one of the k closest to the key). */
  local: boolean;
  /** ms until the query ended. */
  completeMs: number;
  /** Hops of the whole network query. */
  completeHops: number;
  /** Distinct remote peers the whole query asked. */
  queried: number;
  /** Requests, before the first provider arrived, to peers this node had no open connection to (a new dial each). */
  newConnsToFirst: number;
}

interface Row {
  n: number;
  settleMs: number;
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

function newKey(): Uint8Array {
  for (;;) {
    const secret = randomBytes(32);
    try {
      identityFromPrivateKey(secret);
      return secret;
    } catch {
      // out of range: draw again (probability ~2^-128)
    }
  }
}

async function startNetwork(n: number): Promise<DsmpLibp2p[]> {
  const nodes: DsmpLibp2p[] = [];
  for (let i = 0; i < n; i++) {
    const earlier = new Set<number>();
    if (i > 0) earlier.add(0);
    while (i > 1 && earlier.size < Math.min(3, i)) earlier.add(randomInt(i));
    const bootstrap = [...earlier].map((j) => `${nodes[j]!.libp2p.getMultiaddrs()[0]!.toString()}`);
    nodes.push(
      await createDsmpLibp2p({
        privateKey: identityFromPrivateKey(newKey()).privateKey,
        network: "lan",
        protocolPrefix: "/dsmp-bench",
        transports: ["tcp"],
        listen: ["/ip4/127.0.0.1/tcp/0"],
        bootstrap,
        bootstrapDialDelayMs: 10,
        dht: { initialQuerySelfIntervalMs: 10 },
      }),
    );
  }
  return nodes;
}

const tableSize = (node: DsmpLibp2p) => (node.libp2p.services.dht as SingleKadDHT).routingTable.size;

/** Random-key lookups from every node until routing tables stop growing (or the time bound). */
async function settle(nodes: DsmpLibp2p[]): Promise<number> {
  const start = Date.now();
  let previous = -1;
  for (let round = 1; Date.now() - start < SETTLE_MAX_MS; round++) {
    await Promise.all(
      nodes.map(async (node) => {
        try {
          for await (const _ of node.libp2p.services.dht.getClosestPeers(randomBytes(32), { signal: AbortSignal.timeout(SETTLE_ROUND_MS) }));
        } catch {
          // a timed-out round still fills tables
        }
      }),
    );
    const sizes = nodes.map(tableSize);
    const total = sizes.reduce((a, b) => a + b, 0);
    log(`  settle round ${round}: routing table min ${Math.min(...sizes)} avg ${(total / nodes.length).toFixed(1)} (${Date.now() - start} ms)`);
    if (total === previous && round >= 2) break;
    previous = total;
  }
  return Date.now() - start;
}

async function pingP50(a: DsmpLibp2p, b: DsmpLibp2p): Promise<number> {
  await a.libp2p.dial(b.peerId);
  const rtts: number[] = [];
  for (let i = 0; rtts.length < PINGS && i < PINGS * 4; i++) {
    const t0 = performance.now();
    try {
      await a.libp2p.services.ping.ping(b.peerId);
    } catch {
      // ping allows one outbound stream per connection; a DHT liveness ping may hold it: retry
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    if (i >= 5) rtts.push(performance.now() - t0); // the first 5 are warm-up
  }
  return pct(rtts, 50);
}

/** p50 time to open a new connection (TCP + noise + yamux) from `a` to peers it is not connected to. */
async function dialP50(a: DsmpLibp2p, others: DsmpLibp2p[]): Promise<number> {
  const times: number[] = [];
  for (const b of others) {
    if (a.libp2p.getConnections(b.peerId).length > 0) continue;
    const t0 = performance.now();
    try {
      const conn = await a.libp2p.dial(b.libp2p.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5_000) });
      times.push(performance.now() - t0);
      conn.abort(new Error("dial baseline"));
    } catch {
      // skip
    }
    if (times.length >= 10) break;
  }
  return pct(times, 50);
}

async function lookup(node: DsmpLibp2p, cid: ReturnType<typeof serviceProviderCid>): Promise<Lookup> {
  const stats = createQueryStatsCollector(node.peerId);
  const self = node.peerId.toString();
  const result: Lookup = { local: false, completeMs: 0, completeHops: 0, queried: 0, newConnsToFirst: 0 };
  const t0 = performance.now();
  try {
    for await (const event of node.libp2p.services.dht.findProviders(cid, { signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS) })) {
      stats.observe(event);
      if (event.name === "DIAL_PEER" && result.firstMs === undefined && node.libp2p.getConnections(event.peer).length === 0) {
        result.newConnsToFirst++;
      }
      if (event.name === "PROVIDER" && event.providers.length > 0 && result.firstMs === undefined) {
        result.firstMs = performance.now() - t0;
        result.local = event.from.toString() === self;
        result.firstHops = result.local ? 0 : stats.snapshot().hops;
      }
    }
  } catch {
    // timeout: record what was seen
  }
  result.completeMs = performance.now() - t0;
  const snap = stats.snapshot();
  result.completeHops = snap.hops;
  result.queried = snap.queried;
  return result;
}

async function stopNetwork(nodes: DsmpLibp2p[]): Promise<void> {
  for (const node of nodes) for (const conn of node.libp2p.getConnections()) conn.abort(new Error("benchmark done"));
  await Promise.allSettled(nodes.map((node) => node.stop()));
}

async function runSize(n: number): Promise<Row> {
  log(`N=${n}: starting ${n} nodes`);
  const t0 = Date.now();
  const nodes = await startNetwork(n);
  log(`  started in ${Date.now() - t0} ms`);
  try {
    const settleMs = await settle(nodes);
    const sizes = nodes.map(tableSize);
    const pingMs = await pingP50(nodes[1]!, nodes[n - 1]!);
    const dialMs = await dialP50(nodes[0]!, nodes.slice(1));
    log(`  ping p50 ${pingMs.toFixed(3)} ms, new connection p50 ${dialMs.toFixed(1)} ms`);

    const cid = serviceProviderCid({ chainId: 31337, registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3", serviceId: BigInt(n) });
    const providers = new Set<number>();
    while (providers.size < PROVIDERS) providers.add(randomInt(n));
    for (const i of providers) {
      for await (const _ of nodes[i]!.libp2p.services.dht.provide(cid, { signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS) }));
    }
    log(`  provided by nodes ${[...providers].join(", ")}`);

    const candidates = nodes.map((_, i) => i).filter((i) => !providers.has(i));
    const results: Lookup[] = [];
    for (let l = 0; l < lookups; l++) results.push(await lookup(nodes[candidates[randomInt(candidates.length)]!]!, cid));
    log(`  ${lookups} lookups done`);
    return {
      n,
      settleMs,
      tableMin: Math.min(...sizes),
      tableAvg: sizes.reduce((a, b) => a + b, 0) / n,
      pingP50: pingMs,
      dialP50: dialMs,
      results,
    };
  } finally {
    await stopNetwork(nodes);
  }
}

const f = (x: number, d = 1) => (Number.isNaN(x) ? "n/a" : x.toFixed(d));

function tables(rows: Row[]): string {
  const head1 =
    "| N | ⌈log₂N⌉ | found | local hit | first provider p50 / p90 / p99 ms | p50 × ping | hops to first p50 / max | remote-only first p50 ms / hops max | complete p50 / p99 ms | complete hops p50 / max | peers asked p50 | new connections to first p50 / max |";
  const sep1 = "|---|---|---|---|---|---|---|---|---|---|---|---|";
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
      `| ${remote.length === 0 ? "n/a (none)" : `${f(pct(remote.map((x) => x.firstMs!), 50))} / ${Math.max(...remote.map((x) => x.firstHops!))}`} ` +
      `| ${f(pct(complete, 50))} / ${f(pct(complete, 99))} | ${pct(cHops, 50)} / ${Math.max(...cHops)} | ${pct(r.results.map((x) => x.queried), 50)} | ${pct(found.map((x) => x.newConnsToFirst), 50)} / ${Math.max(...found.map((x) => x.newConnsToFirst))} |`
    );
  });
  const head2 = "| N | settle ms | routing table min / avg | ping RTT p50 ms (baseline) | new connection p50 ms (TCP+noise+yamux) |";
  const sep2 = "|---|---|---|---|---|";
  const lines2 = rows.map((r) => `| ${r.n} | ${r.settleMs} | ${r.tableMin} / ${f(r.tableAvg)} | ${f(r.pingP50, 3)} | ${f(r.dialP50)} |`);
  return [head1, sep1, ...lines, "", head2, sep2, ...lines2].join("\n");
}

const rows: Row[] = [];
const started = Date.now();
for (const n of sizes) rows.push(await runSize(n));
const table = tables(rows);
log(`\n${table}\n\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);

const command = `node bench/dht-lookup.ts --sizes ${args.sizes} --lookups ${lookups} --out ${args.out}`;
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.version}, loopback TCP, all nodes in one process`;
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

const header = "# Benchmarks\n\nLatest results of the benchmarks in `bench/` (see bench/README.md), each with the command that produced it.\n";
let doc = existsSync(args.out) ? readFileSync(args.out, "utf8") : header;
const at = doc.indexOf(SECTION);
if (at >= 0) {
  const next = doc.indexOf("\n## ", at + SECTION.length);
  const old = doc.slice(at, next < 0 ? undefined : next + 1);
  // keep a hand-written interpretation paragraph across runs
  const note = old.split("<!-- interpretation -->")[1];
  doc = doc.slice(0, at) + section.replace("<!-- interpretation -->\n", `<!-- interpretation -->${note?.trimEnd() ?? ""}\n`) + (next < 0 ? "" : doc.slice(next + 1));
} else {
  doc = `${doc.trimEnd()}\n\n${section}`;
}
writeFileSync(args.out, doc);
log(`wrote ${args.out}`);
process.exit(0);
