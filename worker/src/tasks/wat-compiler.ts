/**
 * WebAssembly text → binary with the `wabt` package (a dev dependency): used by scripts/build-examples.ts
 * to build examples/*.wasm and by tests that need small hand-written modules. Not used at run time.
 */
import { createRequire } from "node:module";

type Wabt = {
  parseWat(filename: string, text: string): { toBinary(o: { write_debug_names?: boolean }): { buffer: Uint8Array }; destroy(): void };
};

let wabt: Promise<Wabt> | undefined;

/** Compiles WebAssembly text (`filename` is only for error messages). */
export async function compileWat(text: string, filename = "module.wat"): Promise<Uint8Array> {
  wabt ??= (createRequire(import.meta.url)("wabt") as () => Promise<Wabt>)();
  const module = (await wabt).parseWat(filename, text);
  try {
    return new Uint8Array(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}
