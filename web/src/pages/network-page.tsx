/**
 * The network at a glance: nodes and their stake, the most-subscribed services, this node's gateway latency
 * and traffic over time (scraped from its own /metrics), and the fault log.
 */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useNodes, useServices } from "../chain-reads.ts";
import { BarChart, LineChart, type Point } from "../components/charts.tsx";
import { useDsmp } from "../dsmp-context.tsx";
import { formatOpen, shortHex } from "../format.ts";
import { getObservability, type ObservabilityView, type ObservedNode } from "../node-api.ts";
import { bucketDelta, histogramBuckets, histogramQuantile, parsePrometheusText, sumCounter } from "../prometheus-text.ts";
import { NOT_REPORTED } from "./services-page.tsx";
import { proofText, useResourceProofs } from "../resource-proofs.ts";

interface MetricPoint {
  t: number;
  p50?: number | undefined;
  p99?: number | undefined;
  rps: number;
  peers: number;
}

/** Latency quantiles cover the requests of the last minute. */
const WINDOW_MS = 60_000;

/** Scrapes the node's /metrics every few seconds and keeps a short history of derived figures. */
function useGatewayHistory() {
  const { apiBase } = useDsmp();
  const [points, setPoints] = useState<MetricPoint[]>([]);
  // Earlier scrapes: quantiles are taken over the last WINDOW_MS (a sliding window), rates over the last scrape.
  const seen = useRef<{ t: number; buckets: { le: number; count: number }[]; requests: number }[]>([]);
  const scrape = useQuery({
    queryKey: ["metrics-text"],
    queryFn: async () => {
      const res = await fetch(`${apiBase}/metrics`, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`node answered ${res.status}`);
      return { t: Date.now(), text: await res.text() };
    },
    refetchInterval: 3_000,
    retry: 0,
  });
  useEffect(() => {
    if (!scrape.data) return;
    const samples = parsePrometheusText(scrape.data.text);
    const buckets = histogramBuckets(samples, "dsmp_gateway_request_seconds");
    const requests = sumCounter(samples, "dsmp_gateway_requests_total");
    const before = seen.current.at(-1);
    const windowStart = seen.current.find((s) => s.t >= scrape.data.t - WINDOW_MS) ?? before;
    const delta = bucketDelta(buckets, windowStart?.buckets);
    const dt = before ? (scrape.data.t - before.t) / 1000 : 0;
    const p50 = histogramQuantile(0.5, delta);
    const p99 = histogramQuantile(0.99, delta);
    seen.current = [...seen.current.filter((s) => s.t >= scrape.data.t - WINDOW_MS), { t: scrape.data.t, buckets, requests }];
    setPoints((ps) =>
      [
        ...ps,
        {
          t: scrape.data.t,
          p50: p50 === undefined ? undefined : p50 * 1000,
          p99: p99 === undefined ? undefined : p99 * 1000,
          rps: before && dt > 0 ? Math.max(0, requests - before.requests) / dt : 0,
          peers: sumCounter(samples, "dsmp_p2p_peers"),
        },
      ].slice(-100),
    );
  }, [scrape.data]);
  return { points, error: scrape.error };
}

/** The serving node's Open Observability view, refreshed at its report interval. */
function useObservability() {
  const { apiBase } = useDsmp();
  return useQuery({ queryKey: ["observability"], queryFn: () => getObservability(apiBase), refetchInterval: 5_000 });
}

const percent = (ratio: number | undefined): string => (ratio === undefined ? "–" : `${(ratio * 100).toFixed(1)} %`);

/** "up · 99.8 % uptime · 0.4 ms", or why there is nothing to show. */
function observedText(view: ObservabilityView | null | undefined, address: string, pending: boolean): string {
  if (pending) return "…";
  if (!view) return NOT_REPORTED;
  const seen: ObservedNode | undefined = view.nodes.find((n) => n.node.toLowerCase() === address.toLowerCase());
  if (seen === undefined || seen.state === "unknown") return address.toLowerCase() === view.observer.toLowerCase() ? "this node" : NOT_REPORTED;
  const rtt = seen.rttMs === undefined ? "" : ` · ${seen.rttMs.toFixed(1)} ms`;
  return `${seen.state} · ${percent(seen.uptime)} uptime${rtt}`;
}

