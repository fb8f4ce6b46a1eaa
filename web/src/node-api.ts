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
 * Per-service figures from GET /v1/services/:id/stats (being added to the node in parallel): success rate,
 * requests per second and latency quantiles in milliseconds. Fields are optional: the page shows what exists.
 */
export interface ServiceStats {
  successRate?: number;
  rps?: number;
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  uptime?: number;
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

/** Reads the stats route; `null` when the node does not report stats yet (404). */
export async function getServiceStats(apiBase: string, serviceId: bigint): Promise<ServiceStats | null> {
  try {
    const raw = await nodeGet<Record<string, unknown>>(apiBase, `/v1/services/${serviceId}/stats`, AbortSignal.timeout(10_000));
    return normalizeStats(raw);
  } catch (err) {
    if (err instanceof NodeApiError && err.status === 404) return null;
    throw err;
  }
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined);

/** Accepts the likely spellings of the stats fields (p50, p50Ms, latency.p50, …) so the page survives small API changes. */
export function normalizeStats(raw: Record<string, unknown>): ServiceStats {
  const lat = (raw.latencyMs ?? raw.latency ?? {}) as Record<string, unknown>;
  const pick = (...vals: unknown[]) => vals.map(num).find((v) => v !== undefined);
  const out: ServiceStats = {};
  const set = <K extends keyof ServiceStats>(k: K, v: number | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set("successRate", pick(raw.successRate, raw.success_rate));
  set("rps", pick(raw.rps, raw.requestsPerSecond));
  set("p50Ms", pick(raw.p50Ms, raw.p50, lat.p50));
  set("p95Ms", pick(raw.p95Ms, raw.p95, lat.p95));
  set("p99Ms", pick(raw.p99Ms, raw.p99, lat.p99));
  set("uptime", pick(raw.uptime, raw.uptimeRatio));
  return out;
}
