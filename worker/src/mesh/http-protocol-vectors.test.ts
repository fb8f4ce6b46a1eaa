/**
 * Test vectors of docs/protocol.md §5.10: each frame of the worked exchange is encoded here, decoded
 * back, and its hex dump must appear verbatim in the document, so the spec and the code cannot drift.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, type HttpFrame } from "./http-frames.ts";

const PROVIDER = "16Uiu2HAmMUjGmiUhJeiZgu6ZZnLRkE2VViR2JgjqtW9aTZnHQqgg";

/** The worked exchange: `GET /svc/1/hello?name=dsmp` and its answer, then a refused request. */
const EXAMPLE_FRAMES: ReadonlyArray<[title: string, frame: HttpFrame]> = [
  [
    "REQUEST_HEAD",
    {
      type: "request-head",
      requestId: 1,
      head: { method: "GET", path: "/hello?name=dsmp", headers: [["accept", "text/plain"]], serviceId: "1", deadline: 1767229200000 },
    },
  ],
  ["END (request)", { type: "end", requestId: 1 }],
  [
    "RESPONSE_HEAD",
    { type: "response-head", requestId: 1, head: { status: 200, headers: [["content-type", "text/plain"], ["x-dsmp-provider", PROVIDER]] } },
  ],
  ["BODY", { type: "body", requestId: 1, chunk: new TextEncoder().encode("hello dsmp") }],
  ["END (response)", { type: "end", requestId: 1 }],
  ["ERROR", { type: "error", requestId: 2, error: { code: "unknown-service", message: "service 2 is not served here" } }],
  ["RESET", { type: "reset", requestId: 300 }],
];

/** `hexdump -C` layout: offset, 16 bytes in two groups of 8, printable ASCII between bars. */
function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += 16) {
    const row = [...bytes.subarray(offset, offset + 16)];
    const hex = row.map((byte) => byte.toString(16).padStart(2, "0"));
    const left = hex.slice(0, 8).join(" ");
    const right = hex.slice(8).join(" ");
    const ascii = row.map((byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".")).join("");
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return lines.join("\n");
}

describe("docs/protocol.md §5.10 worked example", () => {
  const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");

  it.each(EXAMPLE_FRAMES)("%s is in the document and decodes back", (_title, frame) => {
    const bytes = encodeFrame(frame);
    expect(decodeFrame(bytes)).toEqual(frame);
    if (process.env.PRINT_VECTORS) console.log(`${_title}\n${hexDump(bytes)}`);
    expect(doc).toContain(hexDump(bytes));
  });
});

describe("docs/protocol.md §10.10 session example", () => {
  const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");

  it("WINDOW(1, 262144) is the 7 bytes the document gives", () => {
    const frame: HttpFrame = { type: "window", requestId: 1, increment: 262_144 };
    const bytes = encodeFrame(frame);
    const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
    expect(hex).toBe("06 07 01 00 04 00 00");
    expect(doc).toContain(`WINDOW, request 1, increment 262 144 (\`0x00040000\`): \`${hex}\``);
    expect(decodeFrame(bytes)).toEqual(frame);
  });
});
