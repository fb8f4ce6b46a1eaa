/**
 * Test vectors of docs/protocol.md §11.5: the worked report is signed here and every value the page shows must
 * match, and the documented message must open; the page and the code cannot drift apart.
 */
import { readFileSync } from "node:fs";
import { hashTypedData, keccak256, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { MetricReportInvalidError } from "../errors.ts";
import { METRIC_REPORT_MAX_BYTES, METRIC_REPORT_TYPES, observabilityDomain, observabilityTopic, openMetricReport, signMetricReport, type MetricReport } from "./metric-report.ts";
import { DEFAULT_REPORT_MAX_AGE_MS, DEFAULT_REPORT_MAX_SKEW_MS } from "./report-book.ts";

const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
const section = doc.slice(doc.indexOf("## 11. Open Observability reports"));
const example = section.slice(section.indexOf("### 11.5 Worked example"));
const key = /private key\s+`(0x[0-9a-f]{64})`/.exec(example)![1] as `0x${string}`;
const cell = (name: string) => new RegExp(`^\\| ${name} \\| \`([^\`]+)\` \\|$`, "m").exec(example)?.[1];
const blocks = [...example.matchAll(/```json\n(.*)\n```/g)].map((m) => m[1]!);
const registry = /XnodeRegistry\s+`(0x[0-9a-fA-F]{40})`/.exec(example)![1] as `0x${string}`;
const domain = { chainId: 31337, registry };

describe("docs/protocol.md §11.5 worked example", () => {
  it("the report string signs to the documented hash, digest, signature and message", async () => {
    const [reportText, message] = blocks;
    expect(example).toContain(`Report string (${Buffer.byteLength(reportText!)} bytes`);
    const report = JSON.parse(reportText!) as MetricReport;
    const signed = new TextDecoder().decode(await signMetricReport(privateKeyToAccount(key), registry, report));
    expect(signed).toBe(message);
    expect(keccak256(stringToBytes(reportText!))).toBe(cell("reportHash"));
    const digest = hashTypedData({ domain: observabilityDomain(domain), types: METRIC_REPORT_TYPES, primaryType: "MetricReport", message: { reportHash: cell("reportHash") as `0x${string}` } });
    expect(digest).toBe(cell("EIP-712 digest"));
    expect(JSON.parse(message!).signature).toBe(cell("signature"));
    expect(await openMetricReport(new TextEncoder().encode(message!), domain)).toEqual({ ...report, reporter: privateKeyToAccount(key).address });
  });

  it("states the topic, the size bound, the domain and the freshness bounds the code uses", () => {
    expect(section).toContain("`/dsmp/observability/1/<chainId>`");
    expect(observabilityTopic(31337)).toBe("/dsmp/observability/1/31337");
    expect(section).toContain(`at most ${METRIC_REPORT_MAX_BYTES.toLocaleString("en").replace(",", " ")} bytes`);
    expect(section).toContain('domain:  { name: "DSMP Observability", version: "1", chainId, verifyingContract: XnodeRegistry }');
    expect(observabilityDomain({ chainId: 1, registry })).toEqual({ name: "DSMP Observability", version: "1", chainId: 1, verifyingContract: registry });
    expect(section).toContain(`more than ${DEFAULT_REPORT_MAX_AGE_MS.toLocaleString("en").replace(",", " ")} ms before the receiver's clock / more than ${DEFAULT_REPORT_MAX_SKEW_MS.toLocaleString("en").replace(",", " ")} ms after`);
    // Every reason the code can give is in the table, and the table names no other.
    const reasons = [...section.matchAll(/^\| \d \| (.+?) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([a-z-]+)`/g)].map((r) => r[1]));
    expect(new Set(reasons)).toEqual(new Set(["too-large", "malformed", "wrong-chain", "unknown-reporter", "stale", "from-future", "replayed", "wrong-author", "bad-signature"]));
  });

  it("a receiver hashes the report string as received: the same report re-serialized with spaces fails", async () => {
    const message = JSON.parse(blocks[1]!) as { v: 1; report: string; signature: string };
    const spaced = JSON.stringify({ ...message, report: JSON.stringify(JSON.parse(message.report), null, 1) });
    const error = await openMetricReport(new TextEncoder().encode(spaced), domain).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetricReportInvalidError);
    expect((error as MetricReportInvalidError).reason).toBe("bad-signature");
  });
});
