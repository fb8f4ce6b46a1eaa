/**
 * Builds the example task modules: examples/<name>.wat → examples/<name>.wasm (gitignored), with the sha256
 * of each printed (the moduleHash a task names). Run by `npm run build`.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileWat } from "../worker/src/tasks/wat-compiler.ts";

const dir = join(import.meta.dirname, "..", "examples");
for (const file of readdirSync(dir).filter((f) => f.endsWith(".wat")).sort()) {
  const wasm = await compileWat(readFileSync(join(dir, file), "utf8"), file);
  const out = join(dir, file.replace(/\.wat$/, ".wasm"));
  writeFileSync(out, wasm);
  console.log(`${out}  ${wasm.length} bytes  sha256 0x${createHash("sha256").update(wasm).digest("hex")}`);
}
