/**
 * Open-loop, per-process cost of one mesh request, for A/B of checkouts on a busy machine.
 *
 * Each checkout gets its own processes — echo backend, provider, gateway (code imported from that checkout,
 * libp2p nodes from its `mesh.fixture.ts`) and a load generator — and requests are paced at `--rate` per
 * second, one at a time (each alone in its event-loop turn, the case issue 4's open-loop targets measure).
 * Rounds alternate the checkouts. With `--serial` requests go strictly one at a time (the next at its
 * scheduled time or when the previous is answered, whichever is later): no two requests ever share an
 * event-loop turn, however loaded the machine, so the CPU per request is that of a request alone (an
 * open-loop phase that falls behind batches requests and looks cheaper per request). Prints CPU µs per request of the gateway and the provider
 * (`process.cpuUsage` deltas over the phase, after a warm-up).
 *
 * With `--count`, the gateway and provider are instrumented instead (their CPU numbers are then
 * meaningless) and print per-request counts that do not depend on the machine's load: socket writes
 * (`_writeGeneric`, i.e. libuv write requests) on the libp2p and HTTP sockets, `send()` per libp2p layer
 * (yamux stream → Noise → TCP), messages received per layer, yamux WINDOW_UPDATEs, timers, immediates,
 * nextTicks, promises and other async resources created, macrotask callbacks run, AbortControllers.
 *
 * With `--profile <dir>` the gateway and provider run under `--cpu-prof` (profiles in `<dir>`, named by part;
 * summarize with `node bench/cpuprofile-summary.ts <dir>/gateway-*.cpuprofile`).
 *
 * Run: node bench/mesh-open.ts <checkout> [<checkout> …] [--rate 1000] [--seconds 5] [--rounds 2] [--body 1024]
 *                              [--serial] [--count [--promises]] [--profile <dir>]
 */
import { createHook } from "node:async_hooks";
import { Agent, request } from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ask, percentile, send, startChild, startEchoBackend, stopChild as stop, type Child, type Message } from "./lib/bench-children.ts";

const SELF = fileURLToPath(import.meta.url);
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    role: { type: "string" },
    root: { type: "string" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "2" },
    body: { type: "string", default: "1024" },
    count: { type: "boolean", default: false },
    serial: { type: "boolean", default: false },
    promises: { type: "boolean", default: false },
    profile: { type: "string" },
    backend: { type: "string" },
    peer: { type: "string" },
    addrs: { type: "string" },
  },
});


// ---------------------------------------------------------------------------------------------------------
// Counters (gateway and provider with --count)

const counts = new Map<string, number>();
const bump = (key: string, by = 1): void => void counts.set(key, (counts.get(key) ?? 0) + by);

