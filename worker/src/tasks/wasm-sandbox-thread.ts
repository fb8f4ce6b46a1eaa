/**
 * Body of the sandbox's worker thread (see wasm-sandbox.ts): compile, check the ABI, instantiate with no
 * imports, copy the input in, call `run`, copy the output out, post it back. One module run per thread;
 * the parent terminates the thread on timeout. No imports of the worker library: this file is loaded by
 * Node directly as the thread's entry point.
 */
import { parentPort, workerData } from "node:worker_threads";

interface ThreadInput {
  module: Uint8Array;
  input: Uint8Array;
  maxOutputBytes: number;
  maxPages: number;
}

type Failure = { kind: "invalid" | "forbidden-import" | "memory-limit" | "trap"; message: string; imports?: string[] };

function run(data: ThreadInput): { output: Uint8Array } | Failure {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(data.module);
  } catch (err) {
    return { kind: "invalid", message: (err as Error).message };
  }
  const imports = WebAssembly.Module.imports(module);
  if (imports.length > 0) {
    return { kind: "forbidden-import", message: "imports", imports: imports.map((i) => `${i.module}.${i.name} (${i.kind})`) };
  }
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  for (const [name, kind] of [["memory", "memory"], ["alloc", "function"], ["run", "function"]] as const) {
    if (exports.get(name) !== kind) return { kind: "invalid", message: `missing export "${name}" (${kind})` };
  }
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(module, {});
  } catch (err) {
    // Start functions and data segments run here: a trap is the module's fault, a link error cannot happen.
    return { kind: "trap", message: (err as Error).message };
  }
  const memory = instance.exports.memory as WebAssembly.Memory;
  const alloc = instance.exports.alloc as (len: number) => number;
  const runFn = instance.exports.run as (ptr: number, len: number) => bigint;
  // `memory.grow` refused at the cap returns -1 and modules then trap (allocators call `unreachable`). The
  // host cannot see the refused request, only the size reached: over half the cap means the next doubling
  // (the usual growth step) could not fit. It only names the reason; the task fails the same either way.
  const nearCap = () => memory.buffer.byteLength * 2 > data.maxPages * 65_536;
  try {
    const ptr = alloc(data.input.length) >>> 0;
    if (ptr + data.input.length > memory.buffer.byteLength) return { kind: "trap", message: `alloc returned ${ptr}, past the end of memory` };
    new Uint8Array(memory.buffer, ptr, data.input.length).set(data.input);
    const packed = BigInt.asUintN(64, runFn(ptr, data.input.length));
    const outPtr = Number(packed >> 32n);
    const outLen = Number(packed & 0xffff_ffffn);
    if (outLen > data.maxOutputBytes) return { kind: "trap", message: `output of ${outLen} bytes is over the ${data.maxOutputBytes}-byte cap` };
    if (outPtr + outLen > memory.buffer.byteLength) return { kind: "trap", message: `output span ${outPtr}+${outLen} is past the end of memory` };
    return { output: new Uint8Array(memory.buffer, outPtr, outLen).slice() };
  } catch (err) {
    const message = (err as Error).message;
    if (err instanceof WebAssembly.RuntimeError && nearCap()) {
      const pages = memory.buffer.byteLength / 65_536;
      return { kind: "memory-limit", message: `trapped with ${pages} of at most ${data.maxPages} memory pages in use: ${message}` };
    }
    if (err instanceof RangeError && /memory/i.test(message)) return { kind: "memory-limit", message };
    return { kind: "trap", message };
  }
}

const result = run(workerData as ThreadInput);
if ("output" in result) parentPort!.postMessage({ ok: true, output: result.output }, [result.output.buffer as ArrayBuffer]);
else parentPort!.postMessage({ ok: false, ...result });
