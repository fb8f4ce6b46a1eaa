/**
 * Open Observability reports (DESIGN §7, docs/protocol.md §10): what one Xnode measured in one window — the
 * calls it served per service, and its probes of other Xnodes — signed with its node key and gossiped on
 * {@link observabilityTopic}.
 *
 * Wire format: one UTF-8 JSON envelope per gossipsub message, at most {@link METRIC_REPORT_MAX_BYTES}:
 *   {"v":1,"report":"<the report's JSON text>","signature":"0x<65 bytes>"}
 * The report travels as a string so that the signed bytes are exactly the bytes received: the signature is
 * EIP-712 over `MetricReport(bytes32 reportHash)` with `reportHash = keccak256(UTF-8 bytes of report)` under
 * the domain {@link observabilityDomain}(chainId, XnodeRegistry). Decoding is split in two so that a receiver
 * runs the cheap checks (report-book.ts) before the signature recovery: {@link parseMetricReport}, then
 * {@link verifyMetricReport}. Pure except for the signature operations.
 */
import { getAddress, hashTypedData, isAddress, keccak256, recoverAddress, stringToBytes, type Address, type Hex, type LocalAccount, type TypedDataDomain } from "viem";
import { z } from "zod";
import { MetricReportInvalidError } from "../errors.ts";

/**
 * Bound on one gossip message. The largest report the schema allows (64 services with 78-digit ids and the
 * longest number forms, 128 probes) takes ≈ 33 KB in its envelope: the bound leaves room, and
 * {@link signMetricReport} refuses anything above it.
 */
export const METRIC_REPORT_MAX_BYTES = 64 * 1024;
/** Bounds of one report's lists: a node reports at most this many services and probed nodes per window. */
export const METRIC_REPORT_MAX_SERVICES = 64;
export const METRIC_REPORT_MAX_PROBES = 128;
/** Proof of Resource verdicts one report may carry (one per node checked). */
export const METRIC_REPORT_MAX_PROOFS = 128;
/** Longest window one report may cover (ms). */
export const METRIC_REPORT_MAX_WINDOW_MS = 10 * 60_000;

/** The gossipsub topic of a chain's observability reports. */
export function observabilityTopic(chainId: number): string {
  return `/dsmp/observability/1/${chainId}`;
}

/** Where reports are valid: one chain, one deployment (its XnodeRegistry, whose nodes may report). */
export interface ObservabilityDomain {
  chainId: number;
  /** The XnodeRegistry of the deployment. */
  registry: Address;
}

export function observabilityDomain(domain: ObservabilityDomain): TypedDataDomain {
  return { name: "DSMP Observability", version: "1", chainId: domain.chainId, verifyingContract: domain.registry };
}

export const METRIC_REPORT_TYPES = { MetricReport: [{ name: "reportHash", type: "bytes32" }] } as const;

/** Calls this node served for one service during the window (self-reported). */
export interface ServedFigures {
  serviceId: string;
  /** Calls answered by the backend or refused with an error, in the window. */
  requests: number;
  /** Of those, the ones that failed: status ≥ 500 or a mesh error (not 4xx: those are the caller's). */
  errors: number;
  /** Latency quantiles of the window's calls (ms); absent when `requests` is 0. */
  p50Ms?: number | undefined;
  p99Ms?: number | undefined;
}

/** This node's probes of another Xnode during the window (libp2p ping). */
export interface ProbeFigures {
  node: Address;
  sent: number;
  ok: number;
  /** Median round trip of the successful probes (ms); absent when `ok` is 0. */
  rttMs?: number | undefined;
}

/** This node's latest Proof of Resource verdict on another Xnode (docs/proof-of-resource.md). */
export interface ProofFigures {
  node: Address;
  /** Unix ms of the verdict. */
  at: number;
  /** Right products within the bound for the CPU advertised then. */
  passed: boolean;
  /** `cpuMillicores` the node advertised when it was challenged. */
  advertisedMillicores: number;
  /** Reference millicores a right answer showed; absent for a wrong or no answer. */
  provenMillicores?: number | undefined;
}

export interface MetricReport {
  chainId: number;
  reporter: Address;
  /** Unix ms. A reporter's windows are accepted in strictly increasing `windowEnd` order. */
  windowStart: number;
  windowEnd: number;
  services: ServedFigures[];
  probes: ProbeFigures[];
  /** Its latest Proof of Resource verdicts; absent when it has none to report. */
  proofs?: ProofFigures[] | undefined;
}

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const ms = z.number().finite().min(0).max(3_600_000);
const address = z
  .string()
  .refine((s) => isAddress(s, { strict: false }), "an address")
  .transform((s) => getAddress(s));
