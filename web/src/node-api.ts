/**
 * The node's JSON control API, as the page uses it. Every read says whether the node answered; callers show
 * "node unreachable" and keep their last data rather than blanking the page when the node is briefly down.
 */
export interface NodeStatus {
  address: string;
  peerId: string;
  multiaddrs: string[];
  peers: number;
  chain: { chainId: number; syncedBlock: string | null; registered: boolean; nodeStatus: string | null };
  serving: { serviceId: string; backend: string }[];
  apiUrl: string;
  gatewayUrl: string;
  metricsUrl: string;
}

export interface ProviderInfo {
  peerId: string;
  node: `0x${string}`;
  multiaddrs: string[];
  load: number;
  pricePerCall: string;
  version: string;
}

export interface ProvidersAnswer {
  serviceId: string;
  providers: ProviderInfo[];
  source: "network" | "cache";
  resolvedAt: number;
}

/**
 * Per-service golden signals from GET /v1/services/:id/stats (docs/mesh.md): the gateway's 1-minute window,
 * `{ serviceId, windowMs, total: {requests, successes, successRate, rps, p50Ms, p95Ms, p99Ms, retries},
 * providers: [{ provider, …same fields, breaker, ewmaMs, outstanding }] }`. Fields are optional: the page
 * shows what exists.
 */
export interface ServiceStats {
  requests?: number;
  successRate?: number;
  rps?: number;
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  uptime?: number;
  /** Per provider (attempts on it), when the node reports them. */
  providers?: ProviderStats[];
}

export interface ProviderStats extends Omit<ServiceStats, "providers" | "uptime"> {
  provider: string;
  breaker?: string;
  ewmaMs?: number;
}

export class NodeApiError extends Error {
  override readonly name = "NodeApiError";
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

export async function nodeGet<T>(apiBase: string, path: string, signal: AbortSignal = AbortSignal.timeout(25_000)): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${apiBase}${path}`, { signal, headers: { accept: "application/json" } });
  } catch (err) {
    throw new NodeApiError(`node unreachable (${(err as Error).message})`);
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    throw new NodeApiError(body.message ?? `node answered ${res.status}`, res.status);
  }
  return (await res.json()) as T;
}

/** One Xnode as the serving node's Open Observability sees it (`GET /v1/observability`, docs/observability.md). */
export interface ObservedNode {
  node: string;
  state: "up" | "down" | "unknown";
  availability?: number;
  rttMs?: number;
  uptime?: number;
  reporters: number;
}

export interface FaultEvent {
  at: number;
  node: string;
  kind: "down" | "recovered";
  availability?: number;
  reporters: number;
}

export interface ObservabilityView {
  at: number;
  observer: string;
  reporters: number;
  intervalMs: number;
  nodes: ObservedNode[];
  faults: FaultEvent[];
}

/** A route the node may not run (a feature it has disabled): `null` on 404. */
async function nodeGetOrNull<T>(apiBase: string, path: string): Promise<T | null> {
  try {
    return await nodeGet<T>(apiBase, path, AbortSignal.timeout(10_000));
  } catch (err) {
    if (err instanceof NodeApiError && err.status === 404) return null;
    throw err;
  }
}

/** Reads the node's network view; `null` when the node runs without Open Observability (404). */
export async function getObservability(apiBase: string): Promise<ObservabilityView | null> {
  return nodeGetOrNull<ObservabilityView>(apiBase, "/v1/observability");
}

/** One Xnode as the serving node's Proof of Resource checks see it (docs/proof-of-resource.md). */
export interface NodeProof {
  node: string;
  advertisedMillicores: number;
  state: "proven" | "failed" | "unproven";
  reason?: string;
  provenMillicores?: number;
  elapsedMs?: number;
  lastVerdictAt?: number;
}

export interface ResourceProofView {
  verifier: string;
  intervalMs: number;
  nodes: NodeProof[];
}

/** Reads the node's Proof of Resource checks; `null` when it runs without them (404). */
export async function getResourceProofs(apiBase: string): Promise<ResourceProofView | null> {
  return nodeGetOrNull<ResourceProofView>(apiBase, "/v1/resource-proofs");
}

/** Reads the stats route; `null` when the node does not report stats yet (404). */
export async function getServiceStats(apiBase: string, serviceId: bigint): Promise<ServiceStats | null> {
  const raw = await nodeGetOrNull<Record<string, unknown>>(apiBase, `/v1/services/${serviceId}/stats`);
  return raw === null ? null : normalizeStats(raw);
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined);

/**
 * Reads the node's shape (`total` + `providers`, docs/mesh.md) and tolerates flat or older spellings (p50,
 * latency.p50, …) so the page survives small API changes.
 */
export function normalizeStats(raw: Record<string, unknown>): ServiceStats {
  const out = normalizeFigures(typeof raw.total === "object" && raw.total !== null ? (raw.total as Record<string, unknown>) : raw);
  if (Array.isArray(raw.providers)) {
    out.providers = (raw.providers as unknown[])
      .filter((p): p is Record<string, unknown> => typeof p === "object" && p !== null && typeof (p as { provider?: unknown }).provider === "string")
      .map((p) => {
        const { uptime: _u, ...figures } = normalizeFigures(p);
        const row: ProviderStats = { provider: p.provider as string, ...figures };
        if (typeof p.breaker === "string") row.breaker = p.breaker;
        const ewma = num(p.ewmaMs);
        if (ewma !== undefined) row.ewmaMs = ewma;
        return row;
      });
  }
  return out;
}

function normalizeFigures(raw: Record<string, unknown>): ServiceStats {
  const lat = (raw.latencyMs ?? raw.latency ?? {}) as Record<string, unknown>;
  const pick = (...vals: unknown[]) => vals.map(num).find((v) => v !== undefined);
  const out: ServiceStats = {};
  const set = (k: Exclude<keyof ServiceStats, "providers">, v: number | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set("requests", pick(raw.requests));
  set("successRate", pick(raw.successRate, raw.success_rate));
  set("rps", pick(raw.rps, raw.requestsPerSecond));
  set("p50Ms", pick(raw.p50Ms, raw.p50, lat.p50));
  set("p95Ms", pick(raw.p95Ms, raw.p95, lat.p95));
  set("p99Ms", pick(raw.p99Ms, raw.p99, lat.p99));
  set("uptime", pick(raw.uptime, raw.uptimeRatio));
  return out;
}
