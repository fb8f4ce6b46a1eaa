/**
 * Mesh HTTP data-plane benchmark (issue 4): the same backend reached three ways, side by side in one run —
 * directly, through a plain Node HTTP reverse proxy, and through gateway → libp2p (`/dsmp/mesh/1.0.0`
 * sessions) → provider. Every part is its own Node process (child_process.fork of this file with a
 * `--role`): backend, proxy, provider, gateway, and the load generator.
 *
 * Run: node bench/mesh-http.ts [--duration 10] [--rates 500,1000] [--concurrency 64] [--body 1024]
 *                              [--profile] [--out docs/benchmarks.md]
 *
 * Per target: a warm-up (`--warm-up-max` seconds of closed loop, default 3, then 2 s at 500/s), then open-loop
 * phases at each fixed rate (requests are sent on a schedule whatever the answers do, and latency counts from
 * the scheduled time, so queueing shows), then a
 * closed-loop max-throughput phase with `--concurrency` requests in flight. Each request POSTs `--body`
 * bytes and gets them echoed. Reported: p50/p90/p99/p99.9 latency, throughput, and CPU µs per request of
 * every process on the path (process.cpuUsage deltas over the phase). With `--profile` the gateway runs
 * under `--cpu-prof` and the top self-time functions of its profile are printed and written out.
 * `--rate-connections N` carries the open-loop phases over N keep-alive connections opened before each phase (as
 * fortio and wrk2 do) instead of opening a new one whenever none is free (the default, 0).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { writeBenchmarkSection } from "./lib/benchmarks-doc.ts";
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { ask, fmt, percentile, send, startChild, startEchoBackend, stopChild as stop, type Child, type Message } from "./lib/bench-children.ts";
import { machineSampler, reportDiag, startDiag, takeDiag, type Diag } from "./lib/phase-diag.ts";

const SECTION_BASE = "## Mesh HTTP data plane";
const SELF = fileURLToPath(import.meta.url);

const { values: args } = parseArgs({
  options: {
    role: { type: "string" },
    duration: { type: "string", default: "10" },
    rates: { type: "string", default: "500,1000" },
    concurrency: { type: "string", default: "64" },
    body: { type: "string", default: "1024" },
    profile: { type: "boolean", default: false },
    gateways: { type: "string", default: "1" },
    port: { type: "string" },
    out: { type: "string", default: "docs/benchmarks.md" },
    targets: { type: "string", default: "direct,proxy,mesh" },
    rounds: { type: "string", default: "1" },
    diag: { type: "boolean", default: false },
    "profile-all": { type: "string" },
    "trace-gc": { type: "boolean", default: false },
    "mesh-node-args": { type: "string", default: "" },
    "alloc-profile": { type: "string" },
    "max-load": { type: "string", default: "node" },
    "rate-connections": { type: "string", default: "0" },
    "warm-up-max": { type: "string", default: "3" },
    // Set by the orchestrator for the child roles.
    backend: { type: "string" },
    peer: { type: "string" },
    addrs: { type: "string" },
  },
});

/**
 * `--alloc-profile <dir>`: V8's sampling heap profiler in this child, counting objects the GC already collected
 * too (what `--heap-prof` leaves out), so the profile shows where the allocation — and so the scavenges — come
 * from. Written to `<dir>/<role>.heapprofile` at stop; summarise with `node bench/heapprofile-summary.ts`.
 */
async function startAllocationProfile(): Promise<(() => Promise<void>) | undefined> {
  const dir = process.env.DSMP_BENCH_ALLOC_PROFILE;
  if (dir === undefined || (args.role !== "gateway" && args.role !== "provider")) return undefined;
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return async () => {
    const { profile } = await session.post("HeapProfiler.stopSampling");
    writeFileSync(join(dir, `${String(args.role)}-${process.pid}.heapprofile`), JSON.stringify(profile));
  };
}

