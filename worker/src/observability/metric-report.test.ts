import { describe, expect, it } from "vitest";
import { privateKeyToAccount } from "viem/accounts";
import { keccak256, stringToBytes, hashTypedData } from "viem";
import { MetricReportInvalidError } from "../errors.ts";
import { METRIC_REPORT_MAX_BYTES, METRIC_REPORT_TYPES, observabilityDomain, observabilityTopic, openMetricReport, signMetricReport, type MetricReport } from "./metric-report.ts";

const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const bob = privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
const CHAIN = 31337;

const report = (over: Partial<MetricReport> = {}): MetricReport => ({
  chainId: CHAIN,
  reporter: alice.address,
  windowStart: 1_700_000_000_000,
  windowEnd: 1_700_000_005_000,
  services: [{ serviceId: "1", requests: 10, errors: 1, p50Ms: 1.5, p99Ms: 9 }],
  probes: [{ node: bob.address, sent: 3, ok: 2, rttMs: 0.8 }],
  ...over,
});

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(MetricReportInvalidError);
  return (error as MetricReportInvalidError).reason;
}

describe("metric report codec", () => {
  it("round-trips a signed report", async () => {
    const signed = await signMetricReport(alice, report());
    expect(await openMetricReport(signed, CHAIN)).toEqual(report());
    expect(observabilityTopic(CHAIN)).toBe("/dsmp/observability/1/31337");
  });

  it("signs EIP-712 MetricReport(bytes32 reportHash) over the exact report text (docs/protocol.md §10.2)", async () => {
    const envelope = JSON.parse(text(await signMetricReport(alice, report()))) as { v: number; report: string; signature: `0x${string}` };
    expect(envelope.v).toBe(1);
    const digest = hashTypedData({ domain: observabilityDomain(CHAIN), types: METRIC_REPORT_TYPES, primaryType: "MetricReport", message: { reportHash: keccak256(stringToBytes(envelope.report)) } });
    expect(await alice.sign({ hash: digest })).toBe(envelope.signature);
  });

  it("refuses to sign a report of another node", async () => {
    await expect(signMetricReport(bob, report())).rejects.toThrow(/signed by/);
  });

  it.each<[string, (envelope: { v: number; report: string; signature: string }) => unknown, string]>([
    ["not JSON", () => "{nope", "malformed"],
    ["an unknown envelope field", (e) => ({ ...e, extra: 1 }), "malformed"],
    ["version 2", (e) => ({ ...e, v: 2 }), "malformed"],
    ["a report that is not JSON", (e) => ({ ...e, report: "not json" }), "malformed"],
    ["a short signature", (e) => ({ ...e, signature: "0x1234" }), "malformed"],
    ["a report field changed after signing", (e) => ({ ...e, report: e.report.replace('"requests":10', '"requests":11') }), "bad-signature"],
    ["another node's signature", (e) => ({ ...e, signature: "0x" + "11".repeat(65) }), "bad-signature"],
  ])("rejects %s", async (_name, mutate, reason) => {
    const envelope = JSON.parse(text(await signMetricReport(alice, report()))) as { v: number; report: string; signature: string };
    expect(await reasonOf(openMetricReport(bytes(mutate(envelope)), CHAIN))).toBe(reason);
  });

  it.each<[string, Partial<MetricReport> | Record<string, unknown>]>([
    ["errors above requests", { services: [{ serviceId: "1", requests: 1, errors: 2 }] }],
    ["a negative count", { probes: [{ node: bob.address, sent: -1, ok: 0 }] }],
    ["ok above sent", { probes: [{ node: bob.address, sent: 1, ok: 2 }] }],
    ["p50 above p99", { services: [{ serviceId: "1", requests: 2, errors: 0, p50Ms: 5, p99Ms: 1 }] }],
    ["service id 0", { services: [{ serviceId: "0", requests: 0, errors: 0 }] }],
    ["a duplicated service", { services: [{ serviceId: "1", requests: 0, errors: 0 }, { serviceId: "1", requests: 0, errors: 0 }] }],
    ["a duplicated probe target", { probes: [{ node: bob.address, sent: 1, ok: 1 }, { node: bob.address.toLowerCase(), sent: 1, ok: 0 }] }],
    ["an empty window", { windowStart: 5, windowEnd: 5 }],
    ["a window of an hour", { windowStart: 0, windowEnd: 3_600_000 }],
    ["an unknown field", { extra: true }],
  ])("rejects a signed report with %s as malformed", async (_name, over) => {
    const signed = await signMetricReport(alice, report(over as Partial<MetricReport>));
    expect(await reasonOf(openMetricReport(signed, CHAIN))).toBe("malformed");
  });

  it("rejects a report for another chain, and a report signed for another chain's domain", async () => {
    expect(await reasonOf(openMetricReport(await signMetricReport(alice, report({ chainId: 1 })), CHAIN))).toBe("wrong-chain");
    // Same report text claiming this chain, but signed under chain 1's domain: replaying it here fails.
    const onOne = JSON.parse(text(await signMetricReport(alice, report({ chainId: 1 })))) as { report: string; signature: string };
    const claimed = JSON.stringify({ ...(JSON.parse(onOne.report) as object), chainId: CHAIN });
    expect(await reasonOf(openMetricReport(bytes({ v: 1, report: claimed, signature: onOne.signature }), CHAIN))).toBe("bad-signature");
  });

  it("rejects oversized and non-UTF-8 messages before parsing", async () => {
    expect(await reasonOf(openMetricReport(new Uint8Array(METRIC_REPORT_MAX_BYTES + 1), CHAIN))).toBe("too-large");
    expect(await reasonOf(openMetricReport(new Uint8Array([0xff, 0xfe]), CHAIN))).toBe("malformed");
  });
});
