/**
 * bench/mesh-http.ts --diag: a timeline per child process of event-loop lag and CPU time per 5 ms tick, GC pauses
 * and TCP connects, in wall-clock ms (performance.timeOrigin + now, comparable across processes); the machine's
 * CPU from /proc/stat; and a report of where a phase's slowest requests spent their time.
 */
import { createHook } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { fmt, percentile } from "./bench-children.ts";

/** One process's samples of a phase. */
export interface Diag {
  /** [wall ms at tick, lag ms beyond the 5 ms interval, CPU µs since the previous tick] */
  ticks: Array<[number, number, number]>;
  /** [wall ms at start, duration ms, kind] */
  gcs: Array<[number, number, number]>;
  /** wall ms at which a TCP handle (connection made or accepted) was created */
  conns?: number[];
}
/** This process's samples since the last `takeDiag`. */
const diag: Diag = { ticks: [], gcs: [], conns: [] };

/** Start sampling this process (a child of the benchmark run with DSMP_BENCH_DIAG=1). */
export function startDiag(): void {
  const wall = (): number => performance.timeOrigin + performance.now();
  let last = performance.now();
  let cpu = process.cpuUsage();
  setInterval(() => {
    const now = performance.now();
    const usage = process.cpuUsage();
    diag.ticks.push([performance.timeOrigin + now, now - last - 5, usage.user + usage.system - cpu.user - cpu.system]);
    last = now;
    cpu = usage;
  }, 5).unref();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      diag.gcs.push([performance.timeOrigin + entry.startTime, entry.duration, (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0]);
    }
  }).observe({ entryTypes: ["gc"] });
  createHook({ init: (_id, type) => void (type === "TCPCONNECTWRAP" && diag.conns!.push(wall())) }).enable();
}

/** The samples so far, cleared. */
export function takeDiag(): Diag {
  const taken = { ticks: diag.ticks.splice(0), gcs: diag.gcs.splice(0), conns: diag.conns!.splice(0) };
  return taken;
}

/** --diag: the whole machine's CPU (all cores, from /proc/stat, 10 ms resolution) as a Diag timeline. */
export function machineSampler(): { stop: () => Diag } {
  const ticks: Diag["ticks"] = [];
  // user nice system idle iowait irq softirq steal: busy = all but idle, iowait and steal, in µs (USER_HZ 100).
  const read = (): number[] => readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = (fields: number[]): number => (fields.reduce((sum, value) => sum + value, 0) - fields[3]! - fields[4]! - fields[7]!) * 10_000;
  let last = read();
  const timer = setInterval(() => {
    const now = read();
    // The lag slot carries the time stolen by the hypervisor (ms).
    ticks.push([performance.timeOrigin + performance.now(), (now[7]! - last[7]!) * 10, busy(now) - busy(last)]);
    last = now;
  }, 5);
  return { stop: () => (clearInterval(timer), { ticks, gcs: [] }) };
}

