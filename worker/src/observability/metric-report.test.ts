import { describe, expect, it } from "vitest";
import { privateKeyToAccount } from "viem/accounts";
import { keccak256, stringToBytes, hashTypedData } from "viem";
import { MetricReportInvalidError } from "../errors.ts";
import { METRIC_REPORT_MAX_BYTES, METRIC_REPORT_MAX_PROBES, METRIC_REPORT_MAX_PROOFS, METRIC_REPORT_MAX_SERVICES, METRIC_REPORT_TYPES, observabilityDomain, observabilityTopic, openMetricReport, parseMetricReport, signMetricReport, verifyMetricReport, type MetricReport } from "./metric-report.ts";

const alice = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const bob = privateKeyToAccount("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a");
const CHAIN = 31337;
const REGISTRY = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" as const;
const DOMAIN = { chainId: CHAIN, registry: REGISTRY } as const;

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

/** Signs any object as a report, valid or not (what a faulty or hostile node could send). */
async function signRaw(account: typeof alice, report: unknown, domain: { chainId: number; registry: `0x${string}` } = DOMAIN): Promise<Uint8Array> {
  const text = JSON.stringify(report);
  const signature = await account.signTypedData({ domain: observabilityDomain(domain), types: METRIC_REPORT_TYPES, primaryType: "MetricReport", message: { reportHash: keccak256(stringToBytes(text)) } });
  return bytes({ v: 1, report: text, signature });
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(MetricReportInvalidError);
  return (error as MetricReportInvalidError).reason;
}

