/**
 * Summarises V8 .cpuprofile files (e.g. from `node bench/dht-lookup.ts --profile <dir>`): self time by
 * package and by function, across all files given.
 *
 * Run: node bench/cpuprofile-summary.ts <file.cpuprofile>... [--top 25] [--from <ms> --to <ms>]
 *
 * `--from`/`--to` keep only samples taken in that window of CLOCK_MONOTONIC ms (V8 stamps samples with that
 * clock, in µs; `bench/mesh-http.ts --diag` prints phase starts on it), e.g. to see what every process did
 * during one latency spike.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "25" }, from: { type: "string" }, to: { type: "string" } } });
const from = values.from === undefined ? -Infinity : Number(values.from) * 1000;
const to = values.to === undefined ? Infinity : Number(values.to) * 1000;
const top = Number.parseInt(values.top, 10);
const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;

/** `node_modules/@scope/name` or `node_modules/name` of a URL; our sources by top folder; node internals. */
function packageOf(url: string): string {
  if (url === "") return "(native / idle / gc)";
  if (url.startsWith("node:")) return "node internals";
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match !== null) return match[1]!;
  const ours = /\/(worker|bench|scripts)\//.exec(url);
  return ours !== null ? `dsmp ${ours[1]}` : url;
}

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) return;
    const dt = (profile.timeDeltas[i] ?? 0) / 1000; // µs → ms
    const node = nodes.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    total += dt;
    byPackage.set(packageOf(url), (byPackage.get(packageOf(url)) ?? 0) + dt);
    const name = `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + dt);
  });
}

const print = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, ms] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)} %  ${name}\n`);
  }
};
process.stdout.write(`${positionals.length} profiles, ${total.toFixed(0)} ms sampled\n`);
print("Self time by package", byPackage);
print("Self time by function", byFunction);