/** --diag: where the slowest requests of a phase spent their time, against each process's lag, CPU and GC. */
export function reportDiag(label: string, timeline: Array<[number, number]>, diags: ReadonlyArray<readonly [string, Diag]>): void {
  const log = (line: string): void => console.error(line);
  // A loop, not Math.min(...spread): a max-throughput phase has more entries than the call stack allows arguments.
  const start = timeline.reduce((min, [at]) => Math.min(min, at), Number.POSITIVE_INFINITY);
  const sorted = [...timeline].sort((a, b) => b[1] - a[1]);
  // CLOCK_MONOTONIC ms (the clock of V8's .cpuprofile timestamps, in µs there) of the phase start.
  const monoMinusWall = Number(process.hrtime.bigint()) / 1e6 - (performance.timeOrigin + performance.now());
  log(`--- diag ${label}: ${timeline.length} requests; phase start = monotonic ${fmt(start + monoMinusWall, 1)} ms`);
  for (const [name, d] of diags) {
    const lags = d.ticks.map(([, lag]) => lag).sort((a, b) => b - a);
    const gcTotal = d.gcs.reduce((sum, [, duration]) => sum + duration, 0);
    const gcMax = Math.max(0, ...d.gcs.map(([, duration]) => duration));
    const busy = d.ticks.filter(([, , cpu]) => cpu > 4500).length;
    log(
      `  ${name.padEnd(9)} ticks ${d.ticks.length} lag>2ms ${lags.filter((lag) => lag > 2).length} >10ms ${lags.filter((lag) => lag > 10).length} max ${fmt(lags[0] ?? 0)} ms; ` +
        `ticks with >90% CPU ${busy}; GC ${d.gcs.length}× total ${fmt(gcTotal)} ms max ${fmt(gcMax)} ms; TCP connects ${d.conns?.length ?? 0}` +
        `${(d.conns?.length ?? 0) > 0 ? ` (at t+ ${d.conns!.slice(0, 12).map((at) => fmt(at - start, 0)).join(",")}${d.conns!.length > 12 ? "…" : ""})` : ""}`,
    );
  }
  for (const [name, d] of diags) {
    const major = d.gcs.filter(([, , kind]) => kind !== 1);
    if (major.length > 0) log(`  ${name} non-scavenge GCs (t+ ms: duration, kind): ${major.map(([at, duration, kind]) => `${fmt(at - start, 0)}: ${fmt(duration, 1)} k${kind}`).join(", ")}`);
  }
  // Per second of the phase: latency p50 / p99 / max, and each process's CPU ms.
  const seconds = Math.ceil((timeline.reduce((max, [at]) => Math.max(max, at), start) - start) / 1000);
  for (let second = 0; second < seconds; second++) {
    const from = start + second * 1000;
    const latencies = timeline.filter(([at]) => at >= from && at < from + 1000).map(([, l]) => l).sort((a, b) => a - b);
    const cpuMs = diags.map(([name, d]) => [name, d.ticks.filter(([at]) => at >= from && at < from + 1000).reduce((sum, [, , c]) => sum + c, 0) / 1000] as const);
    const ours = cpuMs.filter(([name]) => name !== "machine").reduce((sum, [, ms]) => sum + ms, 0);
    const machineMs = cpuMs.find(([name]) => name === "machine")?.[1];
    const conns = diags.map(([name, d]) => [name, d.conns?.filter((at) => at >= from && at < from + 1000).length ?? 0] as const).filter(([, n]) => n > 0);
    log(
      `  s${second}: ${latencies.length} req p50 ${fmt(percentile(latencies, 50))} p99 ${fmt(percentile(latencies, 99))} max ${fmt(latencies.at(-1) ?? 0)} | cpu ms ` +
        `${cpuMs.filter(([name]) => name !== "machine").map(([name, ms]) => `${name.slice(0, 4)} ${fmt(ms, 0)}`).join(" ")}` +
        `${machineMs === undefined ? "" : ` others ${fmt(machineMs - ours, 0)}`} | connects ${conns.map(([name, n]) => `${name.slice(0, 4)} ${n}`).join(" ")}`,
    );
  }
  const slow = sorted.slice(0, Math.max(10, Math.ceil(timeline.length / 100)));
  // Group slow requests into bursts (scheduled within 50 ms of each other).
  slow.sort((a, b) => a[0] - b[0]);
  const bursts: Array<Array<[number, number]>> = [];
  for (const entry of slow) {
    const lastBurst = bursts.at(-1);
    if (lastBurst !== undefined && entry[0] - lastBurst.at(-1)![0] < 50) lastBurst.push(entry);
    else bursts.push([entry]);
  }
  for (const burst of bursts.slice(0, 12)) {
    const from = burst[0]![0];
    const to = Math.max(...burst.map(([at, latency]) => at + latency));
    const worst = Math.max(...burst.map(([, latency]) => latency));
    const parts = diags.map(([name, d]) => {
      const ticks = d.ticks.filter(([at]) => at >= from - 5 && at <= to + 5);
      const lag = Math.max(0, ...ticks.map(([, l]) => l));
      const cpu = ticks.reduce((sum, [, , c]) => sum + c, 0) / 1000;
      const gcs = d.gcs.filter(([at, duration]) => at + duration >= from && at <= to);
      return `${name} lag ${fmt(lag, 1)} cpu ${fmt(cpu, 1)}ms${gcs.length > 0 ? ` gc ${gcs.map(([, duration, kind]) => `${fmt(duration, 1)}(k${kind})`).join("+")}` : ""}`;
    });
    log(`  t+${fmt(from - start, 0)} ms: ${burst.length} slow, worst ${fmt(worst, 1)} ms over ${fmt(to - from, 0)} ms | ${parts.join(" | ")}`);
  }
  // The worst burst in 10 ms bins, from 30 ms before it: requests scheduled, their worst latency, and each
  // process's CPU ms and worst lag in the bin.
  const worstBurst = [...bursts].sort((a, b) => Math.max(...b.map(([, l]) => l)) - Math.max(...a.map(([, l]) => l)))[0];
  if (worstBurst !== undefined) {
    const from = worstBurst[0]![0] - 30;
    const to = Math.max(...worstBurst.map(([at, latency]) => at + latency)) + 10;
    log(`  worst burst in 10 ms bins (t+ ms: requests scheduled, worst latency | per process cpu ms / worst lag ms):`);
    for (let bin = from; bin < to; bin += 10) {
      const requests = timeline.filter(([at]) => at >= bin && at < bin + 10);
      const cells = diags.map(([name, d]) => {
        const ticks = d.ticks.filter(([at]) => at >= bin && at < bin + 10);
        const gcs = d.gcs.filter(([at, duration]) => at + duration >= bin && at < bin + 10);
        const conns = d.conns?.filter((at) => at >= bin && at < bin + 10).length ?? 0;
        return `${name.slice(0, 4)} ${fmt(ticks.reduce((sum, [, , c]) => sum + c, 0) / 1000, 1)}/${fmt(Math.max(0, ...ticks.map(([, l]) => l)), 1)}${gcs.length > 0 ? " GC" : ""}${conns > 0 ? ` +${conns}conn` : ""}`;
      });
      log(`    t+${fmt(bin - start, 0)}: ${requests.length} req, worst ${fmt(Math.max(0, ...requests.map(([, l]) => l)), 1)} | ${cells.join(" | ")}`);
    }
  }
}