describe("metric report codec", () => {
  it("round-trips a signed report", async () => {
    const signed = await signMetricReport(alice, REGISTRY, report());
    expect(await openMetricReport(signed, DOMAIN)).toEqual(report());
    expect(observabilityTopic(CHAIN)).toBe("/dsmp/observability/1/31337");
  });

  it("signs EIP-712 MetricReport(bytes32 reportHash) over the exact report text (docs/protocol.md §10.2)", async () => {
    const envelope = JSON.parse(text(await signMetricReport(alice, REGISTRY, report()))) as { v: number; report: string; signature: `0x${string}` };
    expect(envelope.v).toBe(1);
    const digest = hashTypedData({ domain: observabilityDomain(DOMAIN), types: METRIC_REPORT_TYPES, primaryType: "MetricReport", message: { reportHash: keccak256(stringToBytes(envelope.report)) } });
    expect(await alice.sign({ hash: digest })).toBe(envelope.signature);
  });

  it("refuses to sign a report of another node", async () => {
    await expect(signMetricReport(bob, REGISTRY, report())).rejects.toThrow(/signed by/);
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
    const envelope = JSON.parse(text(await signMetricReport(alice, REGISTRY, report()))) as { v: number; report: string; signature: string };
    expect(await reasonOf(openMetricReport(bytes(mutate(envelope)), DOMAIN))).toBe(reason);
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
    ["a duplicated proof", { proofs: [{ node: bob.address, at: 1, passed: true, advertisedMillicores: 1000 }, { node: bob.address, at: 2, passed: false, advertisedMillicores: 1000 }] }],
    ["a proof without its verdict", { proofs: [{ node: bob.address, at: 1, advertisedMillicores: 1000 }] }],
    ["a proof of fractional millicores", { proofs: [{ node: bob.address, at: 1, passed: true, advertisedMillicores: 1.5 }] }],
    ["a proof with an unknown field", { proofs: [{ node: bob.address, at: 1, passed: true, advertisedMillicores: 1000, extra: 1 }] }],
  ])("rejects a signed report with %s as malformed, and refuses to sign it", async (_name, over) => {
    const bad = report(over as Partial<MetricReport>);
    expect(await reasonOf(openMetricReport(await signRaw(alice, bad), DOMAIN))).toBe("malformed");
    await expect(signMetricReport(alice, REGISTRY, bad)).rejects.toThrow(/schema/);
  });

  it("rejects a report signed for another deployment on the same chain (the domain names the XnodeRegistry)", async () => {
    const other = await signRaw(alice, report(), { chainId: CHAIN, registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3" });
    expect(await reasonOf(openMetricReport(other, DOMAIN))).toBe("bad-signature");
  });

  it("parses without recovering: the cheap half accepts what only the signature check refuses", async () => {
    const forged = await signRaw(bob, report()); // names alice, signed by bob
    expect(parseMetricReport(forged, CHAIN).report.reporter).toBe(alice.address);
    expect(await reasonOf(verifyMetricReport(parseMetricReport(forged, CHAIN), DOMAIN))).toBe("bad-signature");
  });

  it("rejects a report for another chain, and a report signed for another chain's domain", async () => {
    expect(await reasonOf(openMetricReport(await signMetricReport(alice, REGISTRY, report({ chainId: 1 })), DOMAIN))).toBe("wrong-chain");
    // Same report text claiming this chain, but signed under chain 1's domain: replaying it here fails.
    const onOne = JSON.parse(text(await signRaw(alice, report({ chainId: 1 }), { chainId: 1, registry: REGISTRY }))) as { report: string; signature: string };
    const claimed = JSON.stringify({ ...(JSON.parse(onOne.report) as object), chainId: CHAIN });
    expect(await reasonOf(openMetricReport(bytes({ v: 1, report: claimed, signature: onOne.signature }), DOMAIN))).toBe("bad-signature");
  });

  it("round-trips Proof of Resource verdicts, and leaves a report without them byte-identical (no proofs field)", async () => {
    const withProofs = report({ proofs: [{ node: bob.address, at: 1_700_000_000_000, passed: false, advertisedMillicores: 64_000, provenMillicores: 4_400 }] });
    expect(await openMetricReport(await signMetricReport(alice, REGISTRY, withProofs), DOMAIN)).toEqual(withProofs);
    expect(JSON.parse(text(await signMetricReport(alice, REGISTRY, report()))).report).not.toContain("proofs");
  });

  it("the largest report the schema allows (64 services, 128 probes, 128 proofs, long numbers) fits in a message", async () => {
    const big = report({
      // 78-digit ids, 16-digit counts and the longest number form JSON has for a value in range (21 characters).
      services: Array.from({ length: METRIC_REPORT_MAX_SERVICES }, (_, i) => ({ serviceId: String(10n ** 77n + BigInt(i)), requests: Number.MAX_SAFE_INTEGER, errors: Number.MAX_SAFE_INTEGER, p50Ms: 1.2345678901234567e-7, p99Ms: 1.2345678901234568e-7 })),
      probes: Array.from({ length: METRIC_REPORT_MAX_PROBES }, (_, i) => ({ node: `0x${(i + 1).toString(16).padStart(40, "a")}` as `0x${string}`, sent: Number.MAX_SAFE_INTEGER, ok: Number.MAX_SAFE_INTEGER, rttMs: 1.2345678901234567e-7 })),
      proofs: Array.from({ length: METRIC_REPORT_MAX_PROOFS }, (_, i) => ({ node: `0x${(i + 1).toString(16).padStart(40, "b")}` as `0x${string}`, at: Number.MAX_SAFE_INTEGER, passed: false, advertisedMillicores: 0xffff_ffff, provenMillicores: Number.MAX_SAFE_INTEGER })),
    });
    const signed = await signMetricReport(alice, REGISTRY, big);
    expect(signed.byteLength).toBeLessThanOrEqual(METRIC_REPORT_MAX_BYTES);
    expect((await openMetricReport(signed, DOMAIN)).probes).toHaveLength(METRIC_REPORT_MAX_PROBES);
    expect((await openMetricReport(signed, DOMAIN)).proofs).toHaveLength(METRIC_REPORT_MAX_PROOFS);
  });

  it("rejects oversized and non-UTF-8 messages before parsing", async () => {
    expect(await reasonOf(openMetricReport(new Uint8Array(METRIC_REPORT_MAX_BYTES + 1), DOMAIN))).toBe("too-large");
    expect(await reasonOf(openMetricReport(new Uint8Array([0xff, 0xfe]), DOMAIN))).toBe("malformed");
    // A UTF-8 byte-order mark before a valid message: malformed, not silently dropped.
    const signed = await signMetricReport(alice, REGISTRY, report());
    expect(await reasonOf(openMetricReport(new Uint8Array([0xef, 0xbb, 0xbf, ...signed]), DOMAIN))).toBe("malformed");
  });
});