const unixMs = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const reportSchema = z
  .object({
    chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    reporter: address,
    windowStart: unixMs,
    windowEnd: unixMs,
    services: z
      .array(
        z
          .object({ serviceId: z.string().regex(/^[1-9][0-9]{0,77}$/), requests: count, errors: count, p50Ms: ms.optional(), p99Ms: ms.optional() })
          .strict()
          .refine((s) => s.errors <= s.requests, "errors ≤ requests")
          .refine((s) => s.p50Ms === undefined || s.p99Ms === undefined || s.p50Ms <= s.p99Ms, "p50Ms ≤ p99Ms"),
      )
      .max(METRIC_REPORT_MAX_SERVICES)
      .refine((list) => new Set(list.map((s) => s.serviceId)).size === list.length, "one entry per service"),
    probes: z
      .array(
        z
          .object({ node: address, sent: count, ok: count, rttMs: ms.optional() })
          .strict()
          .refine((p) => p.ok <= p.sent, "ok ≤ sent"),
      )
      .max(METRIC_REPORT_MAX_PROBES)
      .refine((list) => new Set(list.map((p) => p.node)).size === list.length, "one entry per probed node"),
    proofs: z
      .array(
        z
          .object({ node: address, at: unixMs, passed: z.boolean(), advertisedMillicores: z.number().int().min(0).max(0xffff_ffff), provenMillicores: count.optional() })
          .strict(),
      )
      .max(METRIC_REPORT_MAX_PROOFS)
      .refine((list) => new Set(list.map((p) => p.node)).size === list.length, "one entry per checked node")
      .optional(),
  })
  .strict()
  .refine((r) => r.windowStart < r.windowEnd, "windowStart < windowEnd")
  .refine((r) => r.windowEnd - r.windowStart <= METRIC_REPORT_MAX_WINDOW_MS, `a window of at most ${METRIC_REPORT_MAX_WINDOW_MS} ms`);

const envelopeSchema = z
  .object({ v: z.literal(1), report: z.string().max(METRIC_REPORT_MAX_BYTES), signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/) })
  .strict();

function reportDigest(domain: ObservabilityDomain, reportText: string): Hex {
  return hashTypedData({
    domain: observabilityDomain(domain),
    types: METRIC_REPORT_TYPES,
    primaryType: "MetricReport",
    message: { reportHash: keccak256(stringToBytes(reportText)) },
  });
}

/**
 * Encodes and signs a report with the reporter's node key (which must be `report.reporter`), for the
 * deployment of `registry` on `report.chainId`. Checks the report against the schema first: a node never
 * publishes what others would refuse.
 */
export async function signMetricReport(account: LocalAccount, registry: Address, report: MetricReport): Promise<Uint8Array> {
  if (getAddress(account.address) !== getAddress(report.reporter)) throw new Error(`report of ${report.reporter} signed by ${account.address}`);
  const checked = reportSchema.safeParse(report);
  if (!checked.success) throw new Error(`report does not match the schema: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const text = JSON.stringify(report);
  const signature = await account.signTypedData({
    domain: observabilityDomain({ chainId: report.chainId, registry }),
    types: METRIC_REPORT_TYPES,
    primaryType: "MetricReport",
    message: { reportHash: keccak256(stringToBytes(text)) },
  });
  const bytes = new TextEncoder().encode(JSON.stringify({ v: 1, report: text, signature }));
  if (bytes.byteLength > METRIC_REPORT_MAX_BYTES) throw new Error(`report of ${bytes.byteLength} bytes exceeds ${METRIC_REPORT_MAX_BYTES}`);
  return bytes;
}

// A byte-order mark is not stripped: it makes the message malformed JSON, as protocol.md §11.1 says.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new MetricReportInvalidError("malformed", `${what} is not JSON`, { cause });
  }
}

/** A report that passed {@link parseMetricReport}: its signature is not checked yet. */
export interface ParsedMetricReport {
  report: MetricReport;
  /** The report exactly as received: what the signature covers. */
  text: string;
  signature: Hex;
}

/**
 * Decodes a gossiped report and checks what needs neither state nor cryptography: size, envelope, schema and
 * chain id (`too-large`, `malformed`, `wrong-chain`).
 */
export function parseMetricReport(bytes: Uint8Array, chainId: number): ParsedMetricReport {
  if (bytes.byteLength > METRIC_REPORT_MAX_BYTES) throw new MetricReportInvalidError("too-large", `${bytes.byteLength} bytes, at most ${METRIC_REPORT_MAX_BYTES}`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (cause) {
    throw new MetricReportInvalidError("malformed", "not UTF-8", { cause });
  }
  const envelope = envelopeSchema.safeParse(parseJson(text, "the envelope"));
  if (!envelope.success) throw new MetricReportInvalidError("malformed", `envelope: ${envelope.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const parsed = reportSchema.safeParse(parseJson(envelope.data.report, "the report"));
  if (!parsed.success) throw new MetricReportInvalidError("malformed", `report: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const report = parsed.data;
  if (report.chainId !== chainId) throw new MetricReportInvalidError("wrong-chain", `report for chain ${report.chainId}, this node is on ${chainId}`);
  return { report, text: envelope.data.report, signature: envelope.data.signature as Hex };
}

/** Checks that the signature recovers to the report's `reporter` under `domain` (`bad-signature`). */
export async function verifyMetricReport(parsed: ParsedMetricReport, domain: ObservabilityDomain): Promise<MetricReport> {
  let signer: Address;
  try {
    signer = await recoverAddress({ hash: reportDigest(domain, parsed.text), signature: parsed.signature });
  } catch (cause) {
    throw new MetricReportInvalidError("bad-signature", "no key recovers from the signature", { cause });
  }
  if (signer !== parsed.report.reporter) throw new MetricReportInvalidError("bad-signature", `signed by ${signer}, report names ${parsed.report.reporter}`);
  return parsed.report;
}

/** {@link parseMetricReport} then {@link verifyMetricReport}. */
export async function openMetricReport(bytes: Uint8Array, domain: ObservabilityDomain): Promise<MetricReport> {
  return verifyMetricReport(parseMetricReport(bytes, domain.chainId), domain);
}
