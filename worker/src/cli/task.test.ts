import { describe, expect, it } from "vitest";
import { createMemoryIo } from "./cli-io.ts";
import { runCli } from "./main.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { taskModuleProblem } from "../tasks/task-module-check.ts";

// Usage errors are caught before any file, node or chain is touched (exit 2, usage on stderr).
describe("dsmp task: usage", () => {
  const submit = ["task", "submit", "--module", "m.wasm", "--input", "in.bin"];
  const cases: { argv: string[]; err: RegExp }[] = [
    { argv: [...submit, "--reward", "1", "--n", "2", "--q", "3"], err: /--q/ },
    { argv: [...submit, "--reward", "1", "--n", "33"], err: /--n/ },
    { argv: [...submit, "--reward", "ten"], err: /--reward/ },
    { argv: ["task", "submit", "--input", "in.bin", "--reward", "1"], err: /--module/ },
    { argv: ["task", "status", "abc"], err: /<id>/ },
    { argv: ["task", "claim", "-1"], err: /<id>/ },
    { argv: ["task", "claim"], err: /id/ },
  ];
  for (const c of cases) {
    it(`rejects: ${c.argv.slice(2).join(" ")}`, async () => {
      const io = createMemoryIo();
      expect(await runCli(c.argv, io, { env: {} })).toBe(2);
      expect(io.err()).toMatch(c.err);
    });
  }

  it("a module that is not a task module is refused before anything is sent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dsmp-task-module-"));
    try {
      const text = join(dir, "README.md");
      writeFileSync(text, "# not wasm\n");
      const io = createMemoryIo();
      // No chain or node runs here: the refusal has to come first.
      expect(await runCli([...submit, "--reward", "1", "--module", text, "--input", text], io, { env: {} })).toBe(2);
      expect(io.err()).toMatch(/cannot run as a task: not a WebAssembly module/);
      // Valid WebAssembly without the ABI: an empty module ("\0asm", version 1).
      const empty = join(dir, "empty.wasm");
      writeFileSync(empty, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
      const io2 = createMemoryIo();
      expect(await runCli([...submit, "--reward", "1", "--module", empty, "--input", text], io2, { env: {} })).toBe(2);
      expect(io2.err()).toMatch(/does not export "memory"/);
      expect(taskModuleProblem(readFileSync("examples/fnv1a.wasm"))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a module file that cannot be read is a usage error naming it", async () => {
    const io = createMemoryIo();
    expect(await runCli([...submit, "--reward", "1", "--module", "/nonexistent/m.wasm"], io, { env: {} })).toBe(2);
    expect(io.err()).toContain("/nonexistent/m.wasm");
  });

  it("lists the task commands in --help", async () => {
    const io = createMemoryIo();
    expect(await runCli(["--help"], io, { env: {} })).toBe(0);
    for (const cmd of ["task submit", "task status", "task ls", "task watch", "task claim"]) expect(io.out()).toContain(cmd);
  });
});