/** Answer the orchestrator's `cpu` and `stop` messages in every child. */
function serveControl(onStop: () => Promise<void> = async () => {}): void {
  if (process.env.DSMP_BENCH_DIAG === "1") startDiag();
  // An orchestrator that died (an exception, ^C) must not leave its children running and skewing the next run.
  process.on("disconnect", () => process.exit(0));
  const allocation = startAllocationProfile();
  process.on("message", (message: Message) => {
    if (message.type === "diag") {
      send({ type: "diag", ...takeDiag() });
    } else if (message.type === "cpu") {
      const usage = process.cpuUsage();
      send({ type: "cpu", micros: usage.user + usage.system });
    } else if (message.type === "stop") {
      void onStop()
        .then(async () => (await allocation)?.())
        .finally(() => process.exit(0));
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Roles

async function backendRole(): Promise<void> {
  const server = await startEchoBackend();
  serveControl();
  send({ type: "ready", port: (server.address() as AddressInfo).port });
}

async function proxyRole(backendPort: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const upstream = request(
      { host: "127.0.0.1", port: backendPort, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  serveControl();
  send({ type: "ready", port: (server.address() as AddressInfo).port });
}

async function meshNode() {
  const { createLibp2p } = await import("libp2p");
  const { tcp } = await import("@libp2p/tcp");
  const { noise } = await import("@chainsafe/libp2p-noise");
  const { yamux } = await import("@chainsafe/libp2p-yamux");
  const { identify } = await import("@libp2p/identify");
  const { YAMUX_MAX_STREAM_WINDOW_BYTES } = await import("../worker/src/p2p/libp2p-node.ts");
  const { withCoalescedWrites, withLazyWindowUpdates } = await import("../worker/src/p2p/connection-batching.ts");
  const { noiseCrypto } = await import("../worker/src/p2p/noise-crypto.ts");
  return createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [withCoalescedWrites(noise({ crypto: noiseCrypto }))],
    streamMuxers: [withLazyWindowUpdates(yamux({ streamOptions: { maxStreamWindowSize: YAMUX_MAX_STREAM_WINDOW_BYTES } }))],
    services: { identify: identify() },
  });
}

async function providerRole(backendPort: number): Promise<void> {
  const { createHttpProvider } = await import("../worker/src/mesh/provider-handler.ts");
  const node = await meshNode();
  const provider = createHttpProvider({ backends: new Map([[1n, new URL(`http://127.0.0.1:${backendPort}/`)]]) })({ libp2p: node });
  await provider.start();
  serveControl(async () => {
    await provider.stop();
    await node.stop();
  });
  send({ type: "ready", peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) });
}

async function gatewayRole(peerId: string, addrs: string[], port: number): Promise<void> {
  const { createGateway } = await import("../worker/src/mesh/gateway.ts");
  const { peerIdFromString } = await import("@libp2p/peer-id");
  const { multiaddr } = await import("@multiformats/multiaddr");
  const node = await meshNode();
  const provider = peerIdFromString(peerId);
  await node.peerStore.merge(provider, { multiaddrs: addrs.map((addr) => multiaddr(addr)) });
  const gateway = createGateway({ host: "127.0.0.1", port, reusePort: true })({ libp2p: node, resolveProviders: async () => [provider] });
  await gateway.start();
  serveControl(async () => {
    await gateway.stop();
    await node.stop();
  });
  send({ type: "ready", port: gateway.address().port });
}

interface PhaseResult {
  sent: number;
  ok: number;
  failed: number;
  seconds: number;
  latenciesMs: number[];
  /** With --diag: [wall ms scheduled, latency ms] per answered request. */
  timeline?: Array<[number, number]>;
  /** From wrk (`--max-load wrk`): its percentiles, ms, instead of raw latencies. */
  wrk?: { p50: number; p90: number; p99: number; p999: number };
}

/** Load generator: runs one phase per `run` message and answers with the raw latencies. */
async function loadRole(): Promise<void> {
  serveControl();
  process.on("message", (message: Message) => {
    if (message.type !== "run") return;
    void runPhase(message as unknown as PhaseSpec).then((result) => send({ type: "result", ...result }));
  });
  send({ type: "ready" });
}

interface PhaseSpec {
  url: string;
  /** Requests per second (open loop), or 0 for closed loop at `concurrency`. */
  rate: number;
  concurrency: number;
  /**
   * Open loop only: the keep-alive connections, all opened before the phase, that carry its requests (a request
   * due while every one is busy waits for one, its latency still counted from when it was due — as fortio and
   * wrk2 do). 0: no pool — a new connection whenever none is free, as a browser would (connection storms).
   */
  connections: number;
  seconds: number;
  bodyBytes: number;
}

async function runPhase(spec: PhaseSpec): Promise<PhaseResult> {
  const pooled = spec.rate > 0 && spec.connections > 0;
  const agent = new Agent({ keepAlive: true, maxSockets: pooled ? spec.connections : 1024, maxFreeSockets: 1024, scheduling: "lifo" });
  const body = Buffer.alloc(spec.bodyBytes, 0x61);
  const latenciesMs: number[] = [];
  const timeline: Array<[number, number]> | undefined = process.env.DSMP_BENCH_DIAG === "1" ? [] : undefined;
  let sent = 0;
  let ok = 0;
  let failed = 0;
  const one = (scheduled: number): Promise<void> =>
    new Promise<void>((resolve) => {
      sent += 1;
      const req = request(spec.url, { method: "POST", agent, headers: { "content-length": String(body.byteLength) } }, (res) => {
        let bytes = 0;
        res.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
        res.on("end", () => {
          if (res.statusCode === 200 && bytes === body.byteLength) {
            ok += 1;
            latenciesMs.push(performance.now() - scheduled);
            timeline?.push([performance.timeOrigin + scheduled, performance.now() - scheduled]);
          } else failed += 1;
          resolve();
        });
        res.on("error", () => (failed += 1, resolve()));
      });
      req.on("error", () => (failed += 1, resolve()));
      req.end(body);
    });
  if (pooled) {
    // Open the pool: `connections` requests at once, each on its own new connection, not counted.
    await Promise.all(Array.from({ length: spec.connections }, () => one(performance.now())));
    const open = Object.values(agent.freeSockets).reduce((sum, sockets) => sum + (sockets?.length ?? 0), 0);
    if (open !== spec.connections) throw new Error(`opened ${open} of ${spec.connections} connections`);
    sent = ok = failed = 0;
    latenciesMs.length = 0;
    if (timeline !== undefined) timeline.length = 0;
  }
  const started = performance.now();
  const end = started + spec.seconds * 1000;
  const inFlight = new Set<Promise<void>>();
  if (spec.rate > 0) {
    // Open loop: the n-th request is due at started + n / rate, whatever happened to the earlier ones.
    const interval = 1000 / spec.rate;
    let next = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = performance.now();
        while (started + next * interval <= Math.min(now, end)) {
          const promise = one(started + next * interval);
          inFlight.add(promise);
          void promise.finally(() => inFlight.delete(promise));
          next += 1;
        }
        if (now >= end) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
  } else {
    await Promise.all(
      Array.from({ length: spec.concurrency }, async () => {
        while (performance.now() < end) await one(performance.now());
      }),
    );
  }
  await Promise.allSettled([...inFlight]);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { sent, ok, failed, seconds, latenciesMs, ...(timeline === undefined ? {} : { timeline }) };
}

/**
 * `--max-load wrk`: the closed-loop max phase driven by wrk (C, one thread, epoll) instead of the Node load
 * generator, so the load costs ~10× less of the 2 cores the path shares and the maximum measures the path.
 * wrk has no open-loop mode, so the fixed-rate phases stay on the Node generator. Latencies come from wrk's
 * own histogram (printed by the Lua `done` hook, µs); requests that got no 2xx, or a body of the wrong
 * size, count as failed. Its CPU is read from the shell that waited for it (/proc/self/stat cutime + cstime).
 */
async function runWrkPhase(url: string, connections: number, seconds: number, bodyBytes: number): Promise<PhaseResult & { cpuMicros: number }> {
  const scriptDir = mkdtempSync(join(tmpdir(), "dsmp-wrk-"));
  const script = join(scriptDir, "post.lua");
  writeFileSync(
    script,
    [
      'wrk.method = "POST"',
      `wrk.body = string.rep("a", ${bodyBytes})`,
      `wrk.headers["Content-Type"] = "application/octet-stream"`,
      "local wrong = 0",
      `function response(status, headers, body) if status ~= 200 or #body ~= ${bodyBytes} then wrong = wrong + 1 end end`,
      "function done(summary, latency, requests)",
      '  local e = summary.errors',
      '  io.write(string.format("DSMP %d %d %d %f %f %f %f\\n", summary.requests, e.connect + e.read + e.write + e.timeout + e.status, summary.duration,',
      "    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))",
      "end",
    ].join("\n"),
  );
  // The wrapping shell's own stat, read after `wait`, holds the CPU of the children it waited for.
  const child = spawn("sh", ["-c", `{ wrk -t1 -c${connections} -d${seconds}s --timeout 10s -s ${script} ${url}; } 1>&2; cat /proc/$$/stat`], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  rmSync(scriptDir, { recursive: true, force: true });
  const line = stderr.split("\n").find((text) => text.startsWith("DSMP "));
  if (code !== 0 || line === undefined) throw new Error(`wrk failed (exit ${String(code)}): ${stderr.trim().slice(-500)} — install it with: apt-get install -y wrk`);
  const [requests, errors, durationMicros, p50, p90, p99, p999] = line.split(" ").slice(1).map(Number) as [number, number, number, number, number, number, number];
  // /proc/<pid>/stat: fields after the ")" of the command name; cutime and cstime are the 16th and 17th fields.
  const fields = stdout.slice(stdout.lastIndexOf(")") + 2).trim().split(" ");
  const ticks = Number(fields[13]) + Number(fields[14]);
  const seconds_ = durationMicros / 1e6;
  const ok = requests - errors;
  return {
    sent: requests,
    ok,
    failed: errors,
    seconds: seconds_,
    latenciesMs: [],
    wrk: { p50: p50 / 1000, p90: p90 / 1000, p99: p99 / 1000, p999: p999 / 1000 },
    cpuMicros: (ticks / 100) * 1e6,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Orchestrator


function start(name: string, role: string, extra: string[] = [], execArgv: string[] = []): Promise<Child> {
  const all = args["profile-all"] === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${args["profile-all"]}`, `--cpu-prof-name=${name}.cpuprofile`];
  // V8's one line per GC (on stderr) from the mesh's own processes: pause lengths and heap sizes over the run.
  const mesh = role === "gateway" || role === "provider";
  const traceGc = args["trace-gc"] && mesh ? ["--trace-gc"] : [];
  // Node/V8 flags for the mesh's own processes only, e.g. "--max-semi-space-size=64" (A/B of GC settings).
  const meshArgs = mesh ? args["mesh-node-args"].split(" ").filter(Boolean) : [];
  return startChild(name, SELF, ["--role", role, ...extra], [...process.execArgv, ...execArgv, ...all, ...traceGc, ...meshArgs]);
}

async function cpuOf(children: Child[]): Promise<number[]> {
  return Promise.all(children.map(async (child) => (await ask<{ type: "cpu"; micros: number }>(child, { type: "cpu" }, "cpu")).micros));
}

interface Row {
  target: string;
  phase: string;
  /** 1-based round; aggregated rows carry the number of rounds they summarise. */
  round: number;
  offered: string;
  throughput: number;
  ok: number;
  failed: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  /** CPU µs per request per process on the path, by process name. */
  cpu: Array<[string, number]>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One row per (target, phase): the median of its rounds' figures, ok and failed summed, in first-seen order. */
function aggregateRounds(rows: Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.target}\u0000${row.phase}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [row]);
    else group.push(row);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const of = (pick: (row: Row) => number): number => median(group.map(pick));
    return {
      ...first,
      round: group.length,
      throughput: of((row) => row.throughput),
      ok: group.reduce((sum, row) => sum + row.ok, 0),
      failed: group.reduce((sum, row) => sum + row.failed, 0),
      p50: of((row) => row.p50),
      p90: of((row) => row.p90),
      p99: of((row) => row.p99),
      p999: of((row) => row.p999),
      cpu: first.cpu.map(([name], index) => [name, of((row) => row.cpu[index]![1])] as [string, number]),
    };
  });
}


async function orchestrate(): Promise<void> {
  const seconds = Number(args.duration);
  const rates = args.rates.split(",").map(Number);
  const concurrency = Number(args.concurrency);
  const rateConnections = Number(args["rate-connections"]);
  const bodyBytes = Number(args.body);
  const log = (line: string): void => console.error(line);
  const loadText = (): string => loadavg().map((value) => value.toFixed(2)).join(", ");
  const loadBefore = loadText();
  if (args.diag) process.env.DSMP_BENCH_DIAG = "1";
  if (args["alloc-profile"] !== undefined) process.env.DSMP_BENCH_ALLOC_PROFILE = args["alloc-profile"];
  const wanted = new Set(args.targets.split(","));
  log(`load average (1, 5, 15 min) before the run: ${loadBefore}`);

  const backend = await start("backend", "backend");
  const backendPort = String(backend.ready.port);
  const proxy = await start("proxy", "proxy", ["--backend", backendPort]);
  const provider = await start("provider", "provider", ["--backend", backendPort]);
  // Only with --profile (its path is printed and the profile kept for a closer look).
  const profileDir = args.profile ? mkdtempSync(join(tmpdir(), "dsmp-mesh-prof-")) : "";
  // Extra gateway processes share the first one's port (SO_REUSEPORT): the kernel spreads connections.
  const gatewayCount = Math.max(1, Number(args.gateways));
  const SECTION = gatewayCount > 1 ? `${SECTION_BASE}, ${gatewayCount} gateway processes` : SECTION_BASE;
  const gatewayArgs = ["--peer", String(provider.ready.peerId), "--addrs", (provider.ready.addrs as string[]).join(",")];
  const gateway = await start("gateway", "gateway", gatewayArgs, args.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []);
  const gateways = [gateway];
  for (let index = 1; index < gatewayCount; index++) {
    gateways.push(await start(`gateway${index + 1}`, "gateway", [...gatewayArgs, "--port", String(gateway.ready.port)]));
  }
  const load = await start("load", "load");
  log(`processes up: backend :${backendPort}, proxy :${String(proxy.ready.port)}, gateway :${String(gateway.ready.port)}, provider ${String(provider.ready.peerId)}`);

  const targets: Array<{ name: string; url: string; path: Child[] }> = [
    { name: "direct", url: `http://127.0.0.1:${backendPort}/echo`, path: [backend] },
    { name: "proxy", url: `http://127.0.0.1:${String(proxy.ready.port)}/echo`, path: [proxy, backend] },
    { name: gatewayCount > 1 ? `mesh (${gatewayCount} gateways)` : "mesh", url: `http://127.0.0.1:${String(gateway.ready.port)}/svc/1/echo`, path: [...gateways, provider, backend] },
  ];
  const rows: Row[] = [];
  const phase = async (target: (typeof targets)[number], name: string, rate: number, phaseSeconds: number, record: boolean, round = 0): Promise<void> => {
    if (args.diag) await Promise.all([...target.path, load].map((child) => ask(child, { type: "diag" }, "diag")));
    const machine = args.diag ? machineSampler() : undefined;
    const useWrk = rate === 0 && args["max-load"] === "wrk";
    const before = await cpuOf([...target.path, load]);
    const result: PhaseResult & { cpuMicros?: number } = useWrk
      ? await runWrkPhase(target.url, concurrency, phaseSeconds, bodyBytes)
      : await ask<Message & PhaseResult>(load, { type: "run", url: target.url, rate, concurrency, connections: rateConnections, seconds: phaseSeconds, bodyBytes }, "result");
    const after = await cpuOf([...target.path, load]);
    if (useWrk) after[after.length - 1] = before[before.length - 1]! + result.cpuMicros!;
    const machineDiag = machine?.stop();
    if (!record) return;
    if (args.diag && result.timeline !== undefined) {
      const diags: Array<readonly [string, Diag]> = await Promise.all([...target.path, load].map(async (child) => [child.name, await ask<Message & Diag>(child, { type: "diag" }, "diag")] as const));
      if (machineDiag !== undefined) diags.push(["machine", machineDiag]);
      reportDiag(`${target.name} ${name}`, result.timeline, diags);
    }
    const sorted = result.latenciesMs.sort((a, b) => a - b);
    const completed = Math.max(1, result.ok + result.failed);
    const row: Row = {
      target: target.name,
      phase: name,
      round,
      offered: rate > 0 ? `${rate}/s` : `max (${concurrency} in flight${useWrk ? ", wrk" : ""})`,
      throughput: result.ok / result.seconds,
      ok: result.ok,
      failed: result.failed,
      p50: result.wrk?.p50 ?? percentile(sorted, 50),
      p90: result.wrk?.p90 ?? percentile(sorted, 90),
      p99: result.wrk?.p99 ?? percentile(sorted, 99),
      p999: result.wrk?.p999 ?? percentile(sorted, 99.9),
      cpu: [...target.path, load].map((child, index) => [useWrk && child === load ? "wrk" : child.name, (after[index]! - before[index]!) / completed]),
    };
    rows.push(row);
    log(
      `${row.target.padEnd(6)} ${row.offered.padEnd(20)} ${fmt(row.throughput, 0).padStart(6)} req/s  ok ${row.ok} failed ${row.failed}  ` +
        `p50 ${fmt(row.p50)} p90 ${fmt(row.p90)} p99 ${fmt(row.p99)} p99.9 ${fmt(row.p999)} ms  cpu µs/req ${row.cpu.map(([n, v]) => `${n} ${fmt(v, 0)}`).join(", ")}`,
    );
  };
  // Rounds interleave the targets phase by phase (direct, proxy, mesh at 500/s, then at 1 000/s, then max), so
  // each comparison is between runs seconds apart; the table shows the median of the rounds.
  const rounds = Math.max(1, Number(args.rounds));
  const chosen = targets.filter((target) => wanted.has(target.name.split(" ")[0]!));
  // Warm-up, not recorded: a closed-loop burst (V8 optimises the hot paths of every process on the path, as
  // hours of service would have), then 2 s at 500/s. Without the burst the first round's fixed-rate phases
  // measure the mesh processes' half-optimised code: ~390 µs per request in the gateway against ~290 µs once warm.
  const warmMaxSeconds = Number(args["warm-up-max"]);
  for (const target of chosen) {
    if (warmMaxSeconds > 0) await phase(target, "warm-up max", 0, warmMaxSeconds, false);
    await phase(target, "warm-up", 500, 2, false);
  }
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) log(`round ${round} of ${rounds}`);
    for (const rate of [...rates, 0]) {
      for (const target of chosen) await phase(target, rate > 0 ? `rate ${rate}` : "max", rate, seconds, true, round);
    }
  }
  await stop(load);
  for (const child of gateways) await stop(child);
  await Promise.all([stop(provider), stop(proxy), stop(backend)]);

  // Ratios against the baselines of the same run (of the same round, then their median over rounds).
  const table = aggregateRounds(rows);
  const find = (target: string, phaseName: string, round: number): Row | undefined =>
    rows.find((row) => row.target === target && row.phase === phaseName && row.round === round);
  const roundNumbers = Array.from({ length: rounds }, (_, index) => index + 1);
  const perRound = (rate: number | "max", value: (mesh: Row, proxyRow: Row, direct: Row) => number): number[] =>
    roundNumbers.flatMap((round) => {
      const phaseName = rate === "max" ? "max" : `rate ${rate}`;
      const [mesh, proxyRow, direct] = [find(targets[2]!.name, phaseName, round), find("proxy", phaseName, round), find("direct", phaseName, round)];
      return mesh && proxyRow && direct ? [value(mesh, proxyRow, direct)] : [];
    });
  const medianText = (values: number[], digits = 2): string =>
    values.length === 1 ? fmt(values[0]!, digits) : `${fmt(median(values), digits)} (rounds: ${values.map((v) => fmt(v, digits)).join(", ")})`;
  const ratios: string[] = [];
  for (const rate of rates) {
    const p99Ratio = perRound(rate, (mesh, proxyRow) => mesh.p99 / proxyRow.p99);
    if (p99Ratio.length === 0) continue;
    ratios.push(
      `at ${rate}/s: mesh p99 / proxy p99 = ${medianText(p99Ratio)}×, mesh p99 / direct p99 = ${medianText(perRound(rate, (mesh, _p, direct) => mesh.p99 / direct.p99))}×, ` +
        `mesh p50 − direct p50 = ${medianText(perRound(rate, (mesh, _p, direct) => mesh.p50 - direct.p50))} ms`,
    );
  }
  const meshMax = perRound("max", (mesh) => mesh.throughput);
  if (meshMax.length > 0) {
    ratios.push(
      `max: mesh ${medianText(meshMax, 0)} req/s = ${medianText(perRound("max", (mesh, proxyRow) => mesh.throughput / proxyRow.throughput))}× proxy, ` +
        `${medianText(perRound("max", (mesh, _p, direct) => mesh.throughput / direct.throughput))}× direct`,
    );
  }
  for (const line of ratios) log(line);
  const loadAfter = loadText();
  log(`load average (1, 5, 15 min) after the run: ${loadAfter}`);

  let profileLines: string[] = [];
  if (args.profile) {
    const file = readdirSync(profileDir).find((name) => name.endsWith(".cpuprofile"));
    if (file !== undefined) {
      profileLines = topCosts(JSON.parse(readFileSync(join(profileDir, file), "utf8")) as CpuProfile, 15);
      log(`gateway CPU profile (${join(profileDir, file)}), top self time:`);
      for (const line of profileLines) log(`  ${line}`);
    }
  }

  const command = `node bench/mesh-http.ts --duration ${seconds} --rates ${args.rates} --concurrency ${concurrency} --body ${bodyBytes} --gateways ${gatewayCount}${rounds > 1 ? ` --rounds ${rounds}` : ""}${args["max-load"] === "wrk" ? " --max-load wrk" : ""}${rateConnections > 0 ? ` --rate-connections ${rateConnections}` : ""}${args["warm-up-max"] !== "3" ? ` --warm-up-max ${args["warm-up-max"]}` : ""}${args.profile ? " --profile" : ""} --out ${args.out}`;
  const cpuHeader = (row: Row): string => row.cpu.map(([name, value]) => `${name} ${fmt(value, 0)}`).join(", ");
  const section = [
    SECTION,
    "",
    `Command: \`${command}\`  `,
    `Date: ${new Date().toISOString().slice(0, 10)}  `,
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? "?"}), Node ${process.version}, loopback TCP, one process per part. ` +
      `Load average (1, 5, 15 min) before the run ${loadBefore}, after it ${loadAfter} (the run itself adds ~2 on this machine).`,
    "",
    ...(rounds > 1 ? [`${rounds} rounds, targets interleaved phase by phase; each cell is the median over the rounds (ok / failed: the sum).`, ""] : []),
    "| target | offered load | req/s | ok / failed | p50 ms | p90 ms | p99 ms | p99.9 ms | CPU µs per request per process |",
    "|---|---|---|---|---|---|---|---|---|",
    ...table.map(
      (row) =>
        `| ${row.target} | ${row.offered} | ${fmt(row.throughput, 0)} | ${row.ok} / ${row.failed} | ${fmt(row.p50)} | ${fmt(row.p90)} | ${fmt(row.p99)} | ${fmt(row.p999)} | ${cpuHeader(row)} |`,
    ),
    "",
    ...ratios.map((line) => `- ${line}`),
    "",
    ...(profileLines.length > 0 ? ["Gateway CPU profile under the whole mesh run (`--cpu-prof`), top self time:", "", "```", ...profileLines, "```", ""] : []),
    "<!-- interpretation -->",
    "",
  ].join("\n");
  if (args.out === "-") {
    console.log(section);
    return;
  }
  writeBenchmarkSection(args.out, SECTION, section);
  log(`wrote ${args.out}`);
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time by function (name + file), the `top` of a .cpuprofile. */
function topCosts(profile: CpuProfile, count: number): string[] {
  const byNode = new Map<number, number>();
  profile.samples.forEach((id, index) => byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const micros = byNode.get(node.id) ?? 0;
    total += micros;
    const file = node.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/worker\//, "worker/");
    const key = `${node.callFrame.functionName || "(anonymous)"} ${file}${file === "" ? "" : `:${node.callFrame.lineNumber + 1}`}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  }
  return [...byFunction.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, micros]) => `${((100 * micros) / total).toFixed(1).padStart(5)} %  ${key}`);
}

// ---------------------------------------------------------------------------------------------------------

switch (args.role) {
  case undefined:
    await orchestrate();
    process.exit(0);
    break;
  case "backend":
    await backendRole();
    break;
  case "proxy":
    await proxyRole(Number(args.backend));
    break;
  case "provider":
    await providerRole(Number(args.backend));
    break;
  case "gateway":
    await gatewayRole(String(args.peer), String(args.addrs).split(","), Number(args.port ?? 0));
    break;
  case "load":
    await loadRole();
    break;
  default:
    throw new Error(`unknown role ${args.role}`);
}