async function instrument(httpPorts: () => Set<number>): Promise<void> {
  const isHttp = (socket: net.Socket): boolean => httpPorts().has(socket.localPort ?? -1) || httpPorts().has(socket.remotePort ?? -1);
  const proto = net.Socket.prototype as unknown as { _writeGeneric: (...a: unknown[]) => unknown };
  const writeGeneric = proto._writeGeneric;
  proto._writeGeneric = function (this: net.Socket, ...rest: unknown[]) {
    bump(`socket write (${isHttp(this) ? "http" : "libp2p"})`);
    return writeGeneric.apply(this, rest);
  };
  const push = net.Socket.prototype.push;
  net.Socket.prototype.push = function (this: net.Socket, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null) bump(`socket read (${isHttp(this) ? "http" : "libp2p"})`);
    return push.call(this, chunk, encoding);
  };
  const { AbstractMessageStream } = await import("@libp2p/utils");
  const amsProto = AbstractMessageStream.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const method of ["send", "onData"]) {
    const original = amsProto[method]!;
    amsProto[method] = function (this: object, ...rest: unknown[]) {
      bump(`${method} ${this.constructor.name}`);
      return original.apply(this, rest);
    };
  }
  const { YamuxStream } = await import("@chainsafe/libp2p-yamux/stream");
  const ysProto = YamuxStream.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const handleWindowUpdate = ysProto.handleWindowUpdate!;
  ysProto.handleWindowUpdate = function (this: object, ...rest: unknown[]) {
    bump("yamux WINDOW_UPDATE received");
    return handleWindowUpdate.apply(this, rest);
  };
  const timers = globalThis as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ["setTimeout", "setImmediate", "setInterval", "queueMicrotask"]) {
    const original = timers[name]!;
    timers[name] = function (...rest: unknown[]) {
      bump(name);
      return original.apply(globalThis, rest);
    };
  }
  const nextTick = process.nextTick;
  process.nextTick = function (...rest: Parameters<typeof process.nextTick>) {
    bump("process.nextTick");
    return nextTick.apply(process, rest);
  } as typeof process.nextTick;
  const Original = globalThis.AbortController;
  globalThis.AbortController = class extends Original {
    constructor() {
      super();
      bump("new AbortController");
    }
  };
  const addEventListener = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (this: EventTarget, ...rest: Parameters<EventTarget["addEventListener"]>) {
    bump(`addEventListener on ${this.constructor.name} (${rest[0]})`);
    return addEventListener.apply(this, rest);
  };
  const dispatchEvent = EventTarget.prototype.dispatchEvent;
  EventTarget.prototype.dispatchEvent = function (this: EventTarget, event: Event) {
    bump(`dispatchEvent on ${this.constructor.name}`);
    return dispatchEvent.call(this, event);
  };
  globalThis.RangeError = new Proxy(RangeError, {
    construct: (target, list, newTarget) => (bump("RangeError created"), Reflect.construct(target, list, newTarget)),
    apply: (target, self, list) => (bump("RangeError created"), Reflect.apply(target, self, list)),
  });
  const any = AbortSignal.any;
  AbortSignal.any = (signals) => (bump("AbortSignal.any"), any.call(AbortSignal, signals));
  const timeout = AbortSignal.timeout;
  AbortSignal.timeout = (ms) => (bump("AbortSignal.timeout"), timeout.call(AbortSignal, ms));
  const types = new Map<number, string>();
  // A promise hook slows every await several times over (and so changes how requests batch): only with --promises.
  if (args.promises) createHook({ promiseResolve: () => bump("promises resolved") }).enable();
  createHook({
    init: (id, type) => {
      if (type !== "PROMISE") bump(`async init ${type}`);
      if (type !== "PROMISE") types.set(id, type);
    },
    // Macrotask callbacks (socket reads, timers, immediates, nextTicks…); promise reactions are not counted.
    before: (id) => {
      const type = types.get(id);
      if (type !== undefined) bump(`callbacks run: ${type}`);
    },
    destroy: (id) => void types.delete(id),
  }).enable();
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...rest: unknown[]) {
    bump("socket connect");
    return (connect as (...a: unknown[]) => net.Socket).apply(this, rest);
  } as typeof connect;
}

