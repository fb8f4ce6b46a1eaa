/**
 * What a submitter can check about a task module before escrowing a reward for it: it compiles as WebAssembly,
 * imports nothing and exports the task ABI (`memory`, `alloc`, `run`; docs/tasks.md). The committee's sandbox
 * (wasm-sandbox-thread.ts) applies the same rules, and a module that breaks them can only fail the round —
 * its reward then comes back to the submitter only after the task's final deadline.
 */

/** Why a module cannot run as a task, or `undefined` when it can. */
export function taskModuleProblem(bytes: Uint8Array): string | undefined {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (err) {
    return `not a WebAssembly module (${(err as Error).message})`;
  }
  const imports = WebAssembly.Module.imports(module);
  if (imports.length > 0) return `it imports ${imports.map((i) => `${i.module}.${i.name}`).join(", ")}; task modules may import nothing`;
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  for (const [name, kind] of [["memory", "memory"], ["alloc", "function"], ["run", "function"]] as const) {
    if (exports.get(name) !== kind) return `it does not export "${name}" (${kind}); task modules export memory, alloc and run`;
  }
  return undefined;
}
