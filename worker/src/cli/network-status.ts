/**
 * `dsmp network status`: the network as one node sees it through Open Observability (docs/observability.md) —
 * each Xnode up or down (stake-weighted median of the other nodes' probes), its availability, round trip and
 * uptime, the services' reported traffic, and the latest fault log entries. Reads `GET /v1/observability`.
 */
import type { ObservabilityView } from "../observability/observability-service.ts";
import { CONTROL_API_OPTION, controlApiFailure, controlApiUrl } from "./control-api.ts";
import type { CliIo } from "./cli-io.ts";
import type { CliCommand, CommandInput } from "./command-spec.ts";
import { fetchOrExplain } from "./node-daemon.ts";
import { printJson, printLine, printTable } from "./output.ts";
import { formatLatency } from "./service-stat.ts";

/** Fault log entries printed without --json. */
const FAULTS_SHOWN = 10;

const percent = (ratio: number | undefined): string => (ratio === undefined ? "-" : `${(ratio * 100).toFixed(1)}%`);

async function networkStatusCommand(input: CommandInput, io: CliIo): Promise<void> {
  const api = controlApiUrl(input);
  const res = await fetchOrExplain(`${api}/v1/observability`, { signal: io.signal }, "the node's control API");
  if (!res.ok) throw await controlApiFailure(res, api, `the node at ${api} does not run Open Observability`);
  const view = (await res.json()) as ObservabilityView;
  if (input.global.json) {
    printJson(io, view);
    return;
  }
  const age = Math.max(0, Math.round((Date.now() - view.at) / 1000));
  printLine(io, `as seen by ${view.observer}: ${view.reporters} reporting node(s), view ${age} s old (reports every ${view.intervalMs / 1000} s)`);
  if (view.nodes.length === 0) printLine(io, "no other active Xnode reported on yet");
  else {
    printTable(
      io,
      [
        { header: "node", cell: (n) => n.node + (n.node === view.observer ? " (this node)" : "") },
        { header: "state", cell: (n) => n.state },
        { header: "availability", cell: (n) => percent(n.availability), alignRight: true },
        { header: "rtt", cell: (n) => formatLatency(n.rttMs ?? null), alignRight: true },
        { header: "uptime", cell: (n) => percent(n.uptime), alignRight: true },
        { header: "reporters", cell: (n) => String(n.reporters), alignRight: true },
        // Proof of Resource as the checking nodes' verdicts say, weighted by stake (docs/proof-of-resource.md).
        { header: "cpu_proof", cell: (n) => (n.proof.state === "unchecked" ? "-" : `${n.proof.state} (${n.proof.checkers})`) },
      ],
      view.nodes,
    );
  }
  if (view.services.length > 0) {
    printLine(io, "");
    printTable(
      io,
      [
        { header: "service", cell: (s) => s.serviceId },
        { header: "rps", cell: (s) => `${s.requestsPerSecond.toFixed(1)}rps`, alignRight: true },
        { header: "errors", cell: (s) => percent(s.errorRate), alignRight: true },
        { header: "latency_p50", cell: (s) => formatLatency(s.p50Ms ?? null), alignRight: true },
        { header: "latency_p99", cell: (s) => formatLatency(s.p99Ms ?? null), alignRight: true },
        { header: "providers", cell: (s) => String(s.providers.length), alignRight: true },
      ],
      view.services,
    );
  }
  printLine(io, "");
  if (view.faults.length === 0) printLine(io, "fault log: empty");
  else {
    printLine(io, `fault log (latest ${Math.min(FAULTS_SHOWN, view.faults.length)} of ${view.faults.length}):`);
    for (const f of view.faults.slice(-FAULTS_SHOWN)) {
      printLine(io, `  ${new Date(f.at).toISOString()}  ${f.node}  ${f.kind}  (availability ${percent(f.availability)}, ${f.reporters} reporter(s))`);
    }
  }
}

export const networkStatusCommands: readonly CliCommand[] = [
  {
    path: ["network", "status"],
    summary: "Xnodes up or down, availability, round trip, uptime and the fault log, as a node sees the network",
    description:
      "Open Observability: every node probes the others and gossips signed reports; each node aggregates them with a stake-weighted median, so a minority of lying nodes cannot move a figure. Service figures are what the providers report serving (self-reported).",
    options: [CONTROL_API_OPTION],
    examples: ["dsmp network status --api http://127.0.0.1:4662", "dsmp network status --json | jq '.nodes[] | select(.state == \"down\")'"],
    run: networkStatusCommand,
  },
];