function serveControl(onStop: () => Promise<void> = async () => {}): void {
  // An orchestrator that died must not leave its children running and skewing the next run.
  process.on("disconnect", () => process.exit(0));
  process.on("message", (message: Message) => {
    if (message.type === "cpu") {
      const usage = process.cpuUsage();
      send({ type: "cpu", micros: usage.user + usage.system, system: usage.system, counts: Object.fromEntries(counts) });
    } else if (message.type === "stop") {
      void onStop().finally(() => process.exit(0));
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Roles

async function backendRole(): Promise<void> {
  const server = await startEchoBackend(() => bump("backend connections accepted"));
  serveControl();
  send({ type: "ready", port: (server.address() as AddressInfo).port });
}

/** A libp2p node built by the checkout's own test fixture (so a checkout's transport settings apply). */
async function checkoutNode(root: string) {
  const { TestNodes } = await import(`${root}/worker/src/mesh/mesh.fixture.ts`);
  const nodes = new TestNodes();
  const node = await nodes.start({ maxStreamWindowBytes: 4 * 1024 * 1024 });
  return { node, stop: () => nodes.stopAll() as Promise<void> };
}

async function providerRole(root: string, backendPort: number): Promise<void> {
  if (args.count) await instrument(() => new Set([backendPort]));
  const { createHttpProvider } = await import(`${root}/worker/src/mesh/provider-handler.ts`);
  const { node, stop } = await checkoutNode(root);
  const provider = createHttpProvider({ backends: new Map([[1n, new URL(`http://127.0.0.1:${backendPort}/`)]]) })({ libp2p: node });
  await provider.start();
  serveControl(async () => {
    await provider.stop();
    await stop();
  });
  send({ type: "ready", peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) });
}

async function gatewayRole(root: string, peerId: string, addrs: string[]): Promise<void> {
  let httpPort = -1;
  if (args.count) await instrument(() => new Set([httpPort]));
  const { createGateway } = await import(`${root}/worker/src/mesh/gateway.ts`);
  const { peerIdFromString } = await import("@libp2p/peer-id");
  const { multiaddr } = await import("@multiformats/multiaddr");
  const { node, stop } = await checkoutNode(root);
  const provider = peerIdFromString(peerId);
  await node.peerStore.merge(provider, { multiaddrs: addrs.map((addr) => multiaddr(addr)) });
  const gateway = createGateway({ host: "127.0.0.1", port: 0 })({ libp2p: node, resolveProviders: async () => [provider] });
  await gateway.start();
  httpPort = gateway.address().port;
  serveControl(async () => {
    await gateway.stop();
    await stop();
  });
  send({ type: "ready", port: httpPort });
}

interface PhaseSpec {
  url: string;
  rate: number;
  /** One request at a time: the next is sent at its scheduled time or when the previous one is answered, whichever is later. */
  serial: boolean;
  seconds: number;
  bodyBytes: number;
}

async function loadRole(): Promise<void> {
  serveControl();
  process.on("message", (message: Message) => {
    if (message.type === "run") void runPhase(message as unknown as PhaseSpec).then((result) => send({ type: "result", ...result }));
  });
  send({ type: "ready" });
}

/** Open loop: the n-th request is sent at start + n / rate whatever happened to the earlier ones. */
async function runPhase(spec: PhaseSpec): Promise<{ ok: number; failed: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const body = Buffer.alloc(spec.bodyBytes, 0x61);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const one = (scheduled: number): Promise<void> =>
    new Promise<void>((done) => {
      const req = request(spec.url, { method: "POST", agent, headers: { "content-length": String(body.byteLength) } }, (res) => {
        let bytes = 0;
        res.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
        res.on("end", () => {
          if (res.statusCode === 200 && bytes === body.byteLength) (ok += 1), latencies.push(performance.now() - scheduled);
          else failed += 1;
          done();
        });
      });
      req.on("error", () => ((failed += 1), done()));
      req.end(body);
    });
  const started = performance.now();
  const end = started + spec.seconds * 1000;
  const interval = 1000 / spec.rate;
  const pending: Array<Promise<void>> = [];
  let next = 0;
  if (spec.serial) {
    for (; ; next++) {
      const due = started + next * interval;
      if (due >= end) break;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((done) => setTimeout(done, wait));
      await one(Math.max(due, performance.now()));
    }
  } else await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      while (started + next * interval <= Math.min(now, end)) pending.push(one(started + next++ * interval));
      if (now >= end) done();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { ok, failed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

// ---------------------------------------------------------------------------------------------------------
// Orchestrator


function start(name: string, extra: string[], profile = false): Promise<Child> {
  const execArgv = profile && args.profile !== undefined ? [...process.execArgv, "--cpu-prof", `--cpu-prof-dir=${args.profile}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : process.execArgv;
  return startChild(name, SELF, extra, execArgv);
}

type Snapshot = { micros: number; system: number; counts: Record<string, number> };

async function runCheckout(root: string): Promise<{ cpu: Record<string, number>; system: Record<string, number>; counts: Record<string, Record<string, number>>; ok: number; failed: number; p50: number; p99: number }> {
  const count = args.count ? ["--count"] : [];
  const backend = await start("backend", ["--role", "backend"]);
  const backendPort = String(backend.ready.port);
  const provider = await start("provider", ["--role", "provider", "--root", root, "--backend", backendPort, ...count], true);
  const gateway = await start("gateway", ["--role", "gateway", "--root", root, "--peer", String(provider.ready.peerId), "--addrs", (provider.ready.addrs as string[]).join(","), ...count], true);
  const load = await start("load", ["--role", "load"]);
  const parts = [gateway, provider, backend, load];
  const spec = { url: `http://127.0.0.1:${String(gateway.ready.port)}/svc/1/echo`, rate: Number(args.rate), serial: args.serial, bodyBytes: Number(args.body) };
  await ask(load, { type: "run", ...spec, seconds: 1 }, "result"); // warm-up: session open, JIT
  const before = await Promise.all(parts.map((part) => ask<Message & Snapshot>(part, { type: "cpu" }, "cpu")));
  const result = await ask<Message & { ok: number; failed: number; p50: number; p99: number }>(load, { type: "run", ...spec, seconds: Number(args.seconds) }, "result");
  const after = await Promise.all(parts.map((part) => ask<Message & Snapshot>(part, { type: "cpu" }, "cpu")));
  const done = Math.max(1, result.ok + result.failed);
  const cpu: Record<string, number> = {};
  const system: Record<string, number> = {};
  const perPart: Record<string, Record<string, number>> = {};
  parts.forEach((part, index) => {
    cpu[part.name] = (after[index]!.micros - before[index]!.micros) / done;
    system[part.name] = (after[index]!.system - before[index]!.system) / done;
    const delta: Record<string, number> = {};
    for (const [key, value] of Object.entries(after[index]!.counts)) {
      const diff = (value - (before[index]!.counts[key] ?? 0)) / done;
      if (diff >= 0.005) delta[key] = diff;
    }
    perPart[part.name] = delta;
  });
  await stop(load);
  await stop(gateway);
  await Promise.all([stop(provider), stop(backend)]);
  return { cpu, system, counts: perPart, ok: result.ok, failed: result.failed, p50: result.p50, p99: result.p99 };
}

async function orchestrate(): Promise<void> {
  const roots = (positionals.length > 0 ? positionals : ["."]).map((root) => resolve(root));
  const load = (): string => loadavg().map((value) => value.toFixed(2)).join(" ");
  console.log(`${args.serial ? "one at a time, at most" : "open loop"} ${args.rate}/s for ${args.seconds} s, ${args.body} B bodies${args.count ? ", instrumented (counts; CPU meaningless)" : ""}; load before ${load()}`);
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const root of roots) {
      const result = await runCheckout(root);
      const cpu = Object.entries(result.cpu).map(([name, value]) => `${name} ${value.toFixed(0)} (sys ${result.system[name]!.toFixed(0)})`).join(", ");
      console.log(
        `round ${round}  ${root.padEnd(16)}  ok ${result.ok} failed ${result.failed}  p50 ${result.p50.toFixed(2)} p99 ${result.p99.toFixed(2)} ms  ` +
          `CPU µs/req: ${cpu}  (gateway+provider ${(result.cpu.gateway! + result.cpu.provider!).toFixed(0)})  load ${load()}`,
      );
      if (args.count) {
        for (const part of ["gateway", "provider", "backend"]) {
          console.log(`  ${part} per request:`);
          for (const [key, value] of Object.entries(result.counts[part]!).sort()) console.log(`    ${value.toFixed(2).padStart(8)}  ${key}`);
        }
      }
    }
  }
}

switch (args.role) {
  case undefined:
    await orchestrate();
    process.exit(0);
    break;
  case "backend":
    await backendRole();
    break;
  case "provider":
    await providerRole(String(args.root), Number(args.backend));
    break;
  case "gateway":
    await gatewayRole(String(args.root), String(args.peer), String(args.addrs).split(","));
    break;
  case "load":
    await loadRole();
    break;
  default:
    throw new Error(`unknown role ${args.role}`);
}
