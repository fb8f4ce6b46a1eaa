/**
 * Summarises V8 sampling heap profiles (`node bench/mesh-http.ts --alloc-profile <dir>`, which counts objects
 * the GC already collected too): bytes allocated by function (self) and by call path (inclusive, each function
 * counted once per stack), optionally per request.
 *
 * Run: node bench/heapprofile-summary.ts <file.heapprofile>... [--top 25] [--requests <n>]
 *
 * `--requests` divides by the number of requests the process handled (the benchmark prints the phases' counts),
 * giving bytes per request.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "25" }, requests: { type: "string" } } });
const top = Number.parseInt(values.top, 10);
const per = values.requests === undefined ? 1 : Number(values.requests);
const unit = values.requests === undefined ? "MB" : "bytes/request";
const scale = (bytes: number): string => (values.requests === undefined ? (bytes / 1e6).toFixed(2) : (bytes / per).toFixed(0));

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;

function label(node: HeapNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(worker|bench)\//, "$1/");
  return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
}

function walk(node: HeapNode, stack: string[]): void {
  const key = label(node);
  const path = [...stack, key];
  total += node.selfSize;
  if (node.selfSize > 0) {
    self.set(key, (self.get(key) ?? 0) + node.selfSize);
    for (const frame of new Set(path)) inclusive.set(frame, (inclusive.get(frame) ?? 0) + node.selfSize);
  }
  for (const child of node.children) walk(child, path);
}

for (const file of positionals) walk((JSON.parse(readFileSync(file, "utf8")) as { head: HeapNode }).head, []);

const print = (title: string, map: Map<string, number>): void => {
  console.log(`\n${title} (${unit})`);
  for (const [key, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${scale(bytes).padStart(10)}  ${((100 * bytes) / total).toFixed(1).padStart(5)} %  ${key}`);
  }
};
console.log(`${positionals.length} profile(s), ${scale(total)} ${unit} sampled`);
print("Allocated by function (self)", self);
print("Allocated under function (inclusive)", inclusive);
