import { describe, expect, it } from "vitest";
import { createMemoryIo } from "./cli-io.ts";
import { runCli } from "./main.ts";

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
