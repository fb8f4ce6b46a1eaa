/**
 * The gas report script keeps working and keeps covering every state-changing function: it deploys through
 * the real deploy script onto a `hardhat node`, drives each function, and exits non-zero if one was missed.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { Abi, AbiFunction } from "viem";
import { abis } from "../contracts/index.ts";

const run = promisify(execFile);
const ROOT = new URL("..", import.meta.url).pathname;

describe("scripts/gas-report.ts", () => {
  it("measures every state-changing function of every contract", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dsmp-gas-"));
    const out = join(dir, "gas.md");
    await run(process.execPath, [join(ROOT, "scripts/gas-report.ts"), "--out", out], { cwd: ROOT });
    const md = readFileSync(out, "utf8");
    rmSync(dir, { recursive: true, force: true });
    for (const [name, abi] of Object.entries(abis)) {
      const fns = (abi as Abi)
        .filter((x): x is AbiFunction => x.type === "function" && (x.stateMutability === "nonpayable" || x.stateMutability === "payable"))
        .map((f) => f.name);
      for (const fn of new Set(fns)) {
        const row = md.split("\n").find((l) => l.startsWith(`| \`${name}.${fn}\` |`));
        expect(row, `${name}.${fn} measured`).toBeDefined();
        const [, , calls, min, avg, max] = row!.split("|").map((c) => c.trim());
        expect(Number(calls)).toBeGreaterThan(0);
        expect(Number(min)).toBeGreaterThan(21_000);
        expect(Number(min)).toBeLessThanOrEqual(Number(avg));
        expect(Number(avg)).toBeLessThanOrEqual(Number(max));
      }
    }
    expect(md).not.toContain("**Not measured:**");
  });
});
