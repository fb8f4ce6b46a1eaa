/**
 * `dsmp service stat <id>`: the golden signals of a service as this node's gateway sees them, per provider
 * and in total — success rate, requests per second, latency p50/p95/p99, retries and breaker state over the
 * last minute — like `linkerd viz stat`. Reads `GET /v1/services/:id/stats` of a running node.
 */
import type { WindowStats } from "../mesh/routing/latency-window.ts";
import type { ServiceStats } from "../mesh/routing/routing-table.ts";
import { CONTROL_API_OPTION, controlApiFailure, controlApiUrl } from "./control-api.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, CommandInput } from "./command-spec.ts";
import { fetchOrExplain } from "./node-daemon.ts";
import { printJson, printLine, printTable } from "./output.ts";
import { parseId } from "./value-parsers.ts";

/** One row of the table: a provider, or the service's total. */
interface StatRow extends WindowStats {
  name: string;
  breaker: string;
}

/** `99.52%`, `-` without requests. */
export function formatSuccess(rate: number | null): string {
  return rate === null ? "-" : `${(rate * 100).toFixed(2)}%`;
}

/** `12.3rps`. */
export function formatRps(rps: number): string {
  return `${rps.toFixed(1)}rps`;
}

/** `0.4ms`, `12ms`, `1.2s`; `-` without samples. */
export function formatLatency(ms: number | null): string {
  if (ms === null) return "-";
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)}s`;
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

/** A PeerId shortened for a terminal: `12D3KooW…x7Yq2Z`. */
function shortPeer(id: string): string {
  return id.length <= 20 ? id : `${id.slice(0, 8)}…${id.slice(-6)}`;
}

export async function serviceStatCommand(input: CommandInput, io: CliIo): Promise<void> {
  const serviceId = parseId(input.argument("id"), "<id>");
  const api = controlApiUrl(input);
  const res = await fetchOrExplain(`${api}/v1/services/${serviceId}/stats`, { signal: io.signal }, "the node's control API");
  if (!res.ok) throw await controlApiFailure(res, api);
  const stats = (await res.json()) as ServiceStats;
  if (input.global.json) {
    printJson(io, stats);
    return;
  }
  if (stats.providers.length === 0 && stats.total.requests === 0) {
    printLine(io, `no calls to service ${serviceId} through this node in the last ${Math.round(stats.windowMs / 1000)} s`);
    return;
  }
  const rows: StatRow[] = [
    ...stats.providers.map((p) => ({ ...p, name: io.isTTY ? shortPeer(p.provider) : p.provider, breaker: p.breaker })),
    { ...stats.total, name: "(total)", breaker: "" },
  ];
  printTable(
    io,
    [
      { header: "provider", cell: (r) => r.name },
      { header: "success", cell: (r) => formatSuccess(r.successRate), alignRight: true },
      { header: "rps", cell: (r) => formatRps(r.rps), alignRight: true },
      { header: "latency_p50", cell: (r) => formatLatency(r.p50Ms), alignRight: true },
      { header: "latency_p95", cell: (r) => formatLatency(r.p95Ms), alignRight: true },
      { header: "latency_p99", cell: (r) => formatLatency(r.p99Ms), alignRight: true },
      { header: "retries", cell: (r) => String(r.retries), alignRight: true },
      { header: "breaker", cell: (r) => r.breaker },
    ],
    rows,
  );
}

export const serviceStatCommands: readonly CliCommand[] = [
  {
    path: ["service", "stat"],
    summary: "success rate, RPS and latency p50/p95/p99 of a service through a node's gateway, per provider",
    description:
      "Golden signals over the last minute as the node's gateway saw them (like `linkerd viz stat`): one row per provider (attempts on it) and a total row (requests, retries included). SUCCESS counts every answer below 500.",
    positionals: [{ name: "id", description: "service id" }],
    options: [CONTROL_API_OPTION],
    examples: ["dsmp service stat 1 --api http://127.0.0.1:4662", "dsmp service stat 1 --json | jq .total.successRate"],
    run: serviceStatCommand,
  },
];
