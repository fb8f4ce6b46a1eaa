/**
 * Runs a task's WebAssembly module on an input, in a worker thread, deterministically (DESIGN §4.3,
 * docs/tasks.md "Sandbox"): no imports at all (so no WASI, clock, randomness or I/O), memory capped by
 * rewriting the module's maximum to a page cap, the thread's JS heap capped with `resourceLimits`, and a
 * wall-clock cap enforced by terminating the thread. Honest nodes running the same module on the same input
 * get bit-identical output (caveat: NaN bit patterns, see docs/tasks.md).
 *
 * ABI: the module exports `memory`, `alloc(len: i32) → i32` and `run(ptr: i32, len: i32) → i64`; the host
 * calls `alloc(input length)`, copies the input there, calls `run`, and reads the output at
 * `(result >> 32, result & 0xffffffff)` = (pointer, length).
 *
 * @example
 * const output = await runWasm(moduleBytes, input, { timeoutMs: 2_000, signal })
 */
import { Worker } from "node:worker_threads";
import {
  ForbiddenImportError,
  InvalidModuleError,
  ModuleTooLargeError,
  SandboxMemoryLimitError,
  SandboxTimeoutError,
  SandboxTrapError,
  type SandboxError,
} from "../errors.ts";
import { capMemory, WASM_PAGE_BYTES } from "./wasm-binary.ts";

/** Largest module accepted: 4 MiB. Task modules are small kernels; a cap bounds what a submitter makes every committee member fetch and compile. */
export const SANDBOX_MAX_MODULE_BYTES = 4 * 1024 * 1024;
/** Memory cap: 1 024 pages = 64 MiB of Wasm linear memory per run. Room for an image or a 1k×1k matrix; small enough to run a few tasks side by side on a modest Xnode. */
export const SANDBOX_MAX_MEMORY_PAGES = 1024;
/** Wall-clock cap per run: 10 s. Generous for the example kernels; a module that needs more asks for a larger task class. */
export const SANDBOX_TIMEOUT_MS = 10_000;
/** Largest output: 16 MiB. The output is hashed and kept for the submitter, never put on-chain. */
export const SANDBOX_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
/** JS heap of the thread (MiB): the thread holds only the module, the input and the output copy. */
export const SANDBOX_THREAD_HEAP_MB = 64;

export interface SandboxOptions {
  /** @default {@link SANDBOX_MAX_MODULE_BYTES} */
  maxModuleBytes?: number;
  /** @default {@link SANDBOX_MAX_MEMORY_PAGES} */
  maxMemoryPages?: number;
  /** @default {@link SANDBOX_TIMEOUT_MS} */
  timeoutMs?: number;
  /** @default {@link SANDBOX_MAX_OUTPUT_BYTES} */
  maxOutputBytes?: number;
  /** Aborting terminates the thread and rejects with the signal's reason. */
  signal?: AbortSignal;
}

const THREAD_URL = new URL("./wasm-sandbox-thread.ts", import.meta.url);

type ThreadMessage =
  | { ok: true; output: Uint8Array }
  | { ok: false; kind: "invalid" | "forbidden-import" | "memory-limit" | "trap"; message: string; imports?: string[] };

function toError(message: Extract<ThreadMessage, { ok: false }>): SandboxError {
  switch (message.kind) {
    case "invalid":
      return new InvalidModuleError(`invalid module: ${message.message}`);
    case "forbidden-import":
      return new ForbiddenImportError(message.imports ?? []);
    case "memory-limit":
      return new SandboxMemoryLimitError(`memory limit: ${message.message}`);
    case "trap":
      return new SandboxTrapError(`module trapped: ${message.message}`);
  }
}

/**
 * Runs `module` on `input` and returns its output.
 * @throws {ModuleTooLargeError} {@link InvalidModuleError} {@link ForbiddenImportError}
 *   {@link SandboxTimeoutError} {@link SandboxMemoryLimitError} {@link SandboxTrapError}, or the signal's reason.
 */
export async function runWasm(module: Uint8Array, input: Uint8Array, options: SandboxOptions = {}): Promise<Uint8Array> {
  const maxModuleBytes = options.maxModuleBytes ?? SANDBOX_MAX_MODULE_BYTES;
  const maxPages = options.maxMemoryPages ?? SANDBOX_MAX_MEMORY_PAGES;
  const timeoutMs = options.timeoutMs ?? SANDBOX_TIMEOUT_MS;
  const maxOutputBytes = options.maxOutputBytes ?? SANDBOX_MAX_OUTPUT_BYTES;
  options.signal?.throwIfAborted();
  if (module.length > maxModuleBytes) throw new ModuleTooLargeError(module.length, maxModuleBytes);
  const capped = capMemory(module, maxPages).bytes;

  return new Promise<Uint8Array>((resolve, reject) => {
    const thread = new Worker(THREAD_URL, {
      workerData: { module: capped, input, maxOutputBytes, maxPages },
      resourceLimits: { maxOldGenerationSizeMb: SANDBOX_THREAD_HEAP_MB, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      stdout: true,
      stderr: true,
      // The module's own memory lives outside the JS heap; its cap is the rewritten maximum.
      env: {},
    });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      fn();
      void thread.terminate();
    };
    const timer = setTimeout(() => finish(() => reject(new SandboxTimeoutError(timeoutMs))), timeoutMs);
    const onAbort = () => finish(() => reject(options.signal!.reason));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    thread.once("message", (message: ThreadMessage) => {
      finish(() => (message.ok ? resolve(new Uint8Array(message.output)) : reject(toError(message))));
    });
    thread.once("error", (err: Error & { code?: string }) => {
      finish(() =>
        reject(
          err.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? new SandboxMemoryLimitError(`sandbox thread ran out of its ${SANDBOX_THREAD_HEAP_MB} MiB heap`, { cause: err })
            : new SandboxTrapError(`sandbox thread failed: ${err.message}`, { cause: err }),
        ),
      );
    });
    thread.once("exit", (code) => finish(() => reject(new SandboxTrapError(`sandbox thread exited with code ${code} before answering`))));
  });
}

/** Bytes of Wasm memory the cap allows, for messages and docs. */
export function memoryCapBytes(maxPages = SANDBOX_MAX_MEMORY_PAGES): number {
  return maxPages * WASM_PAGE_BYTES;
}
