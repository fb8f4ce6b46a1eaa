import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runWasm } from "./wasm-sandbox.ts";
import { compileWat } from "./wat-compiler.ts";

const examples = join(import.meta.dirname, "..", "..", "..", "examples");
const load = (name: string) => compileWat(readFileSync(join(examples, `${name}.wat`), "utf8"), `${name}.wat`);

/** JS references of the example modules. */
function fnv1a(input: Uint8Array): Uint8Array {
  let h = 0xcbf29ce484222325n;
  for (const byte of input) h = BigInt.asUintN(64, (h ^ BigInt(byte)) * 0x100000001b3n);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, h, true);
  return out;
}
function wordcount(input: Uint8Array): Uint8Array {
  const textBytes = Array.from(input);
  let words = 0;
  let inWord = false;
  for (const c of textBytes) {
    const space = c === 32 || (c >= 9 && c <= 13);
    if (!space && !inWord) words++;
    inWord = !space;
  }
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, words, true);
  view.setUint32(4, textBytes.filter((c) => c === 10).length, true);
  return out;
}
function matmulInput(n: number, a: number[], b: number[]): Uint8Array {
  const out = new Uint8Array(4 + 8 * n * n);
  const view = new DataView(out.buffer);
  view.setUint32(0, n, true);
  [...a, ...b].forEach((v, i) => view.setInt32(4 + 4 * i, v, true));
  return out;
}
function matmul(n: number, a: number[], b: number[]): Uint8Array {
  const out = new Uint8Array(4 * n * n);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum = (sum + Math.imul(a[i * n + k]!, b[k * n + j]!)) | 0;
      view.setInt32(4 * (i * n + j), sum, true);
    }
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("example modules match their JS references", () => {
  it("fnv1a: known vectors and random inputs", async () => {
    const wasm = await load("fnv1a");
    // Published FNV-1a 64 vectors (output little-endian): "" → cbf29ce484222325, "a" → af63dc4c8601ec8c.
    expect(hex(await runWasm(wasm, new Uint8Array(0)))).toBe("25232284e49cf2cb");
    expect(hex(await runWasm(wasm, new TextEncoder().encode("a")))).toBe("8cec01864cdc63af");
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200_000 }), async (input) => {
        expect(hex(await runWasm(wasm, input))).toBe(hex(fnv1a(input)));
      }),
      { numRuns: 8 },
    );
  });

  it("wordcount: words and lines", async () => {
    const wasm = await load("wordcount");
    expect(hex(await runWasm(wasm, new TextEncoder().encode("  the quick\tbrown\nfox \n")))).toBe(hex(wordcount(new TextEncoder().encode("  the quick\tbrown\nfox \n"))));
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 5_000 }), async (s) => {
        const input = new TextEncoder().encode(s);
        expect(hex(await runWasm(wasm, input))).toBe(hex(wordcount(input)));
      }),
      { numRuns: 8 },
    );
  });

  it("matmul: random matrices, wrapping arithmetic; a malformed input traps", async () => {
    const wasm = await load("matmul");
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 24 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.integer(), { minLength: n * n, maxLength: n * n }), fc.array(fc.integer(), { minLength: n * n, maxLength: n * n }))),
        async ([n, a, b]) => {
          expect(hex(await runWasm(wasm, matmulInput(n, a, b)))).toBe(hex(matmul(n, a, b)));
        },
      ),
      { numRuns: 8 },
    );
    await expect(runWasm(wasm, new Uint8Array([2, 0, 0, 0, 1]))).rejects.toMatchObject({ reason: "trap" });
  });
});