export function NetworkPage() {
  const nodes = useNodes();
  const observed = useObservability();
  const proofs = useResourceProofs();
  const services = useServices();
  const { points, error } = useGatewayHistory();
  const line = (key: "p50" | "p99" | "rps" | "peers"): Point[] => points.flatMap((p) => (p[key] === undefined ? [] : [{ t: p.t, v: p[key]! }]));
  const leaderboard = [...(services.data ?? [])].sort((a, b) => Number(b.subscribers - a.subscribers) || Number(a.id - b.id)).slice(0, 10);
  return (
    <section aria-labelledby="network-title">
      <h1 id="network-title">Network</h1>
      <div className="grid">
        <BarChart title="Most-subscribed services" unit="subscribers" bars={leaderboard.map((s) => ({ label: `${s.name} #${s.id}`, value: Number(s.subscribers) }))} />
        <BarChart
          title="Operator stake behind each Xnode"
          unit="OPEN"
          bars={(nodes.data ?? []).map((n) => ({ label: shortHex(n.address), value: Number(n.operatorStake / 10n ** 18n) }))}
        />
        <LineChart
          title="Gateway latency through this node (last minute)"
          unit="ms"
          series={[
            { name: "p50", color: "#1d4ed8", points: line("p50") },
            { name: "p99", color: "#b91c1c", points: line("p99") },
          ]}
        />
        <LineChart title="Gateway requests per second through this node" unit="req/s" series={[{ name: "requests", color: "#047857", points: line("rps") }]} />
      </div>
      {error ? <p className="error">node metrics unavailable: {(error as Error).message} — charts keep their last values</p> : null}
      <h2>Xnodes</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Operator</th>
            <th scope="col">Status</th>
            <th scope="col">Resources</th>
            <th scope="col">Slots</th>
            <th scope="col">Operator stake</th>
            <th scope="col">Observed (uptime, round trip)</th>
            <th scope="col">Proof of resource</th>
          </tr>
        </thead>
        <tbody>
          {(nodes.data ?? []).map((n) => (
            <tr key={n.address}>
              <td title={n.address}>{shortHex(n.address)}</td>
              <td title={n.operator}>{shortHex(n.operator)}</td>
              <td>{n.status}</td>
              <td>
                {n.resources.cpuMillicores / 1000} CPU · {n.resources.memoryMiB} MiB · {n.resources.storageGiB} GiB
              </td>
              <td>{n.slots}</td>
              <td>{formatOpen(n.operatorStake)}</td>
              <td data-testid={`observed-${n.address.toLowerCase()}`}>{observedText(observed.data, n.address, observed.isPending)}</td>
              <td data-testid={`proof-${n.address.toLowerCase()}`}>{proofText(proofs.data, n.address, proofs.isPending)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Fault log</h2>
      <FaultLog view={observed.data} pending={observed.isPending} error={observed.error} />
    </section>
  );
}

/** Down / recovered transitions this node derived from the gossiped reports, newest first. */
function FaultLog({ view, pending, error }: { view: ObservabilityView | null | undefined; pending: boolean; error: Error | null }) {
  if (error) return <p className="error" data-testid="fault-log">fault log unavailable: {error.message}</p>;
  if (pending) return <p data-testid="fault-log">…</p>;
  if (!view) return <p data-testid="fault-log">Faults gossiped by the nodes: {NOT_REPORTED} (this node runs without Open Observability).</p>;
  if (view.faults.length === 0) {
    return (
      <p data-testid="fault-log" data-count="0">
        No faults: this node has seen no Xnode go down since it started observing ({view.reporters} node(s) reporting).
      </p>
    );
  }
  return (
    <table data-testid="fault-log" data-count={view.faults.length}>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Xnode</th>
          <th scope="col">Event</th>
          <th scope="col">Availability</th>
          <th scope="col">Reporters</th>
        </tr>
      </thead>
      <tbody>
        {[...view.faults].reverse().map((f) => (
          <tr key={`${f.at}-${f.node}-${f.kind}`}>
            <td>{new Date(f.at).toISOString().replace("T", " ").slice(0, 19)} UTC</td>
            <td title={f.node}>{shortHex(f.node)}</td>
            <td>{f.kind}</td>
            <td>{percent(f.availability)}</td>
            <td>{f.reporters}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
