import { describe, expect, it } from "vitest";
import {
  ForbiddenImportError,
  InvalidModuleError,
  ModuleTooLargeError,
  SandboxMemoryLimitError,
  SandboxTimeoutError,
  SandboxTrapError,
} from "../errors.ts";
import { capMemory, readSections } from "./wasm-binary.ts";
import { runWasm } from "./wasm-sandbox.ts";
import { compileWat } from "./wat-compiler.ts";

/** The ABI's alloc at a fixed address, plus `body` as the run function's body. */
function abiModule(body: string, memory = "(memory (export \"memory\") 1)", extra = ""): string {
  return `(module ${extra} ${memory}
    (func (export "alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "run") (param $ptr i32) (param $len i32) (result i64) ${body}))`;
}

/** Echoes its input: output = (ptr, len). */
const ECHO = abiModule(`(i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len)))`);

const text = new TextEncoder();

describe("wasm sandbox", () => {
  it("runs a module through the ABI and returns its output bytes", async () => {
    const out = await runWasm(await compileWat(ECHO), text.encode("hello sandbox"));
    expect(new TextDecoder().decode(out)).toBe("hello sandbox");
  });

  it("gives bit-identical output on repeated runs", async () => {
    const wasm = await compileWat(ECHO);
    const input = new Uint8Array(10_000).map((_, i) => (i * 31) & 0xff);
    const [a, b] = await Promise.all([runWasm(wasm, input), runWasm(wasm, input)]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(input))).toBe(true);
  });

  // Each bad input fails with its own typed error, and the sandbox answers the next good run afterwards.
  const bad: { name: string; module: () => Promise<Uint8Array>; options?: Parameters<typeof runWasm>[2]; error: Function; reason: string }[] = [
    {
      name: "module over the size cap",
      module: () => compileWat(ECHO),
      options: { maxModuleBytes: 32 },
      error: ModuleTooLargeError,
      reason: "too-large",
    },
    { name: "invalid binary (random bytes)", module: async () => new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), error: InvalidModuleError, reason: "invalid" },
    {
      name: "invalid binary (right header, garbage body)",
      module: async () => new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff]),
      error: InvalidModuleError,
      reason: "invalid",
    },
    {
      name: "missing the ABI's run export",
      module: () => compileWat(`(module (memory (export "memory") 1) (func (export "alloc") (param i32) (result i32) (i32.const 0)))`),
      error: InvalidModuleError,
      reason: "invalid",
    },
    {
      name: "imports a host function (a clock)",
      module: () => compileWat(abiModule("(i64.const 0)", undefined, `(import "env" "now" (func (result i64)))`)),
      error: ForbiddenImportError,
      reason: "forbidden-import",
    },
    {
      name: "imports WASI",
      module: () => compileWat(abiModule("(i64.const 0)", undefined, `(import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))`)),
      error: ForbiddenImportError,
      reason: "forbidden-import",
    },
    {
      name: "loops forever",
      module: () => compileWat(abiModule("(loop $l (br $l)) (i64.const 0)")),
      options: { timeoutMs: 300 },
      error: SandboxTimeoutError,
      reason: "timeout",
    },
    {
      name: "grows memory without bound (traps when grow fails)",
      module: () => compileWat(abiModule("(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable")),
      options: { maxMemoryPages: 64 },
      error: SandboxMemoryLimitError,
      reason: "memory-limit",
    },
    {
      name: "declares a minimum memory over the cap",
      module: () => compileWat(abiModule("(i64.const 0)", `(memory (export "memory") 200)`)),
      options: { maxMemoryPages: 64 },
      error: SandboxMemoryLimitError,
      reason: "memory-limit",
    },
    {
      name: "traps (unreachable)",
      module: () => compileWat(abiModule("unreachable")),
      error: SandboxTrapError,
      reason: "trap",
    },
    {
      name: "returns an output span past the end of memory",
      module: () => compileWat(abiModule("(i64.const 0x0000ffff00100000)")),
      error: SandboxTrapError,
      reason: "trap",
    },
    {
      name: "recurses without end (stack overflow)",
      module: () => compileWat(`(module (memory (export "memory") 1)
        (func (export "alloc") (param i32) (result i32) (i32.const 0))
        (func $f (result i64) (call $f))
        (func (export "run") (param i32 i32) (result i64) (call $f)))`),
      error: SandboxTrapError,
      reason: "trap",
    },
  ];
  for (const c of bad) {
    it(`fails cleanly: ${c.name}`, async () => {
      const err = await runWasm(await c.module(), text.encode("input"), c.options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(c.error);
      expect((err as { reason: string }).reason).toBe(c.reason);
      // Still healthy: the next run works.
      const out = await runWasm(await compileWat(ECHO), text.encode("still ok"));
      expect(new TextDecoder().decode(out)).toBe("still ok");
    });
  }

  it("memory.grow past the cap returns -1 to the module (it may carry on deterministically)", async () => {
    // Grows one page at a time until refused, then returns the page count it reached as its output (4 bytes).
    const wasm = await compileWat(abiModule(`
      (block $full (loop $l (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) (br $l)))
      (i32.store (i32.const 0) (memory.size)) (i64.const 4)`));
    const out = await runWasm(wasm, new Uint8Array(0), { maxMemoryPages: 40 });
    expect(new DataView(out.buffer, out.byteOffset).getUint32(0, true)).toBe(40);
  });

  it("rejects at once when the signal is already aborted, and terminates a running module on abort", async () => {
    const wasm = await compileWat(abiModule("(loop $l (br $l)) (i64.const 0)"));
    await expect(runWasm(wasm, new Uint8Array(0), { signal: AbortSignal.abort(new Error("stop")) })).rejects.toThrow("stop");
    const controller = new AbortController();
    const running = runWasm(wasm, new Uint8Array(0), { signal: controller.signal, timeoutMs: 30_000 });
    setImmediate(() => controller.abort(new Error("cancelled")));
    await expect(running).rejects.toThrow("cancelled");
  });
});

describe("wasm binary: memory cap rewrite", () => {
  it("sets a maximum where none was declared and lowers one above the cap", async () => {
    for (const [decl, expected] of [["(memory 2)", 10], ["(memory 2 100)", 10], ["(memory 2 5)", 5]] as const) {
      const wasm = await compileWat(`(module ${decl.replace("(memory", '(memory (export "memory")')})`);
      const { bytes, declared } = capMemory(wasm, 10);
      expect(declared?.min).toBe(2);
      const again = capMemory(bytes, 1000).declared;
      expect(again).toEqual({ min: 2, max: expected });
      expect(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)).toBe(true);
    }
  });

  it("leaves modules without memory alone and reads their sections", async () => {
    const wasm = await compileWat(`(module (func (export "f")))`);
    expect(capMemory(wasm, 10).bytes).toBe(wasm);
    expect(readSections(wasm).map((s) => s.id)).toEqual([1, 3, 7, 10]);
  });
});
