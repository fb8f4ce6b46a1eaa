import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HeaderPair } from "./http-frames.ts";
import { flattenHeaders, headerPairsFromRaw, HOP_BY_HOP_HEADERS, stripHopByHop } from "./http-headers.ts";

/** The rule written plainly (one Set of every name to drop): what the allocation-free version must match. */
function referenceStrip(pairs: readonly HeaderPair[], extra: readonly string[]): HeaderPair[] {
  const drop = new Set<string>([...HOP_BY_HOP_HEADERS, ...extra]);
  for (const [name, value] of pairs) {
    if (name === "connection") for (const token of value.split(",")) if (token.trim() !== "") drop.add(token.trim().toLowerCase());
  }
  return pairs.filter(([name]) => !drop.has(name));
}

describe("stripHopByHop", () => {
  const cases: Array<[string, HeaderPair[], string[], HeaderPair[]]> = [
    ["keeps end-to-end headers in order, duplicates included", [["a", "1"], ["set-cookie", "x"], ["set-cookie", "y"]], [], [["a", "1"], ["set-cookie", "x"], ["set-cookie", "y"]]],
    ["drops the RFC 9110 hop-by-hop list", [["connection", "close"], ["keep-alive", "5"], ["te", "trailers"], ["transfer-encoding", "chunked"], ["upgrade", "h2c"], ["a", "1"]], [], [["a", "1"]]],
    ["drops what `connection` names, case and spaces ignored", [["connection", "keep-alive, X-Drop ,,"], ["x-drop", "2"], ["x-keep", "3"]], [], [["x-keep", "3"]]],
    ["drops the extra names", [["host", "h"], ["x-dsmp-access", "t"], ["b", "2"]], ["host", "x-dsmp-access"], [["b", "2"]]],
    ["an empty list stays empty", [], ["host"], []],
  ];
  it.each(cases)("%s", (_name, pairs, extra, expected) => {
    expect(stripHopByHop(pairs, extra)).toEqual(expected);
  });

  it("agrees with the plain rule on any header list", () => {
    const name = fc.constantFrom("a", "b", "x-drop", "connection", "keep-alive", "host", "te", "set-cookie");
    const value = fc.oneof(fc.constantFrom("close", "x-drop", "A, X-DROP", " , b", "keep-alive"), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 10 }), fc.subarray(["host", "b"]), (pairs, extra) => {
        expect(stripHopByHop(pairs, extra)).toEqual(referenceStrip(pairs, extra));
      }),
      { numRuns: 500 },
    );
  });
});

describe("flattenHeaders / headerPairsFromRaw", () => {
  it("round-trip Node's raw header list, names lowercased", () => {
    expect(headerPairsFromRaw(["Host", "x", "Set-Cookie", "a", "set-cookie", "b"])).toEqual([["host", "x"], ["set-cookie", "a"], ["set-cookie", "b"]]);
    expect(flattenHeaders([["host", "x"], ["set-cookie", "a"], ["set-cookie", "b"]])).toEqual(["host", "x", "set-cookie", "a", "set-cookie", "b"]);
    expect(flattenHeaders([])).toEqual([]);
  });
});
